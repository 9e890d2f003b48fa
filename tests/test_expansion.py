"""Chapter "Expansion and shrinkage": closed forms against loops and simulation, the batched loss
against helpers.losses.nt_xent, the one-number theory against a trained projector.

Tolerances are stated where a simulation is compared with a formula; each is several standard
errors wide, and each test also checks that a plausible wrong formula falls outside it.
"""

import math

import numpy as np
import pytest
import torch
from scipy.special import ndtr

from helpers import checks, widgets
from helpers.experiments import expansion as ex
from helpers.heads import LinearHead, MLPHead
from helpers.losses import nt_xent
from helpers.profiles import get_profile
from helpers.theory import expansion as th


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: one thread avoids OpenMP overhead (20x faster on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def naive_expansion(W, u):
    """E(W) with explicit loops: k * sum_i (sum_j W_ij u_j)^2 / sum_ij W_ij^2, u normalised."""
    W, u = np.asarray(W, dtype=float), np.asarray(u, dtype=float)
    norm = math.sqrt(sum(x * x for x in u))
    u = [x / norm for x in u]
    num = sum(sum(W[i, j] * u[j] for j in range(W.shape[1])) ** 2 for i in range(W.shape[0]))
    den = sum(W[i, j] ** 2 for i in range(W.shape[0]) for j in range(W.shape[1]))
    return W.shape[1] * num / den


def random_orthogonal(k, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((k, k)))
    return q * np.sign(np.diag(r))


# --- expansion measure, W_alpha, fit_alpha --------------------------------------------------

@pytest.mark.parametrize("p,k", [(5, 5), (3, 7), (8, 2)])
def test_expansion_measure_matches_loops(p, k):
    rng = np.random.default_rng(p * 10 + k)
    W, u = rng.standard_normal((p, k)), 3 * rng.standard_normal(k)
    assert th.expansion_measure(W, u) == pytest.approx(naive_expansion(W, u), rel=1e-12)
    got = th.expansion_measure(torch.as_tensor(W), torch.as_tensor(u))
    assert isinstance(got, torch.Tensor) and float(got) == pytest.approx(naive_expansion(W, u), rel=1e-12)


def test_expansion_measure_exact_cases():
    k, rng = 6, np.random.default_rng(0)
    u = rng.standard_normal(k)
    u /= np.linalg.norm(u)
    assert th.expansion_measure(random_orthogonal(k, 1), u) == pytest.approx(1.0)  # no preference
    assert th.expansion_measure(np.outer(u, u), u) == pytest.approx(k)  # all of W is along u
    assert th.expansion_measure(np.eye(k) - np.outer(u, u), u) == pytest.approx(0.0, abs=1e-14)
    for alpha in (0.2, 1.0, 3.0):  # E(W_alpha) = k a^2 / (a^2 + k - 1)
        assert th.expansion_measure(th.w_alpha(u, alpha), u) == pytest.approx(
            k * alpha**2 / (alpha**2 + k - 1), rel=1e-12)
    W = rng.standard_normal((4, k))  # invariances: scale, rotation of the output
    E = th.expansion_measure(W, u)
    assert th.expansion_measure(7.5 * W, u) == pytest.approx(E)
    assert th.expansion_measure(random_orthogonal(4, 2) @ W, u) == pytest.approx(E)


def test_expansion_measure_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    W, U = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 5))
    E = th.expansion_measure(W, U)
    assert E.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        assert E[i, j] == pytest.approx(naive_expansion(W[i, j], U[i, j]), rel=1e-12)
    shared = th.expansion_measure(W, U[0, 0])  # one u for the whole batch
    assert shared[1, 2] == pytest.approx(naive_expansion(W[1, 2], U[0, 0]), rel=1e-12)


