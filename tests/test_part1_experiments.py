"""Part I's experiment modules: smoke runs, payload shapes, and the probe simulation's oracles."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import get_profile  # noqa: E402
from helpers.data.features import FeatureModel  # noqa: E402
from helpers.experiments import feature_weighting, lower_layer  # noqa: E402
from helpers.experiments import feature_weighting_report as fw_report  # noqa: E402
from helpers.theory import linear as th  # noqa: E402

PROV = {"profile": "smoke", "data_source": "synthetic-features", "device": "cpu", "seed": 0}


@pytest.fixture(scope="module")
def weighting_payload():
    return feature_weighting.run(get_profile("smoke").config("feature_weighting"), 0,
                                 progress=False)


@pytest.fixture(scope="module")
def lower_payload():
    return lower_layer.run(get_profile("smoke").config("lower_layer"), 0, progress=False)


def test_feature_weighting_payload(weighting_payload):
    cfg = get_profile("smoke").config("feature_weighting")
    assert [r["depth"] for r in weighting_payload["runs"]] == list(cfg.depths)
    for r in weighting_payload["runs"]:
        assert np.shape(r["sim_gains"]) == (r["depth"], len(cfg.phi))
        assert np.shape(r["imbalance"])[1] == r["depth"] - 1
    # the loss never goes below its theoretical minimum
    assert min(r["final_loss"] for r in weighting_payload["runs"]) >= \
        weighting_payload["optimal_loss"] - 1e-9
    assert "L = 2" in feature_weighting.summarize(weighting_payload)


def drawn(fig_or_ax) -> int:
    """How many data artists (lines, markers, patches, images) a figure (or an axes') holds."""
    fig = fig_or_ax if isinstance(fig_or_ax, matplotlib.figure.Figure) else fig_or_ax.figure
    return sum(len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.images)
               for ax in fig.axes)


def test_feature_weighting_figures(weighting_payload):
    for plot in (feature_weighting.plot_exponent_rule, feature_weighting.plot_balance,
                 feature_weighting.plot_spread):
        assert drawn(plot(weighting_payload, PROV)) > 0
    assert drawn(feature_weighting.plot_theory((1.0, 0.5), (0.0, 0.5), 0.3, 3)) > 0
    matplotlib.pyplot.close("all")


def test_spread_measures_grow_with_depth():
    gains = th.layer_gains(np.array([0.2, 0.5, 1.0]), 4)[1:]
    spread = feature_weighting.spread_measures(gains)
    assert np.all(np.diff(spread["effective_rank"]) < 0)
    assert np.all(np.diff(spread["max_over_min"]) > 0)
    assert spread["max_over_min"][-1] == pytest.approx(5.0)


def test_balance_report_reads_a_known_history():
    """Two recorded steps of a 3-layer run: growth, final imbalance, drift and its bound."""
    run = {"depth": 3, "init_scale": 0.1, "max_rel_error": 0.02, "loss": [0.0, -1.5, -2.0],
           "imbalance": [[0.1, 0.2], [0.12, 0.2], [0.13, 0.19]],
           "weight_scale": [[0.5, 1.0], [5.0, 10.0], [10.0, 40.0]]}
    row, = fw_report.balance_report({"runs": [run]}, lr=0.1)
    np.testing.assert_allclose(row["growth"], [20.0, 40.0])
    assert row["final_imbalance"] == pytest.approx(0.013)  # max(0.13 / 10, 0.19 / 40)
    assert row["drift"] == pytest.approx(0.03) and row["drift_bound"] == pytest.approx(0.2)
    assert row["rule_error"] == 0.02
    assert "x20, x40" in fw_report.format_balance([row])
    with pytest.raises(ValueError, match="lr"):
        fw_report.balance_report({"runs": [run]}, lr=0)
    with pytest.raises(ValueError, match="L >= 2"):
        fw_report.balance_report({"runs": [{**run, "depth": 1, "imbalance": [[], []]}]}, lr=0.1)


