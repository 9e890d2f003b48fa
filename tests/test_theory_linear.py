"""Part I's closed forms (helpers.theory.linear) against simulations and independent oracles.

Tolerances are stated per test; each closed form is compared with something computed another
way (Monte Carlo, PyTorch autograd, gradient descent), so a wrong formula fails a test.
"""

import numpy as np
import pytest
import torch

from helpers.data.features import FeatureModel
from helpers.deep_linear import init_layers, partial_gains, population_gd
from helpers.experiments.feature_weighting_report import (EXPONENT_RULE_TESTS,
                                                          representation_spectrum)
from helpers.losses import spectral_contrastive
from helpers.theory import linear as th

PHI = (1.4, 1.0, 0.7)
P = (0.6, 0.0, 0.2)
SIGMA = 0.5


def test_feature_moments_match_monte_carlo():
    """M and S from 400k sampled pairs: diagonals within 0.01, off-diagonals within 0.01."""
    model = FeatureModel(PHI, P, SIGMA)
    x, xp = model.sample_pairs(400_000, torch.Generator().manual_seed(0))
    S_mc = (x.T @ x / len(x)).numpy()
    M_mc = (x.T @ xp / len(x)).numpy()
    m, s = th.feature_moments(PHI, P, SIGMA)
    np.testing.assert_allclose(np.diag(S_mc), s, atol=0.01 * s.max())
    np.testing.assert_allclose(np.diag(M_mc), m, atol=0.01 * s.max())
    off = ~np.eye(3, dtype=bool)
    assert np.abs(S_mc[off]).max() < 0.01 and np.abs(M_mc[off]).max() < 0.01


def test_spectral_loss_matches_batch_estimate():
    """Population loss of a fixed W vs helpers.losses.spectral_contrastive on sampled pairs."""
    W = np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]])
    m, s = th.feature_moments(PHI, P, SIGMA)
    model = FeatureModel(PHI, P, SIGMA)
    gen = torch.Generator().manual_seed(1)
    Wt = torch.tensor(W)
    estimates = []
    for _ in range(200):
        x, xp = model.sample_pairs(512, gen)
        estimates.append(float(spectral_contrastive(x @ Wt.T, xp @ Wt.T)))
    mc, se = np.mean(estimates), np.std(estimates) / np.sqrt(len(estimates))
    assert abs(th.spectral_loss(W, m, s) - mc) < 4 * se + 1e-3


def test_optimal_gains_minimise_the_loss():
    """W = diag(g*) reaches optimal_loss, and random perturbations only increase the loss."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    g = th.optimal_gains(PHI, P, SIGMA)
    np.testing.assert_allclose(g, np.sqrt(m) / s)
    W = np.diag(g)
    assert th.spectral_loss(W, m, s) == pytest.approx(th.optimal_loss(m, s), rel=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert th.spectral_loss(W + 0.05 * rng.standard_normal(W.shape), m, s) > \
            th.optimal_loss(m, s)


def test_gradient_matches_autograd():
    """population_gd's hand-written gradient (one step) equals PyTorch autograd's, to 1e-10."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    lr, wd = 1e-3, 0.07
    start = population_gd(m, s, 3, 5, init_scale=0.8, lr=lr, steps=1, weight_decay=0.0,
                          seed=3, progress=False)
    # rebuild the initial layers (same seed) and take one autograd step
    from helpers.deep_linear import init_layers
    layers = [torch.tensor(W[0], requires_grad=True) for W in init_layers(1, [3, 5, 5, 5], 0.8, 3)]
    W = layers[2] @ layers[1] @ layers[0]
    Mt, St = torch.diag(torch.tensor(m)), torch.diag(torch.tensor(s))
    loss = -2 * torch.trace(W @ Mt @ W.T) + ((W @ St @ W.T) ** 2).sum()
    grads = torch.autograd.grad(loss, layers)
    for W_np, W0, g in zip(start.layers, layers, grads):
        np.testing.assert_allclose(W_np[0], (W0 - lr * g).detach().numpy(), atol=1e-10)
    # weight decay adds 2 * wd * W_l to each layer's gradient
    decayed = population_gd(m, s, 3, 5, init_scale=0.8, lr=lr, steps=1, weight_decay=wd,
                            seed=3, progress=False)
    for W_np, W0, g in zip(decayed.layers, layers, grads):
        np.testing.assert_allclose(W_np[0], (W0 - lr * (g + 2 * wd * W0)).detach().numpy(),
                                   atol=1e-10)