@pytest.mark.parametrize("W,u,err", [
    (np.ones((3, 3)), np.zeros(3), ValueError),  # zero direction
    (np.zeros((3, 3)), np.ones(3), ValueError),  # zero matrix
    (np.ones((3, 3)), np.ones(4), ValueError),  # u on the wrong side
    (np.ones(3), np.ones(3), ValueError),  # not a matrix
    (np.array([[1.0, np.nan]]), np.ones(2), ValueError),
    ([[1.0, 0.0], [0.0, 1.0]], np.ones(2), TypeError),  # lists are refused
    (np.ones((2, 2)), "u", TypeError),
])
def test_expansion_measure_rejects_bad_input(W, u, err):
    with pytest.raises(err):
        th.expansion_measure(W, u)


def test_w_alpha_acts_on_u_and_its_complement():
    u = np.array([3.0, 4.0, 0.0])  # normalised inside
    W = th.w_alpha(u, 2.5)
    e = u / 5
    v = np.array([4.0, -3.0, 1.0])  # orthogonal to u
    np.testing.assert_allclose(W, W.T)
    np.testing.assert_allclose(W @ e, 2.5 * e)
    np.testing.assert_allclose(W @ v, v)
    np.testing.assert_allclose(th.w_alpha(u, 1.0), np.eye(3))
    with pytest.raises(ValueError):
        th.w_alpha(u, -1.0)
    with pytest.raises(ValueError):
        th.w_alpha(np.zeros(3), 1.0)
    with pytest.raises(TypeError):
        th.w_alpha(u, "2")


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0])
def test_fit_alpha_recovers_alpha_and_links_to_E(alpha):
    k, rng = 7, np.random.default_rng(5)
    u = rng.standard_normal(k)
    W = random_orthogonal(k, 6) @ th.w_alpha(u, alpha)  # any output rotation
    assert th.fit_alpha(W, u) == pytest.approx(alpha, rel=1e-10)
    G = rng.standard_normal((5, k))  # for ANY W: E = k a^2 / (a^2 + k - 1) with a = fit_alpha
    a = th.fit_alpha(G, u)
    assert th.expansion_from_alpha(a, k) == pytest.approx(th.expansion_measure(G, u), rel=1e-12)
    assert th.alpha_from_expansion(th.expansion_from_alpha(alpha, k), k) == pytest.approx(alpha)
    with pytest.raises(ValueError):
        th.alpha_from_expansion(k + 1.0, k)


def test_projector_alpha_pair_splits_the_log_gain():
    assert th.projector_alpha_pair(9.0) == pytest.approx((3.0, 9.0))
    with pytest.raises(ValueError):
        th.projector_alpha_pair(0.0)


# --- the nearest-class-mean accuracy: closed form vs Monte Carlo -----------------------------

