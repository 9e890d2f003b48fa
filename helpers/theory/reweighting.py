r"""Part V's closed form: a linear encoder under the fixed reweighting head (Xue et al. 2024, Sec. 6).

Model (the chapter "A head you can tune: fixed reweighting" derives it): a linear encoder
``h = W x`` (W is (p, d)) and the fixed diagonal head ``z = D h`` with
``D = diag(1, k^-1, ..., k^-(p-1))``. The loss is Part I's population spectral contrastive loss of
the end-to-end map ``V = D W``, plus weight decay ``lambda ||W||_F^2`` on the encoder:

.. math:: \mathcal L(W) = -2\,\mathrm{tr}(V M V^\top) + \|V S V^\top\|_F^2
          + \lambda \|W\|_F^2, \qquad V = D W .

Since ``W = D^{-1} V``, the decay is :math:`\lambda \sum_j k^{2j} \|V_{j\cdot}\|^2`: **coordinate j
of z costs k^(2j) times more than coordinate 0**. A feature ``i`` carried by coordinate ``j`` alone
solves its own scalar problem in ``u = g^2`` (``g`` its gain in z):

.. math:: \min_u\; -2 m_i u + s_i^2 u^2 + \lambda k^{2j} u
          \;\Rightarrow\; g_{ij}^2 = \max\!\big(0,\; (m_i - \tfrac12 \lambda k^{2j}) / s_i^2\big),

with loss :math:`-\max(0, m_i - \lambda k^{2j}/2)^2 / s_i^2`; which feature goes to which coordinate
is the assignment problem that minimises the sum. The encoder's gain is the z-gain divided by
the head's weight: :math:`\|W e_i\| = g_i\, k^{j(i)}`. So the head does not change what z keeps
(without decay z's optimum is Part I's ``sqrt(m) / s`` for every k), it changes how h stores it:
**the features the loss puts on late coordinates are amplified in h by k^j**.

Without weight decay (``lambda -> 0``) the optimum is not unique (any rotation of the features
among coordinates); the limit ``lambda -> 0+`` picks the order that sorts features by decreasing
gain ``sqrt(m_i)/s_i``: the strongest feature on coordinate 0 (rearrangement inequality).
Checked against gradient descent in ``tests/test_reweighting.py``.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.optimize import linear_sum_assignment

from helpers.theory.linear import feature_moments, spectral_loss


def check_kappa(kappa) -> float:
    """kappa as a float; ``ValueError`` unless it is a finite real number >= 1."""
    if isinstance(kappa, bool) or not isinstance(kappa, numbers.Real) or not np.isfinite(kappa) \
            or kappa < 1:
        raise ValueError(f"kappa must be a finite number >= 1 (1 = no head, e.g. 1.05); "
                         f"got {kappa!r}")
    return float(kappa)


def head_weights(dim: int, kappa: float) -> np.ndarray:
    """The fixed head's diagonal ``[1, k^-1, ..., k^-(dim-1)]``: (dim,)."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be a positive int (the head's width), got {dim!r}")
    return check_kappa(kappa) ** -np.arange(int(dim), dtype=float)


