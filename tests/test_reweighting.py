"""Part V: the fixed reweighting head's closed form (helpers.theory.reweighting) against gradient
descent, brute force and Part I; the experiment module's selection rule and input checks."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers.experiments import reweighting as rx
from helpers.experiments import reweighting_report as rr
from helpers.heads import FixedReweightingHead, MLPHead
from helpers.profiles import get_profile
from helpers.theory import linear as lin
from helpers.theory import reweighting as rw

PHI = np.ones(5)
P = np.array([0.0, 0.2, 0.4, 0.6, 0.8])  # well-separated gains sqrt(1 - p) / (1 + sigma^2)
SIGMA = 0.5


@pytest.mark.parametrize("kappa", [1.0, 1.05, 1.2, 1.5, 2.0])
@pytest.mark.parametrize("weight_decay", [0.02, 0.1])
def test_closed_form_matches_gradient_descent(kappa, weight_decay):
    """Encoder gains ||W e_i|| after GD from a standard init within 1 % of the largest gain,
    and the closed form's objective is never above the one GD reaches (it is the minimum)."""
    th = rw.fixed_head_optimum(PHI, P, SIGMA, kappa, weight_decay)
    sim = rw.fixed_head_gd(PHI, P, SIGMA, kappa, weight_decay=weight_decay, init_scale=1.0,
                           lr=0.05, steps=30_000, seed=0)
    np.testing.assert_allclose(sim["h_gain"], th["h_gain"], atol=0.01 * th["h_gain"].max())
    np.testing.assert_allclose(sim["z_gain"], th["z_gain"], atol=0.01 * th["z_gain"].max())
    assert th["loss"] <= sim["loss"] + 1e-9


@pytest.mark.parametrize("kappa", [1.0, 1.1, 1.5])
def test_without_decay_z_keeps_part_one_optimum(kappa):
    """lambda = 0: the head changes nothing the loss sees (D is invertible), so z's gains are
    Part I's sqrt(m)/s for every k, in closed form and after GD from a small init."""
    free = lin.optimal_gains(PHI, P, SIGMA)
    th = rw.fixed_head_optimum(PHI, P, SIGMA, kappa)
    np.testing.assert_allclose(th["z_gain"], free, rtol=1e-12)
    sim = rw.fixed_head_gd(PHI, P, SIGMA, kappa, init_scale=1e-3, lr=0.05, steps=30_000)
    np.testing.assert_allclose(sim["z_gain"], free, atol=1e-3)
    # the strongest feature sits on coordinate 0, so its gain in h is its gain in z
    assert th["h_gain"][0] == pytest.approx(free[0])
    np.testing.assert_allclose(th["h_gain"], free * kappa ** np.arange(5), rtol=1e-12)


def test_kappa_one_is_no_head():
    """k = 1: h = z, and both carry Part I's end-to-end gains (with decay: depth-1 roots)."""
    for wd in (0.0, 0.05):
        th = rw.fixed_head_optimum(PHI, P, SIGMA, 1.0, wd)
        np.testing.assert_allclose(th["h_gain"], th["z_gain"])
        np.testing.assert_allclose(th["z_gain"], lin.optimal_gains(PHI, P, SIGMA, wd, depth=1),
                                   rtol=1e-8, atol=1e-10)


def test_assignment_matches_brute_force():
    """The optimal feature -> coordinate assignment equals the best of all permutations."""
    phi, p = np.array([1.3, 0.9, 1.1, 0.6]), np.array([0.5, 0.1, 0.3, 0.0])
    m, s = lin.feature_moments(phi, p, 0.4)
    for kappa, wd in [(1.3, 0.05), (2.0, 0.01), (1.05, 0.2)]:
        th = rw.fixed_head_optimum(phi, p, 0.4, kappa, wd)
        best = np.inf
        for perm in itertools.permutations(range(4)):
            c = wd * kappa ** (2 * np.array(perm))
            best = min(best, np.sum(-np.maximum(0, m - c / 2) ** 2 / s**2))
        assert th["loss"] == pytest.approx(best, rel=1e-10)


