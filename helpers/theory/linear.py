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
  probe that reads one feature from a representation with given per-feature scales, with
  optional label noise; :func:`tuned_ridge_probe_r2` the same at the best penalty of a grid.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq


#: How ``tests/test_theory_linear.py`` checks :func:`ridge_probe_r2` against Monte Carlo: at
#: ``d`` features, within ``abs_tol`` plus ``standard_errors`` Monte Carlo standard errors.
#: Chapter 3 prints it from here, so the page states the tolerance the test uses.
DE_CHECK = {"d": 40, "abs_tol": 0.03, "standard_errors": 4}


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


def _effective_ridge(r2: np.ndarray, n: int, ridge) -> np.ndarray | float:
    """kappa > 0 solving ``ridge = kappa * (1 - df1(kappa) / n)``, df1 = sum r2 / (r2 + kappa).

    ``ridge`` a number or an array of penalties (the answer has its shape). The left side is
    below ``ridge`` at ``kappa = ridge`` and above it at ``ridge + sum(r2) / n``; the root between
    them is found by bisection in log kappa, for every penalty at once."""
    ridges = np.asarray(ridge, dtype=float)
    flat = ridges.reshape(-1)
    out = np.zeros_like(flat)
    interp = flat == 0
    if np.any(interp) and np.count_nonzero(r2) > n:  # min-norm interpolation: ridge -> 0+
        lo0, hi0 = 1e-14 * (r2.max() + 1e-300), r2.sum() / n + 1e-12
        out[interp] = float(brentq(lambda k: k - k * np.sum(r2 / (r2 + k)) / n, lo0, hi0,
                                   xtol=1e-15, rtol=1e-12))
    pos = flat > 0
    if np.any(pos):
        lam = flat[pos]
        lo, hi = np.log(lam), np.log(lam + r2.sum() / n + 1e-12)
        for _ in range(80):  # the bracket shrinks by 2^-80 of its log width
            mid = 0.5 * (lo + hi)
            k = np.exp(mid)[:, None]
            above = (k[:, 0] * (1 - np.sum(r2 / (r2 + k), axis=1) / n)) > lam
            hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
        out[pos] = np.exp(0.5 * (lo + hi))
    out = out.reshape(ridges.shape)
    return float(out) if out.ndim == 0 else out


def _check_probe(r2, target, n, label_noise):
    if not 0 <= target < r2.size:
        raise ValueError(f"target must index one of the {r2.size} features; got {target}")
    if int(n) != n or n < 1:
        raise ValueError(f"need an integer n >= 1 labelled examples; got n={n}")
    if not (np.isfinite(label_noise) and label_noise >= 0):
        raise ValueError(f"label_noise is a standard deviation, finite and >= 0; got "
                         f"{label_noise}")


def _ridge_r2(r2: np.ndarray, target: int, n: int, ridges: np.ndarray,
              label_noise: float) -> np.ndarray:
    """The deterministic-equivalent R^2 at each penalty in ``ridges`` (G,) -> (G,)."""
    noise = label_noise**2
    if r2[target] > 0:
        kept = True
    else:  # the representation lost the target: it is noise to the probe, unexplained at test
        kept, noise, r2 = False, noise + 1.0, np.delete(r2, target)
    kappa = np.atleast_1d(_effective_ridge(r2, n, ridges))
    k = kappa[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        df2 = np.where(kappa > 0, np.sum(r2**2 / (r2 + k) ** 2, axis=1), np.count_nonzero(r2))
        bias = (kappa / (r2[target] + kappa)) ** 2 if kept else np.zeros_like(kappa)
        excess = (bias + noise * df2 / n) / (1 - df2 / n)
    mse = excess + (0.0 if kept else 1.0)
    return np.where(df2 >= n, -np.inf, 1 - mse)


def ridge_probe_r2(strengths, target: int, n: int, ridge: float,
                   label_noise: float = 0.0) -> float:
    r"""Test R^2 of a ridge probe reading feature ``target`` from n labelled clean inputs.

    Model: the representation has independent Gaussian coordinates of std ``strengths`` (d,)
    (any rotation of them gives the same answer); the training label is the target feature's
    latent plus independent noise, ``y = z_target + label_noise * N(0, 1)``; the score is the
    R^2 for the latent itself, ``1 - E[(y_hat - z_target)^2]``. The probe is
    :math:`\hateta = rg\min_eta rac1n\|y - Heta\|^2 + \lambda\|eta\|^2`.

    High-dimensional limit (deterministic equivalent; e.g. Hastie, Montanari, Rosset and
    Tibshirani 2022, Bach 2024): with :math:`\kappa` solving
    :math:`\lambda = \kappa\,(1 - rac1n\sum_i rac{r_i^2}{r_i^2+\kappa})` and
    :math:`\mathrm{df}_2 = \sum_i r_i^4 / (r_i^2 + \kappa)^2`,

    .. math:: \mathrm{MSE} = rac{\kappa^2 / (r_t^2 + \kappa)^2 + \sigma_y^2\,\mathrm{df}_2/n}
                                  {1 - \mathrm{df}_2 / n},
              \qquad R^2 = 1 - \mathrm{MSE}

    (:math:`\sigma_y` = ``label_noise``). ``ridge = 0`` with n < d is the minimum-norm
    interpolator; with n > d it is least squares, which recovers a noiseless target exactly
    (R^2 = 1) whatever the scales. A target of strength 0 is noise to the probe:
    ``MSE = 1 + (1 + label_noise^2) (df2 / n) / (1 - df2 / n)`` over the other features, so
    R^2 < 0 (fitting noise is worse than predicting 0).

    Raises:
        ValueError: bad strengths, target out of range, n < 1, ridge < 0 or label_noise < 0.
    """
    r2 = _vector("strengths", strengths) ** 2
    _check_probe(r2, target, n, label_noise)
    if not (np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"need ridge >= 0; got ridge={ridge}")
    if ridge == 0 and label_noise == 0 and r2[target] > 0 and np.count_nonzero(r2) <= n:
        return 1.0  # least squares, n >= d, noiseless: exact recovery
    return float(_ridge_r2(r2, int(target), int(n), np.array([float(ridge)]),
                           float(label_noise))[0])


def tuned_ridge_probe_r2(strengths, target: int, n: int, ridges,
                         label_noise: float = 0.0) -> tuple[float, float]:
    """The oracle-tuned probe: the best :func:`ridge_probe_r2` over the penalties ``ridges``.

    Returns ``(R^2, penalty)``. This is the penalty an infinitely large validation set would
    pick for this representation; a probe that picks it on a few validation labels can only do
    worse on average (it is an upper bound for the validation-tuned probe's mean R^2, up to the
    limit's finite-size error).

    Raises:
        ValueError: as :func:`ridge_probe_r2`, or an empty / negative penalty list.
    """
    r2 = _vector("strengths", strengths) ** 2
    _check_probe(r2, target, n, label_noise)
    grid = _vector("ridges", ridges)
    if np.any(grid < 0):
        raise ValueError(f"ridges must be >= 0; got {grid}")
    vals = _ridge_r2(r2, int(target), int(n), grid, float(label_noise))
    if label_noise == 0 and r2[target] > 0 and np.count_nonzero(r2) <= n:
        vals = np.where(grid == 0, 1.0, vals)
    k = int(np.argmax(vals))
    return float(vals[k]), float(grid[k])
