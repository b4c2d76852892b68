"""Building blocks that more than one model uses: conv + BatchNorm + ReLU, the design's encoder, the
decoder's upsampling stage, and the global-context branch (after Iizuka et al., "Let there be Color!", SIGGRAPH 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_ch: int, out_ch: int, *, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """A bias-free kxk conv ("same" padding for odd k), BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


def design_encoder(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The design's four-stage encoder, as both of its U-Nets (jkspnet-lab, unet-rgb) run it on their own
    `input`, `enc1` ... `enc4` modules: (N, 1, H, W) -> the four stages' outputs."""
    x = model.input(x)  # (N, 1, H, W)
    x1 = model.enc1(x)  # (N, 64, H, W)
    x2 = model.enc2(x1)  # (N, 128, H/2, W/2)
    x3 = model.enc3(x2)  # (N, 256, H/4, W/4)
    return x1, x2, x3, model.enc4(x3)  # ..., (N, 512, H/8, W/8)


class Up(nn.Module):
    """Bilinear upsampling to the skip's size, concatenation with the skip, a 3x3 conv."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = conv_bn_relu(in_ch + skip_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)  # (N, in, h, w)
        return self.conv(torch.cat([x, skip], dim=1))  # (N, out, h, w)


class GlobalContext(nn.Module):
    """Pool features over the whole photo, two linear layers, and fuse the result into every position
    (concatenation and a 1x1 conv)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(ch, ch), nn.ReLU(inplace=True), nn.Linear(ch, ch), nn.ReLU(inplace=True))
        self.fuse = conv_bn_relu(2 * ch, ch, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.mlp(x.mean(dim=(2, 3)))  # (N, C)
        g = g[:, :, None, None].expand_as(x)  # (N, C, h, w)
        return self.fuse(torch.cat([x, g], dim=1))  # (N, C, h, w)
