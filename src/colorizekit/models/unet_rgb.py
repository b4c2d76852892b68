"""`unet-rgb`: the design's U-Net from a grayscale image to RGB (design/unet-rgb.md).

Layer for layer as the design: an encoder of five double-conv blocks (64-128-256-512-1024 channels,
3x3 conv + BatchNorm + ReLU twice, 2x2 max-pool between), a decoder of bilinear x2 upsampling plus a
2x2 'same' conv, concatenated skips and double-conv blocks, and a 1x1 conv to 3 channels.
31,042,499 parameters. Spatial sizes must be multiples of 16 (four max-pools).
"""

from __future__ import annotations

import torch
from torch import nn

from colorizekit.models.blocks import design_encoder
from colorizekit.models.registry import ModelInfo, register_model


def _double_conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=3, padding="same"),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, kernel_size=3, padding="same"),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def _up_conv(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(in_ch, out_ch, kernel_size=2, padding="same"),
    )


class UNetRGB(nn.Module):
    """Grayscale (N, 1, H, W) in [0, 1] -> RGB (N, 3, H, W), nominally [0, 1] (unclamped)."""

    def __init__(self) -> None:
        super().__init__()
        self.input = nn.Sequential()
        self.enc1 = _double_conv(1, 64)
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), _double_conv(64, 128))
        self.enc3 = nn.Sequential(nn.MaxPool2d(2), _double_conv(128, 256))
        self.enc4 = nn.Sequential(nn.MaxPool2d(2), _double_conv(256, 512))
        self.enc5 = nn.Sequential(nn.MaxPool2d(2), _double_conv(512, 1024))
        self.dec1 = _up_conv(1024, 512)
        self.dec2 = nn.Sequential(_double_conv(1024, 512), _up_conv(512, 256))
        self.dec3 = nn.Sequential(_double_conv(512, 256), _up_conv(256, 128))
        self.dec4 = nn.Sequential(_double_conv(256, 128), _up_conv(128, 64))
        self.dec5 = _double_conv(128, 64)
        self.out = nn.Conv2d(64, 3, kernel_size=1, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2, x3, x4 = design_encoder(self, x)  # (N, 64, H, W) ... (N, 512, H/8, W/8)
        x5 = self.enc5(x4)  # (N, 1024, H/16, W/16)
        x = self.dec1(x5)  # (N, 512, H/8, W/8)
        x = self.dec2(torch.cat([x, x4], dim=1))  # (N, 256, H/4, W/4)
        x = self.dec3(torch.cat([x, x3], dim=1))  # (N, 128, H/2, W/2)
        x = self.dec4(torch.cat([x, x2], dim=1))  # (N, 64, H, W)
        x = self.dec5(torch.cat([x, x1], dim=1))  # (N, 64, H, W)
        return self.out(x)  # (N, 3, H, W)


@register_model(ModelInfo(name="unet-rgb", color_mode="rgb", size_multiple=16,
                          description="U-Net, grayscale -> RGB (design/unet-rgb.md)"))
def unet_rgb() -> UNetRGB:
    return UNetRGB()
