"""`lite-unet-bins`: colorizekit's own model for CPUs, a light U-Net from CIE L to a distribution over
ab bins, with a global-context branch.

Built for two CPU cores and vivid colour (see the README's Models section for measured figures):
- plain 3x3 convolutions with BatchNorm and ReLU (depthwise convolutions do fewer mult-adds but run
  slower per mult-add in PyTorch on the CPU);
- five stride-2 downsamplings, the first in the stem, so no full-resolution layer is ever computed;
- a global-context branch (after Iizuka et al., "Let there be Color!", SIGGRAPH 2016): the deepest
  features are pooled over the whole photo, passed through two linear layers and fused back into
  every position, so that scene-level colour choices agree across the photo;
- a decoder with bilinear upsampling, skip connections and one conv per stage, up to a quarter of
  the input resolution (a second conv per stage cost 16 % of the training speed and pushed the
  parameters past 5 M);
- a `BinsHead`: logits over the ab bins (`colorizekit.color.bins`) at 1/4 resolution. Full resolution comes
  from colorizing's join onto the photo's own L.

Config: `width` (channels of the first stage; the stages have width x 1, 2, 4, 8, 8).
Spatial sizes must be multiples of 32.
"""

from __future__ import annotations

import torch
from torch import nn

from colorizekit.color.bins import BinsHead
from colorizekit.models.blocks import GlobalContext, Up, conv_bn_relu
from colorizekit.models.registry import ModelInfo, register_model

DEFAULT_WIDTH = 32


def _down(in_ch: int, out_ch: int) -> nn.Sequential:
    """A stride-2 3x3 conv, then a 3x3 conv."""
    return nn.Sequential(conv_bn_relu(in_ch, out_ch, stride=2), conv_bn_relu(out_ch, out_ch))


class LiteUNetBins(nn.Module):
    """Normalised L (N, 1, H, W), (L - 50) / 100 -> ab-bin logits (N, Q, H/4, W/4)."""

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        if not isinstance(width, int) or width < 4:
            raise ValueError(f"width must be an integer of at least 4; got {width!r}")
        c1, c2, c3, c4, c5 = width, 2 * width, 4 * width, 8 * width, 8 * width
        self.stem = nn.Sequential(conv_bn_relu(1, c1, stride=2), conv_bn_relu(c1, c1))
        self.down2 = _down(c1, c2)
        self.down3 = _down(c2, c3)
        self.down4 = _down(c3, c4)
        self.down5 = _down(c4, c5)
        self.context = GlobalContext(c5)
        self.up4 = Up(c5, c4, c4)
        self.up3 = Up(c4, c3, c3)
        self.up2 = Up(c3, c2, c2)
        self.head = BinsHead(c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, c1, H/2, W/2)
        s2 = self.down2(x)  # (N, c2, H/4, W/4)
        s3 = self.down3(s2)  # (N, c3, H/8, W/8)
        s4 = self.down4(s3)  # (N, c4, H/16, W/16)
        x = self.down5(s4)  # (N, c5, H/32, W/32)
        x = self.context(x)  # (N, c5, H/32, W/32), global context fused in
        x = self.up4(x, s4)  # (N, c4, H/16, W/16)
        x = self.up3(x, s3)  # (N, c3, H/8, W/8)
        x = self.up2(x, s2)  # (N, c2, H/4, W/4)
        return self.head(x)  # (N, Q, H/4, W/4) bin logits


@register_model(ModelInfo(name="lite-unet-bins", color_mode="ab-bins", size_multiple=32, output_stride=4,
                          description="colorizekit's CPU model: light U-Net with global context, L -> ab bins "
                                      "(vividness control)"))
def lite_unet_bins(width: int = DEFAULT_WIDTH) -> LiteUNetBins:
    return LiteUNetBins(width=width)
