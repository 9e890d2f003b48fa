"""helpers.ridge_cv: leave-one-out ridge against scikit-learn's RidgeCV and a plain refitting loop."""

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from helpers.ridge_cv import loo_ridge

GRID = np.geomspace(1e-4, 1e2, 31)


def _naive_loo(H, y, ridge):
    """Refit on n - 1 examples for each held-out one (the same alpha = n * ridge, as the hat
    matrix formula and RidgeCV use)."""
    n = len(y)
    errs = []
    for i in range(n):
        keep = np.arange(n) != i
        beta = np.linalg.solve(H[keep].T @ H[keep] + n * ridge * np.eye(H.shape[1]),
                               H[keep].T @ y[keep])
        errs.append((y[i] - H[i] @ beta) ** 2)
    return np.mean(errs)


@pytest.mark.parametrize("n, k", [(15, 20), (40, 20), (5, 3)])
def test_loo_ridge_matches_sklearn_and_a_refitting_loop(n, k):
    rng = np.random.default_rng(n + k)
    H = rng.standard_normal((n, k)) * np.exp(rng.normal(0, 0.7, k))
    y = H[:, 0] / 2 + 0.3 * rng.standard_normal(n)
    beta, ridge, loo = loo_ridge(H, y, GRID)
    for j in (0, 10, 30):
        assert loo[j] == pytest.approx(_naive_loo(H, y, GRID[j]), rel=1e-6)
    ref = RidgeCV(alphas=n * GRID, fit_intercept=False).fit(H, y)
    assert ridge == pytest.approx(ref.alpha_ / n, rel=1e-9)
    np.testing.assert_allclose(beta, ref.coef_, rtol=1e-6, atol=1e-9)


def test_loo_ridge_prefers_a_small_penalty_on_noiseless_data_and_a_large_one_on_noise():
    rng = np.random.default_rng(0)
    H = rng.standard_normal((30, 5))
    assert loo_ridge(H, H @ np.ones(5), GRID)[1] == GRID[0]
    noise = [loo_ridge(H, rng.standard_normal(30), GRID)[1] for _ in range(9)]
    assert np.median(noise) > 1.0  # pure-noise labels: shrink towards predicting 0


@pytest.mark.parametrize("args, match", [
    ((np.ones((1, 3)), np.ones(1), GRID), "n >= 2"),
    ((np.ones((4, 3)), np.ones(3), GRID), "y"),
    ((np.ones((4, 3)), np.ones(4), [0.0, 1.0]), "> 0"),
    ((np.ones((4, 3)), np.ones(4), []), "non-empty"),
])
def test_loo_ridge_bad_input_raises(args, match):
    with pytest.raises(ValueError, match=match):
        loo_ridge(*args)