def simulate_ncm(alpha, r, d, n_pos, n_neg, reps, n_test, seed):
    """Naive Monte Carlo (numpy): fit class means on W_alpha x, classify fresh test points.

    u = e_0 (the model is rotation invariant), so W_alpha x scales the first coordinate by alpha.
    """
    rng = np.random.default_rng(seed)
    gain = np.ones(d)
    gain[0] = alpha
    accs = []
    for _ in range(reps):
        X_pos = rng.standard_normal((n_pos, d))
        X_pos[:, 0] += r
        X_neg = rng.standard_normal((n_neg, d))
        X_neg[:, 0] -= r
        c_pos, c_neg = (X_pos * gain).mean(0), (X_neg * gain).mean(0)
        y = np.repeat([1, -1], n_test // 2)
        X = rng.standard_normal((n_test, d))
        X[:, 0] += r * y
        pred = np.where((X * gain - (c_pos + c_neg) / 2) @ (c_pos - c_neg) > 0, 1, -1)
        accs.append((pred == y).mean())
    return np.mean(accs), np.std(accs, ddof=1) / math.sqrt(reps)


# Tolerance of the limit against simulation (th.NCM_LIMIT_CHECK, which Chapter 4 prints): 0.015
# in accuracy at d = 300. Measured gaps are at most 0.002 (standard error of a 60-draw mean:
# <= 0.002); the margin covers other seeds and the O(1/sqrt(n)) finite-size bias, and still
# excludes the alpha^2 variant (off by > 0.03 at alpha < 1).
TOL_LIMIT = th.NCM_LIMIT_CHECK["abs_tol"]


@pytest.mark.parametrize("alpha,gamma", [(0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (0.6, 2.0)])
def test_ncm_limit_matches_monte_carlo(alpha, gamma):
    r, d = 1.5, th.NCM_LIMIT_CHECK["dim"]
    n = int(d / gamma)
    mc, se = simulate_ncm(alpha, r, d, n // 2, n // 2, reps=60, n_test=2000, seed=int(10 * alpha))
    limit = th.ncm_accuracy_limit(alpha, r, gamma)
    assert abs(mc - limit) < TOL_LIMIT, (mc, se, limit)
    wrong = ndtr(r**2 / math.sqrt(r**2 + gamma / alpha**2))  # alpha^2 instead of alpha^4
    if alpha < 1:  # where the curve is steep, the test can tell the wrong power apart
        assert abs(mc - wrong) > 2 * TOL_LIMIT


def test_ncm_limit_unbalanced_labels_matches_monte_carlo():
    r, d, gamma, pi, alpha = 1.5, th.NCM_LIMIT_CHECK["dim"], 1.0, 0.25, 0.7
    n = int(d / gamma)
    mc, _ = simulate_ncm(alpha, r, d, int(pi * n), n - int(pi * n), reps=60, n_test=2000, seed=7)
    assert abs(mc - th.ncm_accuracy_limit(alpha, r, gamma, pi=pi)) < TOL_LIMIT
    assert abs(mc - th.ncm_accuracy_limit(alpha, r, gamma)) > 2 * TOL_LIMIT  # the bias b matters


def test_ncm_limit_edge_values():
    r = 1.5
    assert th.ncm_accuracy_limit(1e-6, r, 1.0) == pytest.approx(0.5, abs=1e-6)  # signal gone
    assert th.ncm_accuracy_limit(1e6, r, 1.0) == pytest.approx(ndtr(r))  # Bayes
    assert th.ncm_accuracy_limit(1.0, r, 0.0) == pytest.approx(ndtr(r))  # infinite labels
    a = np.array([0.5, 1.0, 2.0])
    assert np.all(np.diff(th.ncm_accuracy_limit(a, r, 1.0)) > 0)  # expansion helps
    for bad in (dict(r=0.0, gamma=1.0), dict(r=1.0, gamma=-1.0), dict(r=1.0, gamma=1.0, pi=1.0)):
        with pytest.raises(ValueError):
            th.ncm_accuracy_limit(1.0, **bad)
    with pytest.raises(ValueError):
        th.ncm_accuracy_limit(-1.0, 1.0, 1.0)
    with pytest.raises(TypeError):
        th.ncm_accuracy_limit(1.0, "1", 1.0)


def test_ncm_finite_size_formula_for_an_anisotropic_map():
    """ncm_accuracy(T) for a map that is not a W_alpha, against a simulation of T x."""
    d, n, r, reps = 200, 100, 1.2, 60
    rng = np.random.default_rng(11)
    gains = np.exp(rng.normal(0, 0.6, d))  # T = diag(gains)
    mu = np.zeros(d)
    mu[:3] = r / math.sqrt(3)
    accs = []
    for _ in range(reps):
        c_pos = ((mu + rng.standard_normal((n // 2, d))) * gains).mean(0)
        c_neg = ((-mu + rng.standard_normal((n // 2, d))) * gains).mean(0)
        y = np.repeat([1, -1], 1000)
        X = (y[:, None] * mu + rng.standard_normal((2000, d))) * gains
        accs.append(((((X - (c_pos + c_neg) / 2) @ (c_pos - c_neg)) > 0) == (y > 0)).mean())
    formula = th.ncm_accuracy(np.diag(gains), mu, n // 2, n // 2)
    assert np.mean(accs) == pytest.approx(formula, abs=0.015)
    # the same map read as a W_alpha would miss the anisotropy of the other directions
    naive = th.ncm_accuracy_limit(th.fit_alpha(np.diag(gains), mu), r, d / n)
    assert abs(formula - naive) > 0.03


def test_ncm_finite_size_tends_to_the_limit():
    r, d = 1.5, 1500
    e = np.zeros(d)
    e[0] = 1
    for alpha in (0.5, 2.0):
        got = th.ncm_accuracy(th.w_alpha(e, alpha), r * e, d // 2, d // 2)
        assert got == pytest.approx(th.ncm_accuracy_limit(alpha, r, 1.0), abs=3e-3)


# --- the batched loss and the one-number theory ----------------------------------------------

def test_batched_nt_xent_matches_the_book_loss_per_model():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, 3, generator=g), torch.randn(5, 7, 3, generator=g)
    taus = torch.tensor([0.01, 0.1, 0.5, 2.0, 40.0])
    got = ex.batched_nt_xent(z1, z2, taus)
    want = torch.stack([nt_xent(z1[b], z2[b], float(taus[b])) for b in range(5)])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    same = torch.ones(2, 4, 3)  # all projections equal: log(2N - 1)
    torch.testing.assert_close(ex.batched_nt_xent(same, same, 0.5), torch.full((2,), math.log(7)))
    with pytest.raises(ValueError):
        ex.batched_nt_xent(z1, z2, 0.0)
    with pytest.raises(ValueError):
        ex.batched_nt_xent(z1[:, :1], z2[:, :1], 0.5)
    with pytest.raises(TypeError):
        ex.batched_nt_xent(z1.long(), z2, 0.5)


def test_reduced_problem_equals_nt_xent_on_transformed_samples():
    prob = th.ReducedProblem(dim=6, signal=1.5, batch_size=8, n_batches=3, seed=0,
                             dtype=torch.float64)
    rho, sigma, tau = 2.5, 0.4, 0.3
    M = torch.as_tensor(th.w_alpha(np.eye(6)[0], rho))
    v = prob.x + sigma * prob.eps  # (2, nb, N, d)
    want = np.mean([nt_xent(v[0, b] @ M, v[1, b] @ M, tau).item() for b in range(3)])
    got = prob.scaled_loss(math.log(rho), sigma, [tau])[0].item() / tau
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("sigma,tau", [(0.1, 0.3), (0.5, 0.05), (1.3, 5.0)])
def test_reduced_slope_closed_form_equals_autograd(sigma, tau):
    prob = th.ReducedProblem(dim=10, signal=1.5, batch_size=16, n_batches=4, seed=1,
                             dtype=torch.float64)
    assert prob.slopes(sigma, [tau])[0] == pytest.approx(prob.slope(sigma, tau), rel=1e-8, abs=1e-14)
    h = 1e-5  # and a central difference
    fd = (prob.scaled_loss(h, sigma, [tau]) - prob.scaled_loss(-h, sigma, [tau])).item() / (2 * h)
    assert prob.slopes(sigma, [tau])[0] == pytest.approx(fd, rel=1e-5, abs=1e-12)


def test_descend_finds_the_minimum_reachable_from_rho_1():
    x = 0.25 * np.arange(-8, 9)  # log rho, 0 on the grid
    assert th.descend(x, (x - 0.6) ** 2) == pytest.approx(0.6, abs=1e-9)  # parabola refinement
    two = np.minimum((x + 1.5) ** 2 - 0.5, (x - 1.0) ** 2)  # the deeper minimum lies the other way
    assert th.descend(x, two) == pytest.approx(1.0, abs=1e-9)
    plateau = 1e-9 * np.maximum(x - 1.5, 0.0)  # flat around rho = 1: stay there
    assert th.descend(x, plateau) == 0.0


def test_reduced_problem_rejects_bad_input():
    prob = th.ReducedProblem(dim=4, signal=1.0, batch_size=4, n_batches=2, seed=0)
    for taus in ([0.0], [-1.0], [np.inf], []):
        with pytest.raises(ValueError):
            prob.slopes(0.5, taus)
    with pytest.raises(ValueError):
        prob.scaled_loss(0.0, 0.5, [0.0])
    with pytest.raises(ValueError):
        prob.slopes(-0.1, [1.0])
    with pytest.raises(ValueError):
        th.ReducedProblem(dim=1, signal=1.0, batch_size=4, n_batches=2, seed=0)
    with pytest.raises(ValueError):
        th.ReducedProblem(dim=4, signal=1.0, batch_size=1, n_batches=2, seed=0)


def positive_pair_tilt_mc(d, r, sigma, n, seed):
    """Monte Carlo of E[2 c c' - S (c^2 + c'^2)] over positive pairs, in NumPy, from the definition:
    c, c' the u-components (u = e_0) of the two unit views, S their cosine. (mean, standard error)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x[:, 0] += r * rng.choice([-1.0, 1.0], n)
    v1, v2 = (x + sigma * rng.standard_normal((n, d)) for _ in range(2))
    v1 /= np.linalg.norm(v1, axis=1, keepdims=True)
    v2 /= np.linalg.norm(v2, axis=1, keepdims=True)
    S, c1, c2 = (v1 * v2).sum(1), v1[:, 0], v2[:, 0]
    delta = 2 * c1 * c2 - S * (c1**2 + c2**2)
    return delta.mean(), delta.std(ddof=1) / math.sqrt(n)


@pytest.mark.parametrize("d,rel_tol", th.LARGE_TAU_CHECK)
def test_positive_pair_tilt_matches_monte_carlo_to_leading_order(d, rel_tol):
    """The leading-order formula 2 sigma^2 r^2 (d - 1) / D^2 against a NumPy Monte Carlo of the
    expectation it approximates, within th.LARGE_TAU_CHECK's relative tolerance (Chapter 4 prints
    it); the variant without the augmentation's share of the norm (D = r^2 + d) falls outside."""
    r = 1.5
    for sigma in (0.3, 1.0, 2.0):
        mc, se = positive_pair_tilt_mc(d, r, sigma, 100_000, seed=int(10 * sigma) + d)
        got = th.positive_pair_tilt(d, r, sigma)
        assert abs(got / mc - 1) < rel_tol + 3 * se / mc, (d, sigma, got, mc, se)
        wrong = 2 * sigma**2 * r**2 * (d - 1) / (r**2 + d) ** 2
        assert abs(wrong / mc - 1) > 2 * rel_tol
    assert th.positive_pair_tilt(d, r, 0.0) == 0.0  # identical views: the cosine stays 1
    assert abs(positive_pair_tilt_mc(d, r, 0.0, 1000, 0)[0]) < 1e-15


def test_large_tau_slope_is_the_limit_of_the_slope_formula():
    """The closed-form slope (ReducedProblem.slopes) at tau = th.LARGE_TAU is (1) the uniform-softmax
    limit of the same batch, up to the batch's negatives, whose mean is 0, and (2) the derived
    large_tau_slope within the leading-order tolerance plus the batch's Monte Carlo noise; it is
    negative (expansion) at every augmentation strength."""
    d, rel_tol = th.LARGE_TAU_CHECK[0]
    N = 64
    prob = th.ReducedProblem(dim=d, signal=1.5, batch_size=N, n_batches=256, seed=3,
                             dtype=torch.float64)
    for sigma in (0.5, 1.0, 2.0):
        exact = prob.slopes(sigma, [th.LARGE_TAU])[0]
        derived = th.large_tau_slope(d, 1.5, sigma, N)
        uniform = -(2 * N - 2) / (2 * N - 1) * prob.positive_tilt(sigma)
        assert exact < 0 and derived < 0
        assert abs(exact / uniform - 1) < 0.05  # the negatives' sum: mean 0, noise only
        assert abs(exact / derived - 1) < rel_tol + 0.05, (sigma, exact, derived)
    # the slope keeps its sign at large tau for weak augmentation too (a smaller net, many batches)
    small = th.ReducedProblem(dim=16, signal=1.5, batch_size=32, n_batches=64, seed=4)
    assert all(small.slopes(s, [th.LARGE_TAU])[0] < 0 for s in (0.2, 0.5, 1.0, 2.0))
    assert th.large_tau_slope(16, 0.0, 1.0, 32) == 0.0  # no signal: nothing to expand
    with pytest.raises(ValueError):
        th.large_tau_slope(16, 1.5, 1.0, 1)
    with pytest.raises(ValueError):
        th.positive_pair_tilt(16, 1.5, -1.0)


def test_threshold_scans_for_the_last_shrink_to_expand_crossing():
    prob = th.ReducedProblem(dim=20, signal=1.5, batch_size=32, n_batches=16, seed=2)
    taus = np.geomspace(0.01, 40, 13)
    t = prob.threshold(0.3, taus)
    assert taus[0] < t < taus[-1]
    assert prob.slopes(0.3, [t / 1.5])[0] > 0 > prob.slopes(0.3, [t * 1.5])[0]
    assert prob.threshold(2.0, taus[6:]) == -math.inf  # strong augmentation: expands throughout
    assert prob.threshold(0.1, taus[:4]) == math.inf  # weak augmentation, low tau: shrinks


def test_theory_predicts_the_trained_projector():
    """One shrink cell and one expand cell, trained with the batched trainer at d = 12.

    Tolerance (ex.TRAINED_E_CHECK, which Chapter 4 prints): the trained E within a factor 1.35 of
    the theory's, and on the right side of 1.
    """
    check = ex.TRAINED_E_CHECK
    cfg = get_profile("smoke").config(
        "expansion", dim=check["dim"], sigmas=(0.1, 1.0), temperatures=(0.3, 5.0), n_seeds=1,
        n_pretrain=1024, batch_size=64, steps=500, theory_batches=32)
    trained = ex.train_grid(cfg, seed=0, progress=False)
    E = ex.measure(trained)["E_W"][0]  # (S, T)
    pred = ex.reduced_theory(cfg, seed=0, progress=False)["E_pred"]
    assert E[0, 0] < 1 and pred[0, 0] < 1  # weak augmentation, low temperature: shrink
    assert E[1, 1] > 1 and pred[1, 1] > 1  # strong augmentation, high temperature: expand
    for i, j in ((0, 0), (1, 1)):
        assert abs(math.log(E[i, j] / pred[i, j])) < math.log(check["factor"]), (E, pred)


def test_measured_thresholds_interpolate_and_flag_the_edges():
    taus = [0.1, 1.0, 10.0]
    E = np.array([[[0.5, 2.0, 4.0], [2.0, 3.0, 4.0], [0.5, 0.6, 0.7], [1.0, 0.5, 2.0]]])
    frozen = np.zeros_like(E, dtype=bool)
    frozen[0, 3, 0] = True  # the E = 1 cell never trained: skipped
    got = ex.measured_thresholds(E, frozen, taus)[0]
    # log-linear crossing between (0.1, 0.5) and (1, 2): log tau = log 0.1 + log 10 * 1/2
    assert got[0] == pytest.approx(math.sqrt(0.1), rel=1e-12)
    assert got[1] == -np.inf and got[2] == np.inf
    assert got[3] == pytest.approx(math.sqrt(10.0), rel=1e-12)
    vals, side = ex.split_threshold(got)
    assert list(side) == [0, -1, 1, 0] and np.isnan(vals[1]) and vals[0] == got[0]


def test_run_payload_at_a_tiny_size_is_complete_and_reproducible():
    cfg = get_profile("smoke").config("expansion", dim=8, sigmas=(0.2, 1.0), temperatures=(0.1, 2.0),
                                      steps=40, n_pretrain=128, theory_sigmas=3, mc_dim=20,
                                      mc_reps=2, chapter1=None, sweep=None)
    a, b = ex.run(cfg, seed=3, progress=False), ex.run(cfg, seed=3, progress=False)
    assert np.array(a["E_W"]).shape == (2, 2, 2) and np.array(a["E_trace"]).shape[1:] == (2, 2, 2)
    np.testing.assert_array_equal(a["E_W"], b["E_W"])  # fixed seeds, same numbers
    assert np.all((a["acc_pre"] >= 0) & (a["acc_pre"] <= 1))
    assert set(a["theory"]) >= {"E_pred", "threshold_taus", "loss_curves", "grid_threshold_taus"}
    assert "chapter1" not in a and "sweep" not in a
    text = ex.summarize({**a, "theory": {**a["theory"]}})
    assert "threshold temperature" in text and "cells x 2 seeds" in text


# --- Chapter 1's head, linearised -------------------------------------------------------------

def test_mean_jacobian_of_a_linear_head_is_its_weight():
    head = LinearHead(5, 3, bias=True).double().eval()
    H = torch.randn(20, 5, dtype=torch.float64)
    torch.testing.assert_close(ex.mean_jacobian(head, H, chunk=7), head.linear.weight.detach())


def test_mean_jacobian_of_the_mlp_head_matches_the_chain_rule():
    torch.manual_seed(0)
    head = MLPHead(6, 9, 4).double()
    head(torch.randn(32, 6, dtype=torch.float64))  # populate BN running statistics
    head.eval()
    H = torch.randn(50, 6, dtype=torch.float64)
    bn = head.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # BN in eval mode is affine
    pre = (H @ head.fc1.weight.T - bn.running_mean) * scale + bn.bias
    active = (pre > 0).double().mean(0)  # mean ReLU derivative per hidden unit
    want = head.fc2.weight @ torch.diag(active * scale) @ head.fc1.weight
    torch.testing.assert_close(ex.mean_jacobian(head, H), want.detach())


def test_subspace_expansion_and_class_mean_basis():
    g = torch.Generator().manual_seed(0)
    J = torch.randn(4, 6, generator=g, dtype=torch.float64)
    assert ex.subspace_expansion(J, torch.eye(6, dtype=torch.float64)) == pytest.approx(1.0)
    v = torch.randn(6, 1, generator=g, dtype=torch.float64)
    v /= v.norm()
    assert ex.subspace_expansion(J, v) == pytest.approx(float(th.expansion_measure(J, v[:, 0])))
    labels = torch.arange(3).repeat_interleave(10)
    H = torch.randn(30, 6, generator=g, dtype=torch.float64) + 5 * torch.eye(6, dtype=torch.float64)[labels]
    Q = ex.class_mean_basis(H, labels)
    assert Q.shape == (6, 2)  # 3 classes: 2 directions between the means
    torch.testing.assert_close(Q.T @ Q, torch.eye(2, dtype=torch.float64))
    means = torch.stack([H[labels == c].mean(0) for c in range(3)]) - H.mean(0)
    torch.testing.assert_close(means @ Q @ Q.T, means)  # Q spans the class means


# --- the exercise check and the explorer ------------------------------------------------------

def test_check_expansion_measure_accepts_the_answer_and_diagnoses_mistakes():
    from helpers.checks.expansion import _expansion_variant

    assert checks.check_expansion_measure(_expansion_variant)  # written apart from the book's
    with pytest.raises(AssertionError, match="book's own `helpers.theory.expansion.expansion_measure`"):
        checks.check_expansion_measure(th.expansion_measure)
    with pytest.raises(AssertionError, match="normalise u"):
        checks.check_expansion_measure(lambda W, u: _expansion_variant(W, u, normalise=False))
    with pytest.raises(AssertionError, match="INPUT dimension"):
        checks.check_expansion_measure(lambda W, u: _expansion_variant(W, u, factor="p"))
    with pytest.raises(checks.ExerciseNotImplementedError):
        checks.check_expansion_measure(lambda W, u: (_ for _ in ()).throw(NotImplementedError()))


def test_explorer_and_static_panels_draw_every_setting():
    import matplotlib.pyplot as plt

    calls = []

    def draw(axes, a, b):
        calls.append((a, b))
        axes[0].plot([a, b])

    fig = widgets.static_panels(draw, [dict(a=1, b=2), dict(a=3, b=4)], n_axes=2)
    assert calls == [(1, 2), (3, 4)] and len(fig.axes) == 4
    plt.close(fig)
    box = widgets.explorer(draw, {"a": [1, 5], "b": [2, 6]}, n_axes=2, initial={"b": 6})
    assert calls[-1] == (1, 6)
    box.children[0].value = 5  # moving a slider redraws with the new value
    assert calls[-1] == (5, 6)
    plt.close("all")
    with pytest.raises(ValueError):
        widgets.explorer(draw, {"a": []})
    with pytest.raises(ValueError):
        widgets.explorer(draw, {"a": [1]}, initial={"a": 2})
    with pytest.raises(TypeError):
        widgets.static_panels("draw", [dict(a=1)])


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_walpha_plane_is_the_limit_drawn_in_two_dimensions(alpha):
    """The figure's plane: its classifier's accuracy is the boxed limit, and a simulation of a
    d-dimensional nearest class mean puts its direction W(mu + eta) where the plane says."""
    r, gamma = 1.5, 2.0
    g = ex.walpha_plane(alpha, r, gamma)
    assert g["accuracy"] == pytest.approx(th.ncm_accuracy_limit(alpha, r, gamma), abs=1e-12)
    d = 4000
    rng = np.random.default_rng(int(10 * alpha))
    n = int(d / gamma)
    eta = (rng.standard_normal((n // 2, d)).mean(0) - rng.standard_normal((n // 2, d)).mean(0)) / 2
    direction = np.r_[alpha * (r + eta[0]), np.linalg.norm(eta[1:])]  # W_alpha(mu + eta) in (u, e)
    np.testing.assert_allclose(direction, g["w"], rtol=0.03, atol=0.03)
    with pytest.raises(ValueError):
        ex.walpha_plane(-1.0, r, gamma)


def test_large_tau_table_uses_the_chapters_theory_batch():
    cfg = get_profile("smoke").config("expansion")
    rows = ex.large_tau_table(cfg, seed=0)
    assert [r["sigma"] for r in rows] == list(cfg.sigmas)
    assert all(r["derived"] < 0 and r["exact"] < 0 for r in rows)
    same = th.ReducedProblem(cfg.dim, cfg.signal, cfg.batch_size, cfg.theory_batches, 20_000)
    assert rows[1]["exact"] == pytest.approx(same.slopes(cfg.sigmas[1], [th.LARGE_TAU])[0], rel=1e-5)
    each = same.slopes(cfg.sigmas[1], [th.LARGE_TAU], per_batch=True)[0]
    assert each.shape == (cfg.theory_batches,)
    assert rows[1]["exact_se"] == pytest.approx(each.std(ddof=1) / math.sqrt(len(each)), rel=1e-5)


def test_walpha_geometry_figure_draws_one_panel_per_alpha():
    import matplotlib.pyplot as plt

    fig = ex.plot_walpha_geometry(1.5, 2.0, 50, alphas=(0.5, 2.0))
    assert len(fig.axes) == 2 and "accuracy" in fig.axes[1].get_title()
    plt.close(fig)


def test_chapter1_head_prints_chapter1s_own_probe_of_that_network(tmp_path, monkeypatch):
    """Chapter 4 reports Chapter 1's probe of the network it linearises without Chapter 1's
    result: after Chapter 1 ran (its networks kept), the probe equals Chapter 1's seed-0 row."""
    from helpers.experiments import puzzle

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    pcfg = get_profile("smoke").config("puzzle", n_train=128, n_test=128, epochs=1, n_seeds=2)
    chapter1 = puzzle.run(pcfg, seed=0, progress=False)
    c1 = ex.chapter1_head(pcfg, seed=0, progress=False)
    assert c1["probe"] == dict(zip(chapter1["layers"], chapter1["accuracy"][0]))
    text = ex.summarize_chapter1_head({"chapter1": c1})
    assert f"h {100 * c1['probe']['h']:.1f} %, z {100 * c1['probe']['z']:.1f} %" in text