def test_plateaus_are_matched_to_the_features_learned():
    """A made-up loss history that learns feature 2, then feature 1, of a two-feature model."""
    phi, p, sigma = [1.0, 0.5], [0.0, 0.0], 0.5
    m, s = th.feature_moments(phi, p, sigma)
    share, opt = m**2 / s**2, th.optimal_loss(m, s)
    gaps = [share.sum()] * 3 + [1.0] + [share[0]] * 3 + [0.02] + [0.0] * 3
    payload = {"phi": phi, "p": p, "sigma": sigma, "optimal_loss": opt,
               "runs": [{"depth": 2, "loss": list(opt + np.array(gaps)),
                         "history_steps": list(range(0, 10 * len(gaps), 10))}]}
    found = fw_report.plateaus(payload)[0]["plateaus"]
    assert [pl["learned"] for pl in found] == [[], [2], [1, 2]]
    assert [pl["step"] for pl in found] == [0, 40, 80]
    assert max(pl["residual"] for pl in found) < 1e-12
    text = fw_report.format_plateaus([{"depth": 2, "plateaus": found}], payload)
    assert "ranked by m_i (largest first): 1, 2" in text


def test_gains_rank_falls_but_the_representation_rank_need_not():
    rng = np.random.default_rng(0)
    for _ in range(200):  # the entropy argument: any positive gains, any depth
        assert fw_report.gains_rank_is_monotone(rng.uniform(0.01, 3.0, 5), int(rng.integers(1, 7)))
    # the representation: an input (2, 1) whose loss equalises it, phi * g = (1, 1), gets MORE
    # isotropic with depth (effective rank 1.65 -> 1.89 -> 2), although its gains get less equal
    phi, g = np.array([2.0, 1.0]), np.array([0.5, 1.0])
    rep = fw_report.representation_spectrum(phi, th.layer_gains(g, 2)[1:])
    np.testing.assert_allclose(rep[0], phi)
    np.testing.assert_allclose(rep[-1], [1.0, 1.0])
    assert np.all(np.diff(th.effective_rank(rep)) > 0)
    assert np.all(np.diff(th.effective_rank(th.layer_gains(g, 2))) < 0)
    with pytest.raises(ValueError, match="gains_by_layer"):
        fw_report.representation_spectrum(phi, np.ones((2, 3)))


def test_spectra_and_report_figures(weighting_payload):
    cfg = get_profile("smoke").config("feature_weighting")
    rows = fw_report.spectra(weighting_payload)
    for row in rows:
        assert len(row["gains"]) == row["depth"] + 1
        assert row["gains"][0] == pytest.approx(len(cfg.phi))  # the input: all gains 1
        assert row["representation"][0] == pytest.approx(th.effective_rank(np.array(cfg.phi)))
        # the top layer's spectrum is the loss's, whatever the depth
        assert row["representation"][-1] == pytest.approx(rows[0]["representation"][-1])
    assert "L = 2" in fw_report.format_spectra(rows)
    assert fw_report.plot_representation_spectrum(weighting_payload, PROV) is not None
    assert fw_report.plot_data_model(FeatureModel((1.5, 1.0), (0.6, 0.0), 0.5)) is not None
    with pytest.raises(ValueError, match="2 features"):
        fw_report.plot_data_model(FeatureModel((1.5,), (0.6,), 0.5))
    matplotlib.pyplot.close("all")


def test_lower_layer_payload_and_figures(lower_payload):
    cfg = get_profile("smoke").config("lower_layer")
    assert np.shape(lower_payload["a"]["sim"]) == (len(cfg.sweep_p), 3)
    assert np.shape(lower_payload["grid"]["sim"]) == (len(cfg.grid_phi), len(cfg.grid_p), 3)
    agree = lower_layer.agreement(lower_payload)
    assert set(agree) == {"a", "b", "c"} and set(agree["a"]) == {"diff", "shortfall"}
    # least squares with many labels: the same predictions at every (invertible) layer, so the
    # same R^2 on the same draws, even with label noise
    ls = lower_payload["probes"]["sim"][0]
    np.testing.assert_allclose(ls, ls[0], atol=1e-8)
    assert lower_payload["probes"]["names"][0].startswith("least squares")
    # the tuned probe's penalties (medians over draws) lie within the candidate grid
    grid = lower_layer.ridge_grid(cfg)
    chosen = np.asarray(lower_payload["a"]["ridge"])
    assert chosen.min() >= grid.min() and chosen.max() <= grid.max()
    rows = lower_layer.claims_table(lower_payload)
    assert [r["case"] for r in rows] == [c[0] for c in cfg.claim_cases]
    for r in rows:
        assert r["low"] <= r["mean"] <= r["high"] and r["n_seeds"] == cfg.n_seeds
    for plot in (lower_layer.plot_sweeps, lower_layer.plot_probes, lower_layer.plot_regions):
        assert drawn(plot(lower_payload, PROV)) > 0
    matplotlib.pyplot.close("all")


