"""Projection heads: identity, linear, SimCLR's MLP, and the fixed reweighting head (Xue et al. 2024).

Every head maps h (batch, in_dim) to z (batch, out_dim), has ``in_dim`` / ``out_dim``, and
``forward_layers(h)``: the output of each of its layers in order, the last being z, so a
probe can be fit on every head layer.
"""

from __future__ import annotations

import math
import numbers
from types import MappingProxyType

import torch
from torch import nn


def _check_dim(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}; pass the feature size")
    return int(value)


def _check_input(h, in_dim: int) -> None:
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"head input must be a torch.Tensor (batch, {in_dim}), got "
                        f"{type(h).__name__}; convert with torch.as_tensor")
    if h.ndim != 2 or h.shape[1] != in_dim:
        raise ValueError(f"head input must be (batch, {in_dim}), got {tuple(h.shape)}; flatten "
                         "the features to 2-D or build the head with the features' in_dim")
    if not h.is_floating_point():  # an integer tensor would be truncated (fixed head) or refused
        raise TypeError(f"head input must be a floating-point tensor, got {h.dtype}; convert "
                        "it with h.float()")


class IdentityHead(nn.Module):
    """No head (the baseline of Chen et al. 2020, Fig. 8): z = h.

    Shapes: h (batch, dim) -> z (batch, dim); ``forward_layers(h)`` returns [h].

    Raises:
        TypeError / ValueError: dim not a positive int (at construction); h not a
            floating-point (batch, dim) tensor (at call).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.in_dim = self.out_dim = _check_dim("dim", dim)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [h]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class LinearHead(nn.Module):
    """Linear projector z = W h (+ b) (Chen et al. 2020, Sec. 4.2 "linear" head).

    Shapes: h (batch, in_dim) -> z (batch, out_dim); W is (out_dim, in_dim).
    ``forward_layers(h)`` returns [z].

    Raises:
        TypeError / ValueError: in_dim / out_dim not positive ints (at construction); h not a
            floating-point (batch, in_dim) tensor (at call).
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = False):
        super().__init__()
        self.in_dim, self.out_dim = _check_dim("in_dim", in_dim), _check_dim("out_dim", out_dim)
        self.linear = nn.Linear(self.in_dim, self.out_dim, bias=bias)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [self.linear(h)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class MLPHead(nn.Module):
    """SimCLR's 2-layer head (Chen et al. 2020, Sec. 2.1): z = W2 ReLU(BN(W1 h)) + b2.

    Shapes: h (batch, in_dim) -> hidden (batch, hidden_dim) -> z (batch, out_dim).
    ``forward_layers(h)`` returns [hidden, z], where hidden is the output after the first
    Linear + BatchNorm1d + ReLU (the head's hidden layer) and z the final Linear's output.
    With ``batch_norm=False`` the first Linear gets a bias instead (BN would cancel it).

    Raises:
        TypeError / ValueError: a size not a positive int (at construction); h not a
            floating-point (batch, in_dim) tensor, or batch < 2 while training with batch norm (at call).
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 128,
                 batch_norm: bool = True):
        super().__init__()
        self.in_dim, self.out_dim = _check_dim("in_dim", in_dim), _check_dim("out_dim", out_dim)
        hidden_dim = _check_dim("hidden_dim", hidden_dim)
        self.fc1 = nn.Linear(self.in_dim, hidden_dim, bias=not batch_norm)
        self.bn = nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()
        self.fc2 = nn.Linear(hidden_dim, self.out_dim)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        if self.training and isinstance(self.bn, nn.BatchNorm1d) and len(h) < 2:
            raise ValueError(f"batch norm needs a batch of at least 2 in training mode, got "
                             f"{len(h)}; call head.eval() to use the running statistics")
        hidden = torch.relu(self.bn(self.fc1(h)))
        return [hidden, self.fc2(hidden)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class FixedReweightingHead(nn.Module):
    """Fixed diagonal head (Xue et al. 2024, ICLR, Sec. 6): z_j = h_j * kappa^(-j), j = 0..dim-1.

    Shapes: h (batch, dim) -> z (batch, dim); ``forward_layers(h)`` returns [z].
    Not trainable: the weights kappa^(-j) are a buffer, the head has no parameters. kappa = 1
    is no head; a larger kappa shrinks later coordinates more, so the loss sees fewer of them
    (a stronger head). For large dim * log(kappa) the last weights underflow to 0.

    Raises:
        TypeError: dim not an int, or kappa not a real number; h not a floating-point tensor
            (at call: an integer one would be truncated).
        ValueError: dim < 1, or kappa not finite and >= 1; h not (batch, dim) (at call).
    """

    def __init__(self, dim: int, kappa: float):
        super().__init__()
        self.in_dim = self.out_dim = _check_dim("dim", dim)
        if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real):
            raise TypeError(f"kappa must be a real number >= 1, got {type(kappa).__name__} {kappa!r}")
        if not math.isfinite(kappa) or kappa < 1:
            raise ValueError(f"kappa must be a finite number >= 1 (1 means no head, larger a "
                             f"stronger head; e.g. 1.05), got {kappa!r}")
        self.kappa = float(kappa)
        # float64 so small weights survive; cast to h's dtype at use
        self.register_buffer("weights", self.kappa ** -torch.arange(self.in_dim, dtype=torch.float64))

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [h * self.weights.to(h.dtype)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


# read-only: a registry, not state
HEADS = MappingProxyType({"identity": IdentityHead, "none": IdentityHead, "linear": LinearHead,
                          "mlp": MLPHead, "fixed": FixedReweightingHead})


def make_head(name: str, in_dim: int, **kwargs) -> nn.Module:
    """A head by name (the heads compared by Chen et al. 2020, Fig. 8, and Xue et al. 2024).

    'identity' / 'none' -> IdentityHead(in_dim); 'linear' -> LinearHead(in_dim, out_dim=...);
    'mlp' -> MLPHead(in_dim, ...); 'fixed' -> FixedReweightingHead(in_dim, kappa=...).
    kwargs go to the class. The head maps (batch, in_dim) to (batch, head.out_dim).

    Raises:
        TypeError: name not a string (or bad kwargs for the class).
        ValueError: unknown name (lists the valid ones), or the class rejects its arguments.
    """
    if not isinstance(name, str):
        raise TypeError(f"head name must be a string, one of {', '.join(HEADS)}; got {name!r}")
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; valid names: {', '.join(HEADS)}")
    return HEADS[name](in_dim, **kwargs)