def test_decay_drops_features_on_costly_coordinates():
    """A feature lands at j only while lambda k^(2j) / 2 < m: larger k drops the weak ones."""
    kept = [np.sum(rw.fixed_head_optimum(PHI, P, SIGMA, k, 0.05)["coordinate"] >= 0)
            for k in (1.0, 1.2, 1.5, 2.0, 3.0)]
    assert kept == sorted(kept, reverse=True) and kept[0] == 5 and kept[-1] < 5


def test_head_weights():
    np.testing.assert_allclose(rw.head_weights(4, 2.0), [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(rw.head_weights(3, 1), [1, 1, 1])


@pytest.mark.parametrize("kappa", [0, -1.5, 0.9, np.nan, np.inf, "2", True])
def test_bad_kappa_is_a_clear_error(kappa):
    with pytest.raises(ValueError, match="kappa must be a finite number >= 1"):
        rw.fixed_head_optimum(PHI, P, SIGMA, kappa)
    with pytest.raises(ValueError, match="kappa must be a finite number >= 1"):
        rw.head_weights(3, kappa)


def test_bad_width_and_decay():
    with pytest.raises(ValueError, match="width must be >= the number of features"):
        rw.fixed_head_optimum(PHI, P, SIGMA, 1.1, width=3)
    with pytest.raises(ValueError, match="weight_decay must be finite and >= 0"):
        rw.fixed_head_optimum(PHI, P, SIGMA, 1.1, weight_decay=-1)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        rw.head_weights(0, 1.1)


# --- the experiment and its report ----------------------------------------------------------

def test_scaled_probe_matches_sklearn_ridge_and_sees_a_diagonal_head():
    """Oracle: sklearn Ridge(alpha = n * l2) on one-hot targets after the same single-number
    scaling. And the point of the scaling: a diagonal rescaling changes its answer, while a
    per-coordinate z-score would not (exercise ch08-ex-zscore)."""
    from sklearn.linear_model import Ridge

    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 6, generator=g, dtype=torch.float64)
    y = (X[:, 5] + 0.3 * torch.randn(200, generator=g, dtype=torch.float64) > 0).long()
    Xt, yt = X[:100], y[:100]
    mean = Xt.mean(0)
    scale = (Xt - mean).pow(2).mean().sqrt()
    ridge = Ridge(alpha=100 * 0.5).fit(((Xt - mean) / scale).numpy(), np.eye(2)[yt.numpy()])
    pred = ridge.predict(((X[100:] - mean) / scale).numpy()).argmax(1)
    expected = float((pred == y[100:].numpy()).mean())
    assert rx.scaled_probe(Xt, yt, [(X[100:], y[100:])], 0.5)[0] == pytest.approx(expected)
    D = torch.tensor(rw.head_weights(6, 2.0))
    shrunk = rx.scaled_probe(Xt * D, yt, [(X[100:] * D, y[100:])], 0.5)[0]
    assert shrunk < expected - 0.1  # the label lives on the coordinate the head shrinks 32x


def test_choose_kappa_uses_mean_and_prefers_weaker_head():
    assert rr.choose_kappa([1.0, 1.1, 1.5], [[0.5, 0.9], [0.7, 0.7], [0.6, 0.6]]) == 1.0
    assert rr.choose_kappa([1.5, 1.0], [0.8, 0.8]) == 1.0
    with pytest.raises(ValueError, match="one validation score"):
        rr.choose_kappa([1.0, 1.1], [0.5])
    with pytest.raises(ValueError, match="must be finite"):
        rr.choose_kappa([1.0, 1.1], [0.5, np.nan])


def _fake_part():
    """No head, 2 fixed heads, MLP; 2 seeds, 1 task, layers (h, z), splits (val, test):
    validation prefers no head (which must not be chosen), then k = 1.1; test prefers k = 1.5."""
    acc = np.zeros((4, 2, 1, 2, 2))
    acc[:, :, 0, 0, 0] = np.array([0.9, 0.8, 0.6, 0.7])[:, None]  # val at h
    acc[:, :, 0, 0, 1] = np.array([0.5, 0.6, 0.9, 0.7])[:, None]  # test at h
    acc[:, 1, 0, 0, 1] += [0.0, 0.02, 0.0, 0.04]  # seed 1 differs: paired values per seed
    untrained = np.full_like(acc, 0.25)
    untrained[:, :, 0, 1, 1] = 0.2  # the untrained networks' h - z: 5 points at test
    return {"heads": ["none", "k=1.1", "k=1.5", "mlp"], "tasks": ["class"], "layers": ["h", "z"],
            "splits": ["val", "test"], "acc": acc.tolist(), "untrained_acc": untrained.tolist(),
            "last_weights": [1.0, 0.05, 1e-4, None], "chance": {"class": 0.1}}


def test_select_kappa_never_looks_at_test_nor_picks_no_head():
    pick = rr.select_kappa(_fake_part(), "class", "h")
    assert pick["kappa"] == 1.1 and pick["val"] == pytest.approx(0.8)  # not 'none' (val 0.9)
    assert pick["test"] == pytest.approx(0.61)
    assert rr.fixed_heads(_fake_part()) == [1, 2]
    with pytest.raises(ValueError, match="task must be one of"):
        rr.select_kappa(_fake_part(), "digit")
    part = _fake_part()
    part["heads"] = ["none", "k=1", "mlp", "mlp2"]
    with pytest.raises(ValueError, match="no fixed head with k > 1"):
        rr.select_kappa(part, "class")


def test_h_comparison_pairs_the_three_networks_by_seed():
    c = rr.h_comparison(_fake_part(), "class")
    np.testing.assert_allclose(c["fixed"], [60, 62])
    np.testing.assert_allclose(c["mlp"], [70, 74])
    np.testing.assert_allclose(c["none"], [50, 50])


def test_comparison_control_and_table_are_computed():
    part = _fake_part()
    lines = rr.comparison_lines(part)
    assert lines[0].startswith("class at h: fixed head k = 1.1 (chosen on validation) 61.0")
    assert "MLP head 72.0" in lines[0] and "no head 50.0" in lines[0]
    rows = rr.kappa_table(part)
    assert rows[1][0] == "no head (k = 1)" and rows[-1][0] == "2-layer MLP head"
    assert rows[2][0] == "k=1.1 (w=5e-02)" and rows[3][1] == "90.0 ± 0.0"
    control = rr.control_rows(part)
    assert control[3][1].endswith("| +5.0")  # k=1.5: trained 90 - 0 at z, untrained 25 - 20


def test_heads_named_by_their_last_weight():
    for w, p in ((0.1, 32), (1e-8, 512), (0.5, 2)):
        k = rx.kappa_for(w, p)
        assert k > 1 and k ** -(p - 1) == pytest.approx(w)
    # participation ratio: all p coordinates without a head; (1 + r) / (1 - r), r = k^-2, for a
    # head whose weights vanish long before the last coordinate
    assert rx.effective_coordinates(1.0, 32) == pytest.approx(32)
    r = 1.5 ** -2
    assert rx.effective_coordinates(1.5, 400) == pytest.approx((1 + r) / (1 - r))
    with pytest.raises(ValueError, match="last weight"):
        rx.kappa_for(1.0, 32)
    cfg = get_profile("cpu").config("reweighting")
    names = rx.head_names(cfg)
    assert names[0] == "none" and names[-1] == "mlp" and len(names) == len(cfg.last_weights) + 2
    assert all(float(n[2:]) > 1 for n in names[1:-1])


def test_claims_read_the_h_comparison():
    from helpers import evidence
    payload = {"supcon": _fake_part(), "ce": _fake_part()}
    for part in payload.values():
        part["tasks"] = ["fine"]
    values = rx.claim_values(payload)
    assert set(values) == {c.id for c in rx.CLAIMS}
    a, b = values["ch8-supcon-fixed-beats-mlp"]
    np.testing.assert_allclose(a - b, [-10, -12])
    ev = evidence.evaluate(rx, payload)["ch8-supcon-fixed-beats-mlp"]
    assert ev.effect == pytest.approx(-11)
    # two seeds: half-width t(0.975, 1) * sd / sqrt(2) = 12.71 * 1.414 / 1.414, so 0 is inside
    assert ev.ci_high == pytest.approx(-11 + 12.706, abs=1e-2)
    assert evidence.verdict(rx.CLAIMS[0], ev) == "inconclusive"


def test_build_head():
    assert isinstance(rx.build_head("k=1.05", 16, get_profile("smoke").config("reweighting")),
                      FixedReweightingHead)
    assert isinstance(rx.build_head("mlp", 16, get_profile("smoke").config("reweighting")), MLPHead)
    assert rx.build_head("none", 16, None).kappa == 1.0
    with pytest.raises(ValueError, match="unknown head"):
        rx.build_head("linear", 16, None)
    with pytest.raises(ValueError, match="kappa must be a finite number >= 1"):
        rx.build_head("k=0", 16, None)


def test_load_data_shapes_and_splits():
    cfg = replace(get_profile("smoke").config("reweighting"), n_train=40, n_val=20, n_test=30)
    d = rx.load_data(cfg, "simclr", 0)
    assert d["pretrain"].shape == (40, 4, 16, 16) and d["pretrain_labels"] is None
    x, y = d["splits"]["val"]
    assert x.shape == (20, 3, 16, 16) and set(y) == {"class", "digit"}
    d = rx.load_data(cfg, "ce", 0)
    x, y = d["splits"]["test"]
    assert x.shape == (30, 3, 16, 16) and torch.equal(y["coarse"], y["fine"] // 2)
    with pytest.raises(ValueError, match="unknown setting"):
        rx.load_data(cfg, "byol", 0)


@pytest.mark.parametrize("setting", rx.SETTINGS)
def test_run_setting_end_to_end(setting):
    """Tiny sizes: the payload has (heads, seeds, tasks, layers, splits) accuracies in [0, 1],
    trained and untrained; no head is the identity, so its h and z probes agree exactly."""
    torch.set_num_threads(1)
    cfg = replace(get_profile("smoke").config("reweighting"), n_train=64, n_val=32, n_test=32,
                  last_weights=(1e-3,), batch_size=32, epochs=1)
    out = rx.run_setting(cfg, setting, 0, progress=False)
    acc, untrained = np.array(out["acc"]), np.array(out["untrained_acc"])
    assert out["heads"][0] == "none" and out["kappas"][0] == 1.0 and out["kappas"][-1] is None
    assert out["last_weights"][1] == pytest.approx(1e-3)
    assert acc.shape == untrained.shape == (3, 1, 2, 2, 2)
    assert np.all((acc >= 0) & (acc <= 1)) and np.all((untrained >= 0) & (untrained <= 1))
    np.testing.assert_array_equal(acc[0, :, :, 0], acc[0, :, :, 1])
    np.testing.assert_array_equal(untrained[0, :, :, 0], untrained[0, :, :, 1])
    if setting == "ce":  # the cheapest setting: same seed, same numbers
        assert out["acc"] == rx.run_setting(cfg, setting, 0, progress=False)["acc"]


def test_linear_model_is_its_own_registered_experiment():
    """Chapter 8's linear model runs through the registry (make full), not inside the report."""
    import json
    from dataclasses import replace

    from helpers import experiments
    from helpers.experiments import reweighting_linear

    assert "reweighting_linear" in experiments.names()
    cfg = replace(get_profile("smoke").config("reweighting_linear"), steps=500, probe_reps=3)
    out = reweighting_linear.run(cfg, seed=0, progress=False)
    K, d = len(cfg.kappas), len(cfg.phi)
    assert out["kappas"] == list(cfg.kappas) and np.asarray(out["sim_r2"]).shape == (K, 2)
    assert np.asarray(out["gains_theory"]).shape == np.asarray(out["gains_sim"]).shape == (K, 2, d)
    assert np.asarray(out["theory_r2"]).shape == (len(out["kappa_fine"]), 2)
    json.dumps({k: np.asarray(v).tolist() for k, v in out.items()})
