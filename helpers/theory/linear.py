r"""Part I's closed forms: the linear spectral-contrastive model and what each layer keeps.

Everything is in the feature basis of :class:`helpers.data.features.FeatureModel`, where the
view covariance ``S`` and cross-view covariance ``M`` are diagonal (``s``, ``m`` below), so every
matrix problem splits into one scalar problem per feature. Derivations: chapter "Linear
contrastive learning and progressive feature weighting"; each result is checked against a
simulation in ``tests/test_theory_linear.py``.

* :func:`feature_moments` - ``m_i = (1 - p_i) phi_i^2``, ``s_i = phi_i^2 + sigma^2``.
* :func:`optimal_gains` - the end-to-end map's gain on feature ``i``, :math:`g_i = \|W e_i\|`:
  ``sqrt(m_i) / s_i`` at the loss's minimum; with weight decay the stable root of a scalar
  stationarity equation.
* :func:`layer_gains` - balanced layers: layer ``l`` of ``L`` has gain ``g_i ** (l / L)``.
* :func:`ridge_probe_r2` - the high-dimensional (deterministic-equivalent) test R^2 of a ridge
  probe that reads one feature from a representation with given per-feature scales.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq


def _vector(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers; got {x!r}")
    return arr


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (number of linear layers); got {depth!r}")
    return int(depth)


def feature_moments(phi, p, sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Diagonals ``(m, s)`` of the cross-view covariance ``M`` and view covariance ``S``, each (d,).

    ``m_i = (1 - p_i) phi_i^2``: only the un-disrupted part of a feature is shared by two views.
    ``s_i = phi_i^2 + sigma^2``: one view holds the whole feature plus augmentation noise.

    Raises:
        ValueError: shapes differ, ``p`` outside [0, 1], ``phi`` or ``sigma`` negative.
    """
    phi, p = _vector("phi", phi), _vector("p", p)
    if phi.shape != p.shape:
        raise ValueError(f"phi and p need the same length; got {phi.size} and {p.size}")
    if np.any(phi < 0) or np.any((p < 0) | (p > 1)) or not sigma >= 0:
        raise ValueError(f"need phi >= 0, 0 <= p <= 1, sigma >= 0; got phi={phi}, p={p}, "
                         f"sigma={sigma}")
    return (1 - p) * phi**2, phi**2 + float(sigma) ** 2


def spectral_loss(W, m, s) -> float:
    r"""Population spectral contrastive loss of the linear map ``W`` (k, d):
    :math:`-2\,\mathrm{tr}(W M W^\top) + \|W S W^\top\|_F^2` with ``M = diag(m)``, ``S = diag(s)``."""
    W = np.asarray(W, dtype=float)
    m, s = _vector("m", m), _vector("s", s)
    if W.ndim != 2 or W.shape[1] != m.size or m.shape != s.shape:
        raise ValueError(f"W must be (k, d) with d = len(m) = len(s); got W {W.shape}, "
                         f"m {m.shape}, s {s.shape}")
    wsw = (W * s) @ W.T
    return float(-2 * np.sum(m * np.sum(W**2, axis=0)) + np.sum(wsw**2))


def optimal_loss(m, s) -> float:
    """Minimum of :func:`spectral_loss` over all ``W`` with at least d rows: ``-sum(m^2 / s^2)``."""
    m, s = _vector("m", m), _vector("s", s)
    return float(-np.sum(np.divide(m**2, s**2, out=np.zeros_like(m), where=s > 0)))


def _stable_root(m: float, s: float, weight_decay: float, depth: int) -> float:
    """The non-zero local minimum of ``F(g) = -2 m g^2 + s^2 g^4 + wd * L * g^(2/L)``, or 0.

    Gradient descent started above it (a standard-size initialisation) settles there, even
    where ``g = 0`` has the lower loss; it exists while ``wd`` is below a threshold."""
    if m <= 0 or s <= 0:
        return 0.0
    g_free = np.sqrt(m) / s  # the minimiser without weight decay; the stable root lies below it

    def dF(g):  # dF/dg; its zero crossing from - to + is a local minimum of F
        return -4 * m * g + 4 * s**2 * g**3 + 2 * weight_decay * g ** (2 / depth - 1)

    grid = g_free * np.logspace(-6, 0, 400)
    vals = dF(grid)
    if vals.min() >= 0:  # F increasing everywhere: weight decay wins, the feature is dropped
        return 0.0
    lo = grid[np.argmin(vals)]
    return float(brentq(dF, lo, g_free, xtol=1e-14, rtol=1e-12))