@pytest.mark.parametrize("depth, init_scale, steps, tol", EXPONENT_RULE_TESTS)
def test_exponent_rule_matches_gradient_descent(depth, init_scale, steps, tol):
    """Layer l's gain on feature i after GD from small init = g_i^(l/L), within tol (relative).

    The rule's error is O(init_scale^2) (the imbalance left by the initialisation)."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    run = population_gd(m, s, depth, 24, init_scale=init_scale, lr=0.05, steps=steps, seed=0,
                        progress=False)
    assert run.loss[-1, 0] == pytest.approx(th.optimal_loss(m, s), rel=1e-6)
    sim = run.layer_gains()[0]
    pred = th.layer_gains(th.optimal_gains(PHI, P, SIGMA), depth)[1:]
    assert np.max(np.abs(sim / pred - 1)) < tol


def _imbalances(layers):
    """[D_l] = [W_{l+1}^T W_{l+1} - W_l W_l^T] of problem 0, each (width, width)."""
    return [up[0].T @ up[0] - low[0] @ low[0].T for low, up in zip(layers[:-1], layers[1:])]


@pytest.mark.parametrize("depth", [2, 3])
def test_finite_step_drift_is_eta_times_the_loss_decrease(depth):
    """Gradient descent moves D_l by eta^2 (grad_{l+1}^T grad_{l+1} - grad_l grad_l^T) a step, so
    over a run ||D_l(T) - D_l(0)||_F <= eta * (loss decrease) to leading order, and halving eta
    halves the drift (it is O(eta), not O(1) as a path-length bound would allow)."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    drifts = []
    for lr, steps in ((0.04, 20_000), (0.02, 40_000)):  # the same time horizon lr * steps
        run = population_gd(m, s, depth, 8, init_scale=0.3, lr=lr, steps=steps, seed=1,
                            progress=False)
        start = init_layers(1, [len(PHI)] + [8] * depth, 0.3, seed=1)  # population_gd's init
        drift = max(np.linalg.norm(d1 - d0) for d0, d1 in
                    zip(_imbalances(start), _imbalances(run.layers)))
        assert drift <= lr * (run.loss[0, 0] - run.loss[-1, 0])
        drifts.append(drift)
    assert 1.8 < drifts[0] / drifts[1] < 2.2


