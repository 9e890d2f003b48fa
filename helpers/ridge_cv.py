r"""Ridge regression with its penalty chosen by leave-one-out cross-validation (Chapter 3's probe).

A probe with a fixed penalty compares layers at a penalty that suits one layer better than
another; a practitioner tunes it on held-out labels instead. Leave-one-out (LOO) is the
validation split that wastes no labels: each labelled example in turn is the validation set of
a fit on the others. For ridge it costs one eigendecomposition for the whole penalty grid:
with :math:`K = HH^\top` and :math:`\alpha = n\lambda`, the hat matrix is
:math:`S = K(K + \alpha I)^{-1}` and the LOO residual of example i is
:math:`[(I - S)y]_i / (I - S)_{ii}` (e.g. Hastie, Tibshirani and Friedman, *Elements of
Statistical Learning*, eq. 7.52). ``sklearn.linear_model.RidgeCV`` (``fit_intercept=False``,
``alphas = n * ridges``) computes the same thing and is the test's oracle.

The test set is never touched: the penalty is chosen from the n labelled examples alone.
"""

from __future__ import annotations

import numpy as np


def loo_ridge(H, y, ridges) -> tuple[np.ndarray, float, np.ndarray]:
    r"""Fit :math:`\min_\beta \frac1n\|y - H\beta\|^2 + \lambda\|\beta\|^2` at the penalty in
    ``ridges`` with the smallest leave-one-out squared error.

    Args:
        H: (n, k) representations of the labelled examples, n >= 2.
        y: (n,) their labels.
        ridges: (G,) candidate penalties :math:`\lambda > 0`.

    Returns:
        ``(beta, ridge, loo_mse)``: the (k,) coefficients refitted on all n examples at the chosen
        penalty, that penalty, and the (G,) LOO mean squared error of every candidate.

    Raises:
        ValueError: shapes that do not match, fewer than 2 examples, or a penalty <= 0 (a zero
            penalty interpolates and its LOO error is 0 / 0 when n <= k).
    """
    H, y = np.asarray(H, dtype=float), np.asarray(y, dtype=float)
    grid = np.atleast_1d(np.asarray(ridges, dtype=float))
    if H.ndim != 2 or y.shape != (H.shape[0],) or H.shape[0] < 2:
        raise ValueError(f"need H (n, k) and y (n,) with n >= 2; got H {H.shape}, y {y.shape}")
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError(f"ridges must be a non-empty list of finite penalties > 0; got {ridges!r}")
    n = H.shape[0]
    evals, U = np.linalg.eigh(H @ H.T)  # K = U diag(evals) U^T, (n,), (n, n)
    evals = np.clip(evals, 0.0, None)
    alphas = n * grid
    keep = alphas[:, None] / (evals[None, :] + alphas[:, None])  # eigenvalues of I - S, (G, n)
    resid = (keep * (U.T @ y)) @ U.T  # (I - S) y for every penalty, (G, n)
    diag = keep @ (U**2).T  # diagonal of I - S, (G, n)
    loo_mse = np.mean((resid / diag) ** 2, axis=1)
    best = int(np.argmin(loo_mse))
    k = H.shape[1]
    beta = np.linalg.solve(H.T @ H + alphas[best] * np.eye(k), H.T @ y)
    return beta, float(grid[best]), loo_mse