def optimal_gains(phi, p, sigma: float = 0.0, weight_decay: float = 0.0, depth: int = 2):
    r"""End-to-end gain :math:`g_i = \|W_L \cdots W_1 e_i\|` on each feature at the optimum, (d,).

    Without weight decay ``g_i = sqrt(m_i) / s_i = sqrt(1 - p_i) phi_i / (phi_i^2 + sigma^2)``
    (any depth). With weight decay ``wd`` on every layer (objective ``loss + wd * sum_l
    ||W_l||_F^2``) and balanced layers, each feature solves its own scalar problem
    ``min_g -2 m g^2 + s^2 g^4 + wd * L * g^(2/L)``; its non-zero local minimum is returned (the
    point gradient descent reaches from a standard-size start), or 0 when there is none: weight
    decay has removed the feature (:func:`decay_threshold`).

    Raises:
        ValueError: bad moments (see :func:`feature_moments`), ``weight_decay`` < 0, bad depth.
    """
    m, s = feature_moments(phi, p, sigma)
    depth = _check_depth(depth)
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be finite and >= 0; got {weight_decay}")
    if weight_decay == 0:
        return np.divide(np.sqrt(m), s, out=np.zeros_like(m), where=s > 0)
    return np.array([_stable_root(mi, si, weight_decay, depth) for mi, si in zip(m, s)])


def decay_threshold(phi, p, sigma: float = 0.0) -> np.ndarray:
    r"""Two layers: the weight decay above which feature ``i`` has no non-zero minimum, (d,).

    For L = 2 the stationarity condition is ``2 s^2 g^3 - 2 m g + wd = 0``; the left side's
    minimum over g > 0, at ``g = sqrt(m / (3 s^2))``, is negative iff
    :math:`wd < \frac{4\, m^{3/2}}{3\sqrt{3}\, s}`."""
    m, s = feature_moments(phi, p, sigma)
    return np.divide(4 * m**1.5, 3 * np.sqrt(3) * s, out=np.zeros_like(m), where=s > 0)


def layer_gains(gains, depth: int) -> np.ndarray:
    r"""Gain of the partial map :math:`W_l \cdots W_1` on each feature, l = 0..L: (L + 1, d).

    Balanced layers (:math:`W_{l+1}^\top W_{l+1} = W_l W_l^\top`) give
    :math:`(W_l\cdots W_1)^\top (W_l\cdots W_1) = (W^\top W)^{l/L}`, so row ``l`` is
    ``gains ** (l / L)``; row 0 is the input (all ones)."""
    gains = _vector("gains", gains)
    depth = _check_depth(depth)
    if np.any(gains < 0):
        raise ValueError(f"gains are norms and must be >= 0; got {gains}")
    return gains[None, :] ** (np.arange(depth + 1)[:, None] / depth)


def layer_strengths(phi, gains, depth: int) -> np.ndarray:
    """Standard deviation of feature ``i`` in layer ``l``'s representation of a clean input,
    ``phi_i * g_i ** (l / L)``: (L + 1, d)."""
    return _vector("phi", phi)[None, :] * layer_gains(gains, depth)


def effective_rank(strengths) -> np.ndarray:
    r"""Effective rank of a representation whose features have these standard deviations.

    ``exp(entropy(q))`` with ``q_i = r_i^2 / sum_j r_j^2`` (Roy and Vetterli 2007): d when all
    features are equally strong, 1 when one feature dominates. ``strengths`` (..., d) -> (...)."""
    r2 = np.asarray(strengths, dtype=float) ** 2
    q = r2 / r2.sum(axis=-1, keepdims=True)
    ent = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=-1)
    return np.exp(ent)


