r"""Gradient descent on deep linear networks for Part I's spectral contrastive loss.

The simulation side of :mod:`helpers.theory.linear`. A batch of B independent problems (one per
feature model, e.g. the points of a sweep) is trained at once: layer ``l`` of every problem is
one slice of a (B, d_l, d_{l-1}) array, so a whole sweep is a handful of batched matmuls per step.

The loss is the *population* loss of the feature model (exact expectations, no sampling noise),
:math:`L(W) = -2\,\mathrm{tr}(W M W^\top) + \|W S W^\top\|_F^2` with ``M = diag(m)``,
``S = diag(s)`` and ``W = W_L \cdots W_1``, plus an optional weight decay
:math:`\lambda \sum_l \|W_l\|_F^2`. Its gradient with respect to the end-to-end map is
:math:`G = -4 W M + 4 (W S W^\top) W S`, and layer ``l`` gets
:math:`(W_L\cdots W_{l+1})^\top G\,(W_{l-1}\cdots W_1)^\top + 2\lambda W_l` (chain rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm


@dataclass
class GDRun:
    r"""What :func:`population_gd` returns.

    Attributes:
        layers: list of L arrays, layer l of shape (B, width, d_in or width).
        steps: (T,) the steps at which the history was recorded.
        loss: (T, B) population loss (without the weight-decay term).
        imbalance: (T, B, L - 1) :math:`\|W_{l+1}^\top W_{l+1} - W_l W_l^\top\|_F`.
        weight_scale: (T, B, L - 1) :math:`\|W_l W_l^\top\|_F`, to read the imbalance against.
    """

    layers: list
    steps: np.ndarray
    loss: np.ndarray
    imbalance: np.ndarray
    weight_scale: np.ndarray

    def layer_gains(self) -> np.ndarray:
        r"""Gain of each partial map :math:`W_l\cdots W_1` on each input feature: (B, L, d)."""
        return partial_gains(self.layers)


def _as_batch(name: str, x, batch: int | None = None) -> np.ndarray:
    arr = np.atleast_2d(np.asarray(x, dtype=float))
    if arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be (d,) or (B, d) finite numbers; got shape {arr.shape}")
    if batch is not None and arr.shape[0] not in (1, batch):
        raise ValueError(f"{name} has {arr.shape[0]} rows; expected 1 or {batch}")
    return arr


def init_layers(batch: int, dims: list[int], init_scale: float, seed: int) -> list[np.ndarray]:
    """Gaussian layers with entries ~ N(0, init_scale^2 / fan_in): (B, d_l, d_{l-1}) each.

    Dividing by fan_in makes ``init_scale`` the typical gain of one layer at initialisation."""
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must be [d_in, d_1, ..., d_L] with positive sizes; got {dims}")
    if not init_scale > 0:
        raise ValueError(f"init_scale must be > 0; got {init_scale}")
    rng = np.random.default_rng(seed)
    return [init_scale / np.sqrt(d_in) * rng.standard_normal((batch, d_out, d_in))
            for d_in, d_out in zip(dims[:-1], dims[1:])]


def _prefixes(layers: list[np.ndarray]) -> list[np.ndarray]:
    """[W_1, W_2 W_1, ..., W_L ... W_1], each (B, d_l, d_0)."""
    out = [layers[0]]
    for W in layers[1:]:
        out.append(W @ out[-1])
    return out


def partial_gains(layers: list[np.ndarray]) -> np.ndarray:
    r"""Column norms of every partial product, i.e. :math:`\|W_l\cdots W_1 e_i\|`: (B, L, d)."""
    return np.stack([np.linalg.norm(P, axis=1) for P in _prefixes(layers)], axis=1)


def _loss(W: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    wsw = (W * s[:, None, :]) @ W.transpose(0, 2, 1)
    return -2 * np.sum(m * np.sum(W**2, axis=1), axis=1) + np.sum(wsw**2, axis=(1, 2))


def _imbalance(layers):
    gaps, scales = [], []
    for lower, upper in zip(layers[:-1], layers[1:]):
        low = lower @ lower.transpose(0, 2, 1)
        gaps.append(np.linalg.norm(upper.transpose(0, 2, 1) @ upper - low, axis=(1, 2)))
        scales.append(np.linalg.norm(low, axis=(1, 2)))
    return np.stack(gaps, axis=-1), np.stack(scales, axis=-1)


def population_gd(m, s, depth: int, width: int, *, init_scale: float, lr, steps: int,
                  weight_decay: float = 0.0, seed: int = 0, n_records: int = 100,
                  progress: bool = True, desc: str = "gradient descent") -> GDRun:
    """Train B deep linear nets ``d -> width -> ... -> width`` by plain gradient descent.

    Args:
        m, s: (d,) or (B, d) diagonals of M and S (``helpers.theory.linear.feature_moments``).
        depth: number of layers L >= 1.
        width: output size of every layer (>= d keeps every feature representable).
        init_scale: typical gain of one layer at initialisation (small = the implicit-bias regime).
        lr: step size, a scalar or one per problem (B,).
        steps: gradient steps.
        weight_decay: lambda of the penalty lambda * sum_l ||W_l||_F^2.
        n_records: how many times the history is recorded (evenly spaced, last step included).

    Raises:
        ValueError: inconsistent shapes, non-positive lr / steps / depth / width.
    """
    m = _as_batch("m", m)
    s = _as_batch("s", s, m.shape[0])
    batch = max(m.shape[0], s.shape[0])
    m, s = np.broadcast_to(m, (batch, m.shape[1])), np.broadcast_to(s, (batch, m.shape[1]))
    if m.shape != s.shape:
        raise ValueError(f"m and s need the same number of features; got {m.shape}, {s.shape}")
    lr = np.broadcast_to(np.asarray(lr, dtype=float), (batch,)).reshape(batch, 1, 1)
    if np.any(lr <= 0) or steps < 1 or depth < 1 or width < 1 or weight_decay < 0:
        raise ValueError("need lr > 0, steps >= 1, depth >= 1, width >= 1, weight_decay >= 0")
    d = m.shape[1]
    layers = init_layers(batch, [d] + [width] * depth, init_scale, seed)
    record_at = set(np.unique(np.linspace(0, steps, n_records).astype(int)).tolist())
    hist_steps, losses, gaps, scales = [], [], [], []
    for step in tqdm(range(steps + 1), desc=desc, disable=not progress, mininterval=1.0):
        prefixes = _prefixes(layers)
        W = prefixes[-1]
        if step in record_at:
            hist_steps.append(step)
            losses.append(_loss(W, m, s))
            if depth > 1:
                gap, scale = _imbalance(layers)
                gaps.append(gap)
                scales.append(scale)
        if step == steps:
            break
        wsw = (W * s[:, None, :]) @ W.transpose(0, 2, 1)
        G = -4 * W * m[:, None, :] + 4 * (wsw @ W) * s[:, None, :]  # dL/dW, (B, width, d)
        suffix = G  # (W_L ... W_{l+1})^T G, built from the top down
        grads = [None] * depth
        for l in range(depth - 1, -1, -1):
            below = prefixes[l - 1] if l > 0 else None
            grads[l] = suffix @ below.transpose(0, 2, 1) if below is not None else suffix
            suffix = layers[l].transpose(0, 2, 1) @ suffix
        layers = [W_l - lr * (g + 2 * weight_decay * W_l) for W_l, g in zip(layers, grads)]
    empty = np.zeros((len(hist_steps), batch, 0))
    return GDRun(layers=layers, steps=np.array(hist_steps), loss=np.array(losses),
                 imbalance=np.array(gaps) if gaps else empty,
                 weight_scale=np.array(scales) if scales else empty)