def test_balanced_layers_have_orthogonal_columns():
    """The representation's spectrum (eigenvalues of the layer covariance for a clean input) is
    phi_i * ||W_l ... W_1 e_i|| once the layers are balanced (within 1 %)."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    run = population_gd(m, s, 2, 24, init_scale=0.01, lr=0.05, steps=20_000, seed=0,
                        progress=False)
    assert run.loss[-1, 0] == pytest.approx(th.optimal_loss(m, s), rel=1e-6)
    W1 = run.layers[0][0]
    cov = (W1 * np.square(PHI)) @ W1.T
    eig = np.sqrt(np.sort(np.linalg.eigvalsh(cov))[-len(PHI):])
    pred = representation_spectrum(PHI, partial_gains(run.layers)[0])[1]
    np.testing.assert_allclose(eig, np.sort(pred), rtol=0.01)


def test_weight_decay_gains_match_gradient_descent():
    """With weight decay, GD from a moderate init reaches optimal_gains(weight_decay=...) (1 %),
    and a feature above its threshold is removed from every layer."""
    wd = 0.02
    m, s = th.feature_moments(PHI, P, SIGMA)
    run = population_gd(m, s, 2, 12, init_scale=0.6, lr=0.03, steps=40_000, weight_decay=wd,
                        seed=0, progress=False)
    sim = partial_gains(run.layers)[0]
    pred = th.layer_gains(th.optimal_gains(PHI, P, SIGMA, weight_decay=wd, depth=2), 2)[1:]
    np.testing.assert_allclose(sim, pred, rtol=0.01)
    # above its threshold a feature has no non-zero minimum; GD removes it from both layers
    wd_star = th.decay_threshold(PHI, P, SIGMA)
    assert th.optimal_gains(PHI, P, SIGMA, weight_decay=0.99 * wd_star[0], depth=2)[0] > 0
    assert th.optimal_gains(PHI, P, SIGMA, weight_decay=1.01 * wd_star[0], depth=2)[0] == 0
    wd = 1.2 * wd_star[0]
    assert wd < wd_star[1]
    run = population_gd(m, s, 2, 12, init_scale=0.6, lr=0.03, steps=40_000, weight_decay=wd,
                        seed=0, progress=False)
    sim = partial_gains(run.layers)[0]
    assert sim[:, 0].max() < 1e-3 and sim[:, 1].min() > 0.1


@pytest.mark.parametrize("depth", [2, 3])
def test_weight_decay_shrinks_the_imbalance_at_rate_four_lambda(depth):
    """Under gradient flow on loss + wd * sum_l ||W_l||_F^2 the loss term conserves
    D_l = W_{l+1}^T W_{l+1} - W_l W_l^T and the penalty (gradient 2 wd W_l) gives
    dD_l/dt = -4 wd D_l: ||D_l(t)|| / ||D_l(0)|| = exp(-4 wd t), t = lr * steps. Measured on
    small-step GD from an unbalanced start, to 1 % (relative); exp(-2 wd t) is 50 % off."""
    m, s = th.feature_moments(PHI, P, SIGMA)
    wd, lr, steps = 0.05, 2e-4, 20_000  # wd * t = 0.2
    run = population_gd(m, s, depth, 4, init_scale=1.0, lr=lr, steps=steps, weight_decay=wd,
                        seed=0, n_records=5, progress=False)
    t = lr * run.steps
    ratio = run.imbalance[:, 0, :] / run.imbalance[0, 0, :]  # (records, depth - 1)
    expected = np.exp(-4 * wd * t)[:, None]
    np.testing.assert_allclose(ratio, np.broadcast_to(expected, ratio.shape), rtol=0.01)
    assert np.all(np.abs(ratio[-1] / np.exp(-2 * wd * t[-1]) - 1) > 0.3)
    # without weight decay the same run keeps the imbalance (to the same 1 %)
    free = population_gd(m, s, depth, 4, init_scale=1.0, lr=lr, steps=steps, seed=0,
                         n_records=5, progress=False)
    np.testing.assert_allclose(free.imbalance[:, 0, :] / free.imbalance[0, 0, :], 1.0, rtol=0.01)


def test_effective_rank_and_normalise():
    assert th.effective_rank(np.ones(7)) == pytest.approx(7)
    assert th.effective_rank(np.array([3.0, 0, 0])) == pytest.approx(1)
    r = th.normalise_layer(np.array([[1.0, 2.0, 3.0], [0.1, 0.1, 0.1]]))
    np.testing.assert_allclose(np.mean(r**2, axis=-1), 1.0)


def _ridge_r2_monte_carlo(r, target, n, ridge, reps, rng):
    """Independent oracle: fit ridge on n Gaussian samples, exact population test R^2."""
    out = []
    for _ in range(reps):
        Z = rng.standard_normal((n, len(r)))
        H, y = Z * r, Z[:, target]
        if ridge > 0:
            beta = np.linalg.solve(H.T @ H + n * ridge * np.eye(len(r)), H.T @ y)
        else:
            beta = np.linalg.pinv(H) @ y
        c = r * beta
        c[target] -= 1
        out.append(1 - np.sum(c**2))
    return np.mean(out), np.std(out) / np.sqrt(reps)


@pytest.mark.parametrize("n, ridge", [(20, 0.0), (20, 0.1), (60, 0.1), (60, 1.0)])
def test_ridge_probe_r2_matches_monte_carlo(n, ridge):
    """Deterministic equivalent vs Monte Carlo at th.DE_CHECK's d (40), within its abs_tol (0.03)
    + standard_errors (4) standard errors; Chapter 3 prints these numbers from th.DE_CHECK."""
    rng = np.random.default_rng(0)
    check = th.DE_CHECK
    r = np.exp(rng.normal(0, 0.5, check["d"]))
    for target in (int(np.argmax(r)), int(np.argmin(r))):
        mc, se = _ridge_r2_monte_carlo(r, target, n, ridge, 150, rng)
        assert abs(th.ridge_probe_r2(r, target, n, ridge) - mc) < \
            check["abs_tol"] + check["standard_errors"] * se


def _noisy_ridge_monte_carlo(r, target, n, ridge, noise, reps, rng):
    """Oracle: ridge on n samples with labels z_t + noise * N(0,1); exact R^2 for z_t."""
    out = []
    for _ in range(reps):
        Z = rng.standard_normal((n, len(r)))
        H, y = Z * r, Z[:, target] + noise * rng.standard_normal(n)
        beta = np.linalg.solve(H.T @ H + n * ridge * np.eye(len(r)), H.T @ y)
        c = r * beta
        c[target] -= 1
        out.append(1 - np.sum(c**2))
    return np.mean(out), np.std(out) / np.sqrt(reps)


@pytest.mark.parametrize("n, ridge, noise", [(20, 0.05, 0.5), (60, 0.1, 0.3), (60, 1.0, 1.0)])
def test_ridge_probe_r2_with_label_noise_matches_monte_carlo(n, ridge, noise):
    """Label noise adds noise^2 df2 / n to the numerator: within th.DE_CHECK's tolerance, for
    the strongest, the weakest and a lost (strength 0) target."""
    rng = np.random.default_rng(1)
    check = th.DE_CHECK
    r = np.exp(rng.normal(0, 0.5, check["d"]))
    r[5] = 0.0
    for target in (int(np.argmax(r)), int(np.argmin(np.where(r > 0, r, np.inf))), 5):
        mc, se = _noisy_ridge_monte_carlo(r, target, n, ridge, noise, 150, rng)
        assert abs(th.ridge_probe_r2(r, target, n, ridge, label_noise=noise) - mc) < \
            check["abs_tol"] + check["standard_errors"] * se
    # noise only hurts, and least squares with n > d is no longer exact
    assert th.ridge_probe_r2(r, 0, n, ridge, 0.5) < th.ridge_probe_r2(r, 0, n, ridge, 0.0)
    assert th.ridge_probe_r2(np.ones(3), 0, 10, 0.0, 0.3) == pytest.approx(1 - 0.09 * 3 / 7)


def test_tuned_ridge_probe_is_the_best_penalty_of_the_grid():
    rng = np.random.default_rng(2)
    r = np.exp(rng.normal(0, 0.6, 20))
    grid = np.geomspace(1e-4, 1e2, 31)
    best, lam = th.tuned_ridge_probe_r2(r, 3, 15, grid, 0.3)
    each = [th.ridge_probe_r2(r, 3, 15, g, 0.3) for g in grid]
    assert best == pytest.approx(max(each), abs=1e-12) and lam == grid[int(np.argmax(each))]
    # noiseless least squares with n > d is exact, and the tuned probe finds it
    assert th.tuned_ridge_probe_r2(np.array([1.0, 0.1]), 1, 5, [0.0, 0.3]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="ridges"):
        th.tuned_ridge_probe_r2(r, 0, 15, [-1.0])


def test_least_squares_on_noiseless_data_ignores_scale():
    """n > d, no ridge: R^2 = 1 at any feature scales (why the probe must care about scale)."""
    assert th.ridge_probe_r2(np.array([1.0, 0.01, 5.0]), 1, 10, 0.0) == 1.0
    assert th.ridge_probe_r2(np.array([1.0, 0.01, 5.0]), 1, 10, 0.1) < 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: th.feature_moments([1.0], [1.2]), "p"),
    (lambda: th.feature_moments([1.0, 2.0], [0.1]), "same length"),
    (lambda: th.optimal_gains([1.0], [0.1], weight_decay=-1), "weight_decay"),
    (lambda: th.layer_gains([0.5], 0), "depth"),
    (lambda: th.ridge_probe_r2([1.0, 2.0], 5, 10, 0.1), "target"),
    (lambda: th.ridge_probe_r2([1.0, 2.0], 0, 10, -0.1), "ridge"),
    (lambda: th.ridge_probe_r2([1.0, 2.0], 0, 10, 0.1, label_noise=-1), "label_noise"),
    (lambda: FeatureModel((1.0,), (0.5,), sigma=-1), "sigma"),
    (lambda: population_gd([1.0], [1.0], 2, 4, init_scale=0.1, lr=0.0, steps=3), "lr"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_feature_model_is_seeded_and_redraws_at_rate_p():
    model = FeatureModel((1.0, 1.0), (0.0, 0.3))
    a = model.sample_pairs(50_000, torch.Generator().manual_seed(5))
    b = model.sample_pairs(50_000, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    changed = (a[0] != a[1]).double().mean(0)
    assert changed[0] == 0 and abs(float(changed[1]) - 0.3) < 0.01