def normalise_layer(strengths) -> np.ndarray:
    """Rescale (..., d) strengths so each layer has mean squared strength 1 (total variance d).

    A ridge probe compares features' *relative* scales once the overall scale is fixed; this is
    the fixed scale the chapters use for every layer."""
    r = np.asarray(strengths, dtype=float)
    return r / np.sqrt(np.mean(r**2, axis=-1, keepdims=True))


def _effective_ridge(r2: np.ndarray, n: int, ridge: float) -> float:
    """kappa > 0 solving ``ridge = kappa * (1 - df1(kappa) / n)``, df1 = sum r2 / (r2 + kappa)."""

    def f(kappa):
        return kappa - kappa * np.sum(r2 / (r2 + kappa)) / n - ridge

    if ridge == 0 and np.count_nonzero(r2) <= n:
        return 0.0
    hi = ridge + r2.sum() / n + 1e-12
    lo = max(ridge, 1e-300) if ridge > 0 else 1e-14 * (r2.max() + 1e-300)
    return float(brentq(f, lo, hi, xtol=1e-15, rtol=1e-12))


def ridge_probe_r2(strengths, target: int, n: int, ridge: float) -> float:
    r"""Test R^2 of a ridge probe reading feature ``target`` from n labelled clean inputs.

    Model: the representation has independent Gaussian coordinates of std ``strengths`` (d,)
    (any rotation of them gives the same answer); the label is the target feature's latent,
    ``y = z_target`` (variance 1, no label noise). The probe is
    :math:`\hat\beta = \arg\min_\beta \frac1n\|y - H\beta\|^2 + \lambda\|\beta\|^2`.

    High-dimensional limit (deterministic equivalent; e.g. Hastie, Montanari, Rosset and
    Tibshirani 2022, Bach 2024): with :math:`\kappa` solving
    :math:`\lambda = \kappa\,(1 - \frac1n\sum_i \frac{r_i^2}{r_i^2+\kappa})`,

    .. math:: \mathrm{MSE} = \frac{\kappa^2 / (r_t^2 + \kappa)^2}
                                  {1 - \frac1n \sum_i r_i^4 / (r_i^2 + \kappa)^2},
              \qquad R^2 = 1 - \mathrm{MSE}.

    ``ridge = 0`` with n < d is the minimum-norm interpolator; with n > d it is least squares,
    which recovers a noiseless target exactly (R^2 = 1) whatever the scales. A target of
    strength 0 is noise to the probe: ``MSE = 1 / (1 - df2 / n)`` over the other features, so
    R^2 < 0 (fitting noise is worse than predicting 0).

    Raises:
        ValueError: bad strengths, target out of range, n < 1 or ridge < 0.
    """
    r2 = _vector("strengths", strengths) ** 2
    if not 0 <= target < r2.size:
        raise ValueError(f"target must index one of the {r2.size} features; got {target}")
    if int(n) != n or n < 1 or not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"need an integer n >= 1 and ridge >= 0; got n={n}, ridge={ridge}")
    if r2[target] > 0:
        signal, label_noise = 1.0, 0.0  # y = h_t / r_t exactly
    else:  # the representation lost the target: y is pure noise to the probe
        signal, label_noise, r2 = 0.0, 1.0, np.delete(r2, target)
    kappa = _effective_ridge(r2, int(n), float(ridge))
    if kappa == 0 and label_noise == 0:  # least squares, n >= d: exact recovery
        return 1.0
    df2 = np.sum(r2**2 / (r2 + kappa) ** 2) if kappa > 0 else np.count_nonzero(r2)
    if df2 >= n:
        return -np.inf  # least squares with exactly as many labels as features: infinite risk
    bias = signal * (kappa / (r2[target] + kappa)) ** 2 if signal else 0.0
    mse = (bias + label_noise) / (1 - df2 / n)
    return float(1 - mse)