def fixed_head_optimum(phi, p, sigma: float, kappa: float, weight_decay: float = 0.0,
                       width: int | None = None) -> dict:
    r"""Where each feature lands and how strongly, at the optimum of the model above.

    Args:
        phi, p: (d,) feature strengths and drop probabilities; sigma: augmentation noise.
        kappa: the head's k >= 1. weight_decay: lambda >= 0 on the encoder.
        width: p, the number of coordinates (default d).

    Returns:
        ``coordinate`` (d,) int, the z coordinate carrying feature i (-1: dropped);
        ``z_gain`` (d,) ``||V e_i||``; ``h_gain`` (d,) ``||W e_i|| = z_gain * k^coordinate``;
        ``loss`` the objective's value (spectral loss + decay).

    Raises:
        ValueError: bad kappa, weight_decay < 0, width < d, or bad moments.
    """
    kappa = check_kappa(kappa)
    m, s = feature_moments(phi, p, sigma)
    d = m.size
    width = d if width is None else int(width)
    if width < d:
        raise ValueError(f"width must be >= the number of features ({d}) so every feature has a "
                         f"coordinate; got {width}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be finite and >= 0; got {weight_decay!r}")
    gain_free = np.divide(np.sqrt(m), s, out=np.zeros_like(m), where=s > 0)
    cost_of_coord = kappa ** (2 * np.arange(width)) * weight_decay  # (width,) lambda k^(2j)
    if weight_decay == 0:  # the lambda -> 0+ limit: strongest gain on the cheapest coordinate
        order = np.argsort(-gain_free, kind="stable")
        coordinate = np.empty(d, dtype=int)
        coordinate[order] = np.arange(d)
        u = gain_free**2
    else:
        excess = np.maximum(0.0, m[:, None] - cost_of_coord[None, :] / 2)  # (d, width)
        value = -np.divide(excess**2, s[:, None]**2, out=np.zeros_like(excess),
                           where=s[:, None] > 0)
        rows, cols = linear_sum_assignment(value)
        coordinate = np.full(d, -1)
        coordinate[rows] = cols
        u = np.divide(excess[rows, cols], s[rows]**2, out=np.zeros(d), where=s[rows] > 0)
        u_full = np.zeros(d)
        u_full[rows] = u
        u = u_full
    z_gain = np.sqrt(u)
    coordinate = np.where(z_gain > 0, coordinate, -1)
    h_gain = np.where(coordinate >= 0, z_gain * kappa ** np.maximum(coordinate, 0), 0.0)
    loss = float(np.sum(-2 * m * u + s**2 * u**2) + weight_decay * np.sum(h_gain**2))
    return {"coordinate": coordinate, "z_gain": z_gain, "h_gain": h_gain, "loss": loss}


def fixed_head_gd(phi, p, sigma: float, kappa: float, *, width: int | None = None,
                  weight_decay: float = 0.0, init_scale: float = 1e-3, lr: float = 0.02,
                  steps: int = 20_000, seed: int = 0) -> dict:
    r"""The simulation side: gradient descent on the encoder W under the fixed head.

    Gradient: with ``G = -4 V M + 4 (V S V^T) V S`` (the loss's gradient in V, as in
    :mod:`helpers.deep_linear`), ``dL/dW = D G + 2 lambda W``. W starts at
    ``N(0, init_scale^2 / d)``. Returns ``W`` (width, d), ``V = D W``, the column norms
    ``h_gain = ||W e_i||`` and ``z_gain = ||V e_i||`` (d,), and the final ``loss``.
    """
    kappa = check_kappa(kappa)
    m, s = feature_moments(phi, p, sigma)
    d = m.size
    width = d if width is None else int(width)
    D = head_weights(width, kappa)[:, None]  # (width, 1)
    W = init_scale / np.sqrt(d) * np.random.default_rng(seed).standard_normal((width, d))
    for _ in range(int(steps)):
        V = D * W
        G = -4 * V * m + 4 * ((V * s) @ V.T) @ V * s  # (width, d)
        W = W - lr * (D * G + 2 * weight_decay * W)
    V = D * W
    loss = spectral_loss(V, m, s) + weight_decay * float(np.sum(W**2))
    return {"W": W, "V": V, "h_gain": np.linalg.norm(W, axis=0),
            "z_gain": np.linalg.norm(V, axis=0), "loss": loss}


def probe_r2_by_kappa(phi, p, sigma: float, kappas, weight_decay: float, target: int, n: int,
                      ridge: float) -> np.ndarray:
    """Theory's ridge-probe R^2 for feature ``target`` at (h, z), one row per k: (K, 2).

    Each layer holds feature i with standard deviation ``phi_i * gain_i`` (``h_gain`` or
    ``z_gain`` of :func:`fixed_head_optimum`), rescaled to mean squared strength 1
    (:func:`helpers.theory.linear.normalise_layer`); the probe is
    :func:`helpers.theory.linear.ridge_probe_r2` with n labels and penalty ``ridge``."""
    from helpers.theory.linear import normalise_layer, ridge_probe_r2

    phi = np.asarray(phi, dtype=float)
    out = []
    for kappa in kappas:
        opt = fixed_head_optimum(phi, p, sigma, kappa, weight_decay)
        row = []
        for gain in (opt["h_gain"], opt["z_gain"]):
            strengths = phi * gain
            if not np.any(strengths > 0):
                row.append(0.0)
                continue
            row.append(ridge_probe_r2(normalise_layer(strengths), target, n, ridge))
        out.append(row)
    return np.array(out)
