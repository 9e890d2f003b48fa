"""Part I's experiment modules: smoke runs, payload shapes, and the probe simulation's oracles."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import get_profile  # noqa: E402
from helpers.experiments import feature_weighting, lower_layer  # noqa: E402
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


def test_lower_layer_payload_and_figures(lower_payload):
    cfg = get_profile("smoke").config("lower_layer")
    assert np.shape(lower_payload["a"]["sim"]) == (len(cfg.sweep_p), 3)
    assert np.shape(lower_payload["grid"]["sim"]) == (len(cfg.grid_phi), len(cfg.grid_p), 3)
    assert set(lower_layer.agreement(lower_payload)) == {"a", "b", "c"}
    # least squares with many labels recovers the noiseless target at every layer
    np.testing.assert_allclose(lower_payload["probes"]["sim"][0], 1.0, atol=1e-8)
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
    a = lower_layer.probe_r2(P, phi, 40, 0.3, 20, np.random.default_rng(1))
    b = lower_layer.probe_r2(rotated, phi, 40, 0.3, 20, np.random.default_rng(1))
    assert a == pytest.approx(b, abs=1e-10)
    many = lower_layer.probe_r2(P, phi, 40, 0.3, 300, np.random.default_rng(2))
    theory = th.ridge_probe_r2(th.normalise_layer(phi * gains), 0, 40, 0.3)
    assert abs(many - theory) < 0.03


def test_stable_lr_shrinks_for_strong_features():
    weak = lower_layer.stable_lr(np.array([[0.1, 0.2]]), np.array([[0.4, 0.5]]), 0.05, 0.1)
    strong = lower_layer.stable_lr(np.array([[4.0, 0.2]]), np.array([[4.5, 0.5]]), 0.05, 0.1)
    assert strong[0] < weak[0] <= 0.05


def test_explorer_builds_a_widget():
    widget = feature_weighting.explorer()
    assert len(widget.children) > 3
    matplotlib.pyplot.close("all")