def test_probe_r2_is_rotation_invariant_and_matches_theory():
    """The simulated probe sees a layer only through its feature scales: rotating the layer
    changes nothing, and on a diagonal layer it agrees with the ridge formula."""
    rng = np.random.default_rng(0)
    d = 30
    phi = np.exp(rng.normal(0, 0.4, d))
    gains = np.exp(rng.normal(0, 0.4, d))
    Q, _ = np.linalg.qr(rng.standard_normal((d + 5, d + 5)))
    P = np.diag(gains)
    rotated = Q[:, :d] @ P
    grid = np.geomspace(1e-3, 10, 9)
    for ridge in (0.3, grid):  # a fixed penalty, and one tuned by leave-one-out
        a = lower_layer.probe_r2(P, phi, 40, ridge, 20, np.random.default_rng(1), 0.3)
        b = lower_layer.probe_r2(rotated, phi, 40, ridge, 20, np.random.default_rng(1), 0.3)
        assert a == pytest.approx(b, abs=1e-10)
    many, se = _mean_se(lower_layer.probe_layers([P], phi, 40, 0.3, 300,
                                                 np.random.default_rng(2), 0.3)[0][:, 0])
    theory = th.ridge_probe_r2(th.normalise_layer(phi * gains), 0, 40, 0.3, label_noise=0.3)
    assert abs(many - theory) < 0.03 + 4 * se
    # tuning on the labels can only lose against the oracle-tuned limit (up to its finite size)
    tuned, se = _mean_se(lower_layer.probe_layers([P], phi, 40, grid, 300,
                                                  np.random.default_rng(3), 0.3)[0][:, 0])
    oracle, _ = th.tuned_ridge_probe_r2(th.normalise_layer(phi * gains), 0, 40, grid, 0.3)
    assert tuned < oracle + 0.03 + 4 * se


def _mean_se(x):
    return float(np.mean(x)), float(np.std(x) / np.sqrt(len(x)))


def test_t_interval_matches_the_t_table():
    """Five values with sd 1: half-width t_{0.975, 4} / sqrt(5) = 2.7764 / sqrt(5)."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    x = x / x.std(ddof=1) + 3.0
    mean, low, high = lower_layer.t_interval(x)
    assert mean == pytest.approx(3.0)
    assert high - mean == pytest.approx(2.7764451 / np.sqrt(5), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    with pytest.raises(ValueError, match="at least 2"):
        lower_layer.t_interval([1.0])


def test_chapter3_claims_read_pre_and_post_per_seed():
    from helpers import evidence as ev

    sim = [[[0.1, 0.8, 0.5]] * 3 + [[0.1, 0.85, 0.5]] * 2,  # (a): pre wins
           [[0.1, 0.7, 0.6]] * 4 + [[0.1, 0.7, 0.65]],  # (b) strong: pre wins
           [[0.1, 0.5, 0.6]] * 5]  # (b) moderate: post wins, as predicted
    payload = {"claims": {"names": list(lower_layer._PREDICTED), "sim": sim}}
    found = ev.evaluate(lower_layer, payload)
    assert found["ch3-disrupted-target"].effect == pytest.approx(0.32)
    assert [ev.verdict(c, found[c.id]) for c in lower_layer.CLAIMS[:2]] == [ev.SUPPORTED] * 2
    moderate = found["ch3-moderate-target"]  # every seed -0.1: a zero-width interval below 0
    assert moderate.effect == pytest.approx(-0.1)
    assert ev.verdict(lower_layer.CLAIMS[2], moderate) == ev.SUPPORTED  # predicted negative


def test_stable_lr_shrinks_for_strong_features():
    weak = lower_layer.stable_lr(np.array([[0.1, 0.2]]), np.array([[0.4, 0.5]]), 0.05, 0.1)
    strong = lower_layer.stable_lr(np.array([[4.0, 0.2]]), np.array([[4.5, 0.5]]), 0.05, 0.1)
    assert strong[0] < weak[0] <= 0.05


def test_explorer_builds_a_widget():
    widget = feature_weighting.explorer()
    assert len(widget.children) > 3
    matplotlib.pyplot.close("all")
