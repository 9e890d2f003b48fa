"""Networks whose every layer can be probed: deep linear nets, ReLU MLPs (Parts I-III), and
ResNet-18 with the CIFAR stem (He et al. 2016; 3x3 stem conv, no max-pool), from Chapter 1 on."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F


def _check_2d(x: torch.Tensor, dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"input must be (batch, {dim}), got {tuple(getattr(x, 'shape', ()))}")


class DeepLinearNet(nn.Module):
    """f(x) = W_L ... W_1 x, no biases; ``forward_layers`` gives every layer's output.

    Args:
        dims: [d_in, d_1, ..., d_L]. init_scale: if given, each weight ~ N(0, init_scale^2)
            (small initialisation, for the implicit-bias experiments of Part I).
    """

    def __init__(self, dims: list[int], bias: bool = False, init_scale: float | None = None):
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"dims needs at least [d_in, d_out], got {dims}")
        self.dims = list(dims)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(dims, dims[1:]))
        if init_scale is not None:
            for layer in self.layers:
                nn.init.normal_(layer.weight, std=init_scale)

    def forward_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_2d(x, self.dims[0])
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(x)[-1]

    def end_to_end(self) -> torch.Tensor:
        """The product W_L ... W_1, shape (d_L, d_in)."""
        prod = self.layers[0].weight
        for layer in self.layers[1:]:
            prod = layer.weight @ prod
        return prod


class ReLUMLP(DeepLinearNet):
    """Like :class:`DeepLinearNet` with a ReLU after every layer but the last (biases on)."""

    def __init__(self, dims: list[int], bias: bool = True, init_scale: float | None = None):
        super().__init__(dims, bias=bias, init_scale=init_scale)

    def forward_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        _check_2d(x, self.dims[0])
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
            outs.append(x)
        return outs


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut (1x1 conv + BN when the shape changes), ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 with the CIFAR stem; ``width`` scales the channels (64 = standard, 512-d output).

    ``forward(x)`` gives h (batch, 8 * width); ``forward_features(x)`` gives every stage's
    globally average-pooled output {'stage1': (batch, w), ..., 'stage4': (batch, 8w)}.
    """

    def __init__(self, width: int = 64, in_channels: int = 3):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.in_channels = in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, c_in = [], width
        for mult, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            stages.append(nn.Sequential(BasicBlock(c_in, mult * width, stride),
                                        BasicBlock(mult * width, mult * width, 1)))
            c_in = mult * width
        self.stages = nn.ModuleList(stages)
        self.out_dim = 8 * width

    def forward_features(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"input must be (batch, {self.in_channels}, H, W), got "
                             f"{tuple(getattr(x, 'shape', ()))}")
        x = self.stem(x)
        feats = OrderedDict()
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            feats[f"stage{i}"] = x.mean(dim=(2, 3))  # global average pool
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)["stage4"]
