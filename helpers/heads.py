"""Projection heads: identity, linear, SimCLR's MLP, and the fixed reweighting head (Xue et al. 2024).

Every head maps h (batch, in_dim) to z (batch, out_dim) and has ``forward_layers(h)``, the
output of each of its layers, last = z, so a probe can be fit on every head layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _check_input(h: torch.Tensor, in_dim: int) -> None:
    if not isinstance(h, torch.Tensor) or h.ndim != 2 or h.shape[1] != in_dim:
        raise ValueError(f"head input must be (batch, {in_dim}), got "
                         f"{tuple(getattr(h, 'shape', ()))}")


class IdentityHead(nn.Module):
    """No head: z = h."""

    def __init__(self, dim: int):
        super().__init__()
        self.in_dim = self.out_dim = dim

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [h]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class LinearHead(nn.Module):
    """z = W h (+ b): a linear projector (Part II studies what it does to the signal)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = False):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [self.linear(h)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class MLPHead(nn.Module):
    """SimCLR's 2-layer head: z = W2 relu(BN(W1 h)) (Chen et al. 2020).

    ``forward_layers`` returns [hidden layer after BN + ReLU (batch, hidden_dim), z (batch, out_dim)].
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 128,
                 batch_norm: bool = True):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.fc1 = nn.Linear(in_dim, hidden_dim, bias=not batch_norm)
        self.bn = nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()
        self.fc2 = nn.Linear(hidden_dim, out_dim)

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        hidden = torch.relu(self.bn(self.fc1(h)))
        return [hidden, self.fc2(hidden)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


class FixedReweightingHead(nn.Module):
    """z_j = h_j * kappa^(-j), j = 0..dim-1: a fixed diagonal head (Xue et al. 2024, Sec. 6).

    Not trainable (a buffer, no parameters). kappa = 1 is no head; a larger kappa makes the loss
    care about fewer coordinates, a stronger head.

    Raises:
        ValueError: kappa not a finite real >= 1, or dim not a positive int.
    """

    def __init__(self, dim: int, kappa: float):
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if (not isinstance(kappa, (int, float)) or isinstance(kappa, bool)
                or not math.isfinite(kappa) or kappa < 1):
            raise ValueError(f"kappa must be a finite number >= 1 (1 means no head, larger a "
                             f"stronger head; the authors' default is 1.05), got {kappa!r}")
        self.in_dim = self.out_dim = dim
        self.kappa = float(kappa)
        self.register_buffer("weights", self.kappa ** -torch.arange(dim, dtype=torch.float64))

    def forward_layers(self, h: torch.Tensor) -> list[torch.Tensor]:
        _check_input(h, self.in_dim)
        return [h * self.weights.to(h.dtype)]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.forward_layers(h)[-1]


HEADS = {"identity": IdentityHead, "none": IdentityHead, "linear": LinearHead,
         "mlp": MLPHead, "fixed": FixedReweightingHead}


def make_head(name: str, in_dim: int, **kwargs) -> nn.Module:
    """A head by name: 'identity' / 'none', 'linear', 'mlp', 'fixed' (kwargs go to its class).

    Raises:
        ValueError: unknown name (lists the valid ones).
    """
    if name not in HEADS:
        raise ValueError(f"unknown head {name!r}; valid: {', '.join(HEADS)}")
    return HEADS[name](in_dim, **kwargs)
