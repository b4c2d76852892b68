"""`jkspnet-lab`: the design's U-Net-like net from CIE L to ab through a 313-bin softmax head
(design/jkspnet-lab.md).

Layer for layer as the design: a stride-1 block at 64 channels, three stride-2 blocks to 128, 256 and
512 channels (ReLU after each conv, BatchNorm last), three dilated (2) 3x3 convs at 512, three
ConvTranspose (4, stride 2) upsamplings each followed by a concatenated skip and two convs, then a
1x1 conv to 313 channels (the in-gamut quantised ab pairs of Zhang et al. 2016), a softmax over
channels, and a bias-free 1x1 conv to 2 channels, which acts as a learned expectation over the bins.
17,639,339 parameters. Spatial sizes must be multiples of 8 (three stride-2 convs).
"""

from __future__ import annotations

import torch
from torch import nn

from colorizekit.models.blocks import design_encoder
from colorizekit.models.registry import ModelInfo, register_model

AB_BINS = 313  # in-gamut quantised (a, b) pairs on a grid of 10 (Zhang et al. 2016)


def _conv_relu(in_ch: int, out_ch: int, *, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=dilation, dilation=dilation),
        nn.ReLU(inplace=True),
    ]


def _block_same(in_ch: int, out_ch: int) -> nn.Sequential:
    """Two 3x3 convs with ReLU, then BatchNorm (the design's conv_2xs and conv_up)."""
    return nn.Sequential(*_conv_relu(in_ch, out_ch), *_conv_relu(out_ch, out_ch), nn.BatchNorm2d(out_ch))


def _block_down(in_ch: int, out_ch: int) -> nn.Sequential:
    """A stride-2 3x3 conv, two 3x3 convs, ReLU after each, then BatchNorm (the design's conv_2x)."""
    return nn.Sequential(
        *_conv_relu(in_ch, in_ch, stride=2),
        *_conv_relu(in_ch, out_ch),
        *_conv_relu(out_ch, out_ch),
        nn.BatchNorm2d(out_ch),
    )


def _block_dilated(ch: int) -> nn.Sequential:
    """Three dilated (2) 3x3 convs with ReLU, then BatchNorm (the design's conv_3xdil)."""
    layers = [m for _ in range(3) for m in _conv_relu(ch, ch, dilation=2)]
    return nn.Sequential(*layers, nn.BatchNorm2d(ch))


def _up(in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1)


class JKSPNetLab(nn.Module):
    """Normalised L (N, 1, H, W), (L - 50) / 100 -> normalised ab (N, 2, H, W), ab / 110."""

    def __init__(self) -> None:
        super().__init__()
        self.input = nn.Sequential()
        self.enc1 = _block_same(1, 64)
        self.enc2 = _block_down(64, 128)
        self.enc3 = _block_down(128, 256)
        self.enc4 = _block_down(256, 512)
        self.convR = nn.Sequential(_block_dilated(512))
        self.ups1 = _up(512, 256)
        self.dec1 = _block_same(512, 256)
        self.ups2 = _up(256, 128)
        self.dec2 = _block_same(256, 128)
        self.ups3 = _up(128, 64)
        self.dec3 = _block_same(128, 64)
        self.abp = nn.Conv2d(64, AB_BINS, kernel_size=1)
        self.softmax = nn.Softmax(dim=1)
        self.out = nn.Conv2d(AB_BINS, 2, kernel_size=1, bias=False)
        self.print_cat = nn.Sequential()  # the design's identity hook on each concatenation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2, x3, x = design_encoder(self, x)  # (N, 64, H, W) ... (N, 512, H/8, W/8)
        x = self.convR(x)  # (N, 512, H/8, W/8)
        x = self.ups1(x)  # (N, 256, H/4, W/4)
        x = self.dec1(self.print_cat(torch.cat([x, x3], dim=1)))  # (N, 256, H/4, W/4)
        x = self.ups2(x)  # (N, 128, H/2, W/2)
        x = self.dec2(self.print_cat(torch.cat([x, x2], dim=1)))  # (N, 128, H/2, W/2)
        x = self.ups3(x)  # (N, 64, H, W)
        x = self.dec3(self.print_cat(torch.cat([x, x1], dim=1)))  # (N, 64, H, W)
        x = self.abp(x)  # (N, 313, H, W) bin logits
        return self.out(self.softmax(x))  # (N, 2, H, W)


@register_model(ModelInfo(name="jkspnet-lab", color_mode="lab", size_multiple=8,
                          description="U-Net-like, L -> ab via a 313-bin softmax (design/jkspnet-lab.md)"))
def jkspnet_lab() -> JKSPNetLab:
    return JKSPNetLab()
