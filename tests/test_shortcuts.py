"""Chapter 7's experiment (helpers.experiments.shortcuts), report and exercise checks."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from helpers import checks
from helpers.experiments import shortcut_report as report
from helpers.experiments import shortcuts as S
from helpers.metrics import METRICS, shortcut_metrics
from helpers.profiles import get_profile
from helpers.checks.shortcuts import GAP_KEYS, _lle_reference, _metrics_case, _pooled_variant, _reference

SMOKE = get_profile("smoke").config("shortcuts")


def test_profiles_are_sized_sensibly():
    for name in ("smoke", "cpu", "gpu", "paper"):
        cfg = get_profile(name).config("shortcuts")
        assert cfg.n_val % 8 == 0 and cfg.n_test % 8 == 0 and cfg.n_learn % 8 == 0
        assert set(cfg.methods + cfg.first_seed_methods) <= set(S.METHODS)
    assert get_profile("cpu").config("shortcuts").n_train == 8000
    assert get_profile("cpu").config("shortcuts").n_seeds >= 3


def test_conv_encoder_layers_and_network():
    enc = S.ConvEncoder(4)
    f = enc.forward_features(torch.rand(2, 3, 32, 32))
    assert [v.shape for v in f.values()] == [(2, 4), (2, 8), (2, 16), (2, 32)]
    net = S.build_network(SMOKE, "erm_head")
    h, z, logits = net.eval()(torch.rand(3, 3, 32, 32))
    assert h.shape == (3, 32) and z.shape == (3, SMOKE.head_out) and logits.shape == (3, 2)
    assert S.layer_names("erm")[-1] == S.PRE and S.layer_names("supcon_head")[-1] == S.POST
    with pytest.raises(ValueError, match="unknown method"):
        S.build_network(SMOKE, "jtt")
    with pytest.raises(ValueError, match="width"):
        S.ConvEncoder(0)


class _Set:
    def __init__(self, labels, groups):
        self.labels, self.extra = labels, {"group": groups}


def _spurious_features(n, rng, p_agree):
    """Feature 0: the label (weakly, noisy); feature 1: a spurious cue agreeing w.p. p_agree."""
    y = rng.integers(0, 2, n)
    s = np.where(rng.random(n) < p_agree, y, 1 - y)
    X = np.stack([y + 0.6 * rng.standard_normal(n), 3 * s + 0.1 * rng.standard_normal(n)], 1)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y), torch.tensor(2 * y + s)


def test_dfr_on_balanced_val_ignores_the_spurious_feature():
    rng = np.random.default_rng(0)
    Xv, yv, gv = _spurious_features(400, rng, 0.5)  # balanced validation
    Xt, yt, gt = _spurious_features(400, rng, 0.5)
    pred, l2 = S.dfr(Xv, _Set(yv, gv), Xt, (1e-3, 1e-1), seed=0)
    worst = min(float((pred[gt == g] == yt[gt == g]).float().mean()) for g in range(4))
    assert worst > 0.65 and l2 in (1e-3, 1e-1)
    # an ERM-like probe fit on correlated data leans on the spurious feature instead
    Xs, ys, _ = _spurious_features(2000, rng, 0.95)
    erm = S._fit(Xs, ys, 2, 1e-3).predict(Xt)
    assert min(float((erm[gt == g] == yt[gt == g]).float().mean()) for g in range(4)) < worst


def test_end_to_end_lle_loss_is_the_authors_sum_of_two_cross_entropies():
    """urbancars_trainers/lle.py: loss = CE(head of the image's distribution, y) + CE(s, k);
    the engine's plain cross-entropy on the joint logits and labels must give exactly that."""
    torch.manual_seed(0)
    clf = S.LLEClassifier(5, n_classes=2, n_shifts=3)
    h = torch.randn(12, 5)
    y = [torch.randint(0, 2, (4,)) for _ in range(3)]  # 4 images from each distribution
    joint = S.joint_labels(y)
    assert joint.tolist() == [k * 2 + int(c) for k in range(3) for c in y[k]]
    clf.train()
    got = torch.nn.functional.cross_entropy(clf(h), joint)
    heads = clf.heads(h).view(12, 3, 2)
    k = torch.arange(3).repeat_interleave(4)
    want = (torch.nn.functional.cross_entropy(heads[torch.arange(12), k], torch.cat(y))
            + torch.nn.functional.cross_entropy(clf.shift_predictor(h), k))
    assert torch.allclose(got, want, atol=1e-6)
    clf.eval()  # inference: the heads' logits mixed by the shift predictor's softmax
    w = torch.softmax(clf.shift_predictor(h), dim=1)
    assert torch.allclose(clf(h), sum(w[:, j, None] * heads[:, j] for j in range(3)), atol=1e-6)
    assert torch.allclose(_lle_reference(clf.shift_predictor(h), heads), clf(h), atol=1e-6)
    with pytest.raises(ValueError, match="n_shifts >= 2"):
        S.LLEClassifier(5, 2, 1)


def test_end_to_end_lle_trains_on_the_pooled_distributions():
    cfg = replace(SMOKE, n_train=96, batch_size=32, epochs=3)
    data = S.load_data(cfg, 0)
    assert S.lle_epochs(cfg) == 1 and S.lle_epochs(replace(cfg, epochs=6)) == 2
    (net,) = S.train_method(cfg, "lle_e2e", data, [0], "cpu", progress=False)
    assert isinstance(net.classifier, S.LLEClassifier) and net.selection["epoch"] == 1
    logits = S.layer_features(net, data["test"].images[:8], "cpu")["logits"]
    assert logits.shape == (8, 2)  # eval mode: the mixed 2-way logits
    out = S.evaluate(net, "lle_e2e", data, cfg, 0, "cpu")
    assert "own" in out and "dfr" not in out and "lle" not in out
    with pytest.raises(ValueError, match="lle_e2e trains on"):
        S.train_method(cfg, "lle_e2e", {k: data[k] for k in ("train", "val")}, [0], "cpu",
                       progress=False)


def test_lle_inference_mixes_logits_as_the_authors():
    """model/classifiers.py, LastLayerEnsemble.forward at eval: sum_k softmax(s)_k head_k."""
    rng = np.random.default_rng(1)
    feats = [torch.tensor(rng.standard_normal((60, 3)), dtype=torch.float32) + k for k in range(3)]
    labels = [torch.tensor(rng.integers(0, 2, 60)) for _ in range(3)]
    lle = S.LastLayerEnsemble(1e-2).fit(feats, labels)
    X = torch.tensor(rng.standard_normal((7, 3)), dtype=torch.float32)
    heads = torch.stack([h.decision(X) for h in lle.heads], dim=1)  # (7, 3, 2)
    w = torch.softmax(lle.shift_predictor.decision(X), dim=1)
    want = sum(w[:, k, None] * heads[:, k] for k in range(3))  # written out head by head
    assert torch.allclose(lle.decision(X), want, atol=1e-6)
    assert torch.equal(lle.predict(X), want.argmax(1))
    assert torch.allclose(_lle_reference(lle.shift_predictor.decision(X), heads), want, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        S.LastLayerEnsemble(1e-2).fit(feats[:1], labels[:1])


def test_l1_logistic_fit_is_optimal_and_sparse():
    """KKT conditions of min ||W||_1 + C sum CE (an oracle independent of the solver): the mean
    loss's gradient g satisfies g_j = -lam sign(w_j) where w_j != 0 and |g_j| <= lam elsewhere."""
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((300, 12)), dtype=torch.float32)
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.8 * torch.tensor(rng.standard_normal(300)) > 0).long()
    nonzero = []
    for C in (0.3, 0.03, 0.003):
        probe = S.l1_logistic_fit(X, y, 2, C, iters=5000, tol=1e-12)
        Xs = ((X - probe.mean) / probe.std).double()
        P = torch.softmax(Xs @ probe.weight.double() + probe.bias.double(), dim=1)
        g = Xs.T @ (P - torch.nn.functional.one_hot(y, 2).double()) / len(X)
        lam, W = 1 / (C * len(X)), probe.weight.double()
        on = W.abs() > 1e-6
        assert torch.allclose(g[on], -lam * torch.sign(W[on]), atol=2e-4)
        assert (g[~on].abs() <= lam + 2e-4).all()
        nonzero.append(int(on.any(1).sum()))
    assert nonzero[0] > nonzero[-1]  # a stronger penalty keeps fewer features
    with pytest.raises(ValueError, match="C is"):
        S.l1_logistic_fit(X, y, 2, 0.0)


def test_dfr_penalties_and_choice_shown():
    rng = np.random.default_rng(2)
    from helpers.data.urbancars import make_urbancars
    val = make_urbancars("val", size=16, seed=0, n=80)
    X = torch.tensor(rng.standard_normal((80, 6)), dtype=torch.float32) + val.labels[:, None]
    for penalty, grid in (("l1", (1.0, 0.1)), ("l2", (1e-3, 1e-1))):
        pred, value = S.dfr(X, val, X, grid, 0, penalty)
        assert value in grid and pred.shape == (80,)
    with pytest.raises(ValueError, match="penalty"):
        S.dfr(X, val, X, (1.0,), 0, "l3")


def test_model_selection_keeps_the_best_worst_group_epoch(monkeypatch):
    """Li et al. select the epoch with the best worst-group validation accuracy; ties: later."""
    scores = iter([0.2, 0.9, 0.5, 0.9, 0.1])
    monkeypatch.setattr(S, "layer_features", lambda net, x, device: {"logits": torch.zeros(4, 2)})
    monkeypatch.setattr(S, "_group_worst", lambda pred, y, g: next(scores))
    net = torch.nn.Linear(1, 1)
    select = S._WorstGroupSelection([net], S.make_urbancars("val", size=16, seed=0, n=8), "cpu")
    for epoch in range(1, 6):
        with torch.no_grad():
            net.weight.fill_(float(epoch))
        select(epoch)
    select.restore()
    assert net.weight.item() == 4.0  # epochs 2 and 4 tie at 0.9: the later is kept
    assert net.selection == {"epoch": 4, "val_worst_group": [0.2, 0.9, 0.5, 0.9, 0.1]}


@pytest.fixture(scope="module")
def payload():
    # two seeds (an interval exists), short penalty grids (the fits dominate at this size)
    cfg = replace(SMOKE, methods=("erm", "erm_head", "erm_bgaug", "erm_coaug", "lle_e2e"),
                  first_seed_methods=("erm_head_wm",), n_seeds=2, l2_grid=(1e-3, 1e-1),
                  dfr_c_grid=(1.0, 0.1))
    return S.run(cfg, 0, progress=False)


PROV = {"profile": "smoke", "data_source": "urbancars-standin", "device": "cpu", "seed": 0}


def test_run_structure_and_ranges(payload):
    assert payload["methods"] == ["erm", "erm_head", "erm_bgaug", "erm_coaug", "lle_e2e",
                                  "erm_head_wm"]
    assert payload["seeds"] == [0, 1] and all(len(payload["runs"][m]) == 2 for m in
                                              ("erm", "erm_head", "erm_bgaug", "erm_coaug"))
    run = payload["runs"]["erm_head"][0]
    assert set(run["dfr"]) == set(S.layer_names("erm_head"))
    assert set(run["lle"]) == set(run["pooled"]) == set(run["dfr_l2"]) == {S.PRE, S.POST}
    assert run["dfr"]["h"]["penalty"] == "l1" and run["dfr"]["h"]["value"] in (1.0, 0.1)
    assert run["selection"]["epoch"] == 1 and len(run["selection"]["val_worst_group"]) == 1
    for res in (list(run["dfr"].values()) + list(run["lle"].values())
                + list(run["pooled"].values()) + [run["own"]]):
        assert 0 <= res["id_acc"] <= 1 and 0 <= res["worst_group"] <= 1
        assert -1 <= res["both_gap"] <= 1
    assert set(run["shifts"][S.PRE]) == set(S.TEST_SHIFTS)
    wm = payload["runs"]["erm_head_wm"][0]
    assert "dfr" not in wm and {"watermark_add", "watermark_remove"} <= set(wm["shifts"][S.PRE])
    assert set(payload["learnability"]) == {"car (label)", "background", "co-object"}
    sweep = payload["sweep"]  # the smoke profile sweeps agreements 0.5 and 0.95
    assert sweep["agreements"] == [0.5, 0.95]
    for key in ("own", "dfr_h", "dfr_z"):
        assert len(sweep[key]) == 2 and all(-1 <= m["both_gap"] <= 1 for m in sweep[key])


def test_no_sweep_without_correlations():
    cfg = replace(SMOKE, methods=("erm",), first_seed_methods=(), correlations=())
    assert S.run(cfg, 0, progress=False)["sweep"] is None


def test_report_table_and_comparison(payload):
    rows = report.table_rows(payload)
    assert rows and all(set(METRICS) <= set(r) for r in rows)
    text = report.format_table(rows)
    for name in ("DFR (L1) at h (pre-projection)", "DFR (L2) at z (post-projection)",
                 "LLE at h", "one head, pooled swaps at h"):
        assert name in text
    lines = report.paper_comparison(payload)
    assert lines[1].startswith("ERM BG+CoObj gap: paper -69.2") and "PAPERS.md" in lines[0]
    wam = report.whac_a_mole(payload)
    assert wam["bg_gap_change"] == pytest.approx(wam["erm_bgaug"]["bg_gap"] - wam["erm"]["bg_gap"])


# Learnability curves (2 seeds x 2 epochs) of a stand-in that passes the structure check: at smoke
# size (one epoch) the real curves are all near chance, which would void every claim.
SHORTCUTS_FIRST = {"car (label)": [[0.5, 0.6], [0.5, 0.62]], "background": [[0.9, 1.0], [0.92, 1.0]],
                   "co-object": [[0.7, 0.9], [0.75, 0.92]]}


def test_claims_are_paired_by_seed_and_printed_from_verdicts(payload):
    from helpers import evidence
    payload = {**payload, "learnability": SHORTCUTS_FIRST}
    values = S.claim_values(payload)
    assert set(values) == {c.id for c in S.CLAIMS}
    a, b = values["ch7-wam-bg-raises-coobj"]
    runs = payload["runs"]
    assert a.tolist() == [100 * r["own"]["coobj_gap"] for r in runs["erm_bgaug"]]
    assert b.tolist() == [100 * r["own"]["coobj_gap"] for r in runs["erm"]]
    a, b = values["ch7-dfr-h-beats-z"]
    assert a.tolist() == [100 * r["dfr"]["h"]["worst_group"] for r in runs["erm_head"]]
    rows = report.claim_rows(payload, PROV)
    assert all(r.n_seeds == 2 and r.evidence is not None for r in rows.values())
    wam = report.whac_a_mole_lines(payload, PROV)
    combined = evidence.combined_verdict([rows[c].verdict for c in report.WAM_CLAIMS])
    assert wam[-1].endswith(f"(both claims supported): {combined}")
    assert len(report.findings(payload, PROV)) == len(S.CLAIMS)
    boxes = report.reproduction(payload, PROV, SMOKE)
    assert len(boxes) == len(S.CLAIMS) and "-69.2" in boxes[-1] and "PAPERS.md" in boxes[-1]


def test_report_lines_are_computed_from_the_payload(payload):
    """What the chapter's cells print (moved out of the notebook): numbers from the payload."""
    dfr = report.dfr_layer_lines(payload)
    run = payload["runs"]["erm_head"][0]["dfr"]
    assert len(dfr) == len(payload["runs"]["erm_head"])
    assert f"worst group h {100 * run['h']['worst_group']:.1f} vs z {100 * run['z']['worst_group']:.1f}" in dfr[0]
    lle = report.lle_lines(payload)
    assert any(line.startswith("ERM, no head, at h: BG+CoObj gap DFR (L1)") for line in lle)
    e2e = 100 * np.mean([r["own"]["both_gap"] for r in payload["runs"]["lle_e2e"]])
    assert any(line.startswith(f"LLE, trained end to end, own classifier: BG+CoObj gap {e2e:+.1f}")
               for line in lle)
    a, b = S.claim_values(payload)["ch7-lle-e2e-beats-erm"]
    assert a.tolist() == [100 * r["own"]["both_gap"] for r in payload["runs"]["lle_e2e"]]
    assert b.tolist() == [100 * r["own"]["both_gap"] for r in payload["runs"]["erm"]]
    shifts = report.shift_lines(payload)
    assert any(line.startswith("watermark model, own") for line in shifts)
    sweep = report.sweep_lines(payload)
    assert len(sweep) == len(payload["sweep"]["agreements"]) + 1


def test_report_figures_draw(payload):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    prov = {"profile": "smoke", "data_source": "x", "device": "cpu", "seed": 0}
    for fig in (report.plot_dfr_by_layer(payload, prov), report.plot_whac_a_mole(payload, prov),
                report.plot_shifts(payload, prov), report.plot_learnability(payload, prov),
                report.plot_correlation_sweep(payload, prov), report.plot_lle(payload, prov)):
        assert fig.axes
        plt.close(fig)
    fig, ax = plt.subplots()
    report.metric_drawer(payload)(ax, "erm", "DFR (L1) at h")
    report.sweep_drawer(payload)(ax, 0.95)
    assert len(ax.patches) == 3 * len(METRICS)  # three read-outs x five metrics
    plt.close(fig)


def test_checks_accept_reference_and_diagnose_mistakes():
    # the book's function agrees with the check's loop reference, but is refused as an answer
    for case in [_metrics_case(s, 200, 0.8) for s in range(3)]:
        ours = shortcut_metrics(*case)
        np.testing.assert_allclose([ours[k] for k in GAP_KEYS], _reference(*case), atol=1e-12)
    for book in (shortcut_metrics, lambda *a: shortcut_metrics(*a)):
        with pytest.raises(AssertionError, match="book's own `helpers.metrics.shortcut_metrics`"):
            checks.check_shortcut_metrics(book)
    assert checks.check_shortcut_metrics(
        lambda *a: dict(zip(GAP_KEYS, _reference(*map(np.asarray, a)))))
    assert checks.check_lle_mixture(_lle_reference)
    with pytest.raises(AssertionError, match="pooled"):
        checks.check_shortcut_metrics(
            lambda *a: dict(zip(("id_acc", "bg_gap", "coobj_gap", "both_gap"), _pooled_variant(*a))))
    # the authors' rule (logits mixed) passes; mixing probabilities is diagnosed
    assert checks.check_lle_mixture(lambda s, h: (torch.softmax(s, 1)[:, :, None] * h).sum(1))
    with pytest.raises(AssertionError, match="mix their logits"):
        checks.check_lle_mixture(lambda s, h: (torch.softmax(s, 1)[:, :, None]
                                               * torch.softmax(h, 2)).sum(1))

    def stub(*a):
        raise NotImplementedError("Exercise ch07-ex-metrics: write it")
    with pytest.raises(NotImplementedError):
        checks.check_shortcut_metrics(stub)


def test_resnet18_arch_path_of_the_gpu_profile():
    cfg = replace(get_profile("gpu").config("shortcuts"), width=2, head_hidden=16, head_out=8)
    net = S.build_network(cfg, "supcon_head")
    feats = S.layer_features(net, torch.randint(0, 255, (3, 3, 32, 32), dtype=torch.uint8), "cpu")
    assert list(feats) == S.layer_names("supcon_head") + ["logits"]
    assert feats[S.PRE].shape == (3, 16) and feats[S.POST].shape == (3, 8)


def test_the_real_layout_runs_through_the_chapter(tmp_path, monkeypatch):
    """The paper profile's path on tiny files in the authors' layout (masks included): the LLE's
    swaps are composited from the released masks and bg_only; no stand-in shift sets."""
    from test_urbancars import _write_urbancars  # tests/test_urbancars.py: the authors' layout

    _write_urbancars(tmp_path / "urbancars", per_group=4, size=(16, 16))
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    cfg = replace(SMOKE, data="urbancars", size=16, n_probe=32, batch_size=16,
                  l2_grid=(1e-2,), dfr_c_grid=(1.0,))
    data = S.load_data(cfg, 0)
    assert set(data) == {"train", "val", "test", "train_bg_swap", "train_coobj_swap"}
    assert len(data["train"]) == 32 and "bg_only" in data["train"].extra
    net = S.train_method(cfg, "erm", data, 0, "cpu", progress=False)
    out = S.evaluate(net, "erm", data, cfg, 0, "cpu")
    assert set(out["lle"]) == set(out["pooled"]) == {S.PRE} and out["shifts"][S.PRE] == {}
    assert 0 <= out["lle"][S.PRE]["worst_group"] <= 1


def test_learnability_per_seed_and_the_two_shortcut_structure_check(payload):
    """Every seed has its learnability curves; the structure check compares each shortcut's mean
    accuracy over epochs with the car's, paired by seed, and a car learned first voids the
    claims (not tested) instead of grading them."""
    from helpers import evidence
    learn = payload["learnability"]
    assert set(learn) == set(S.LEARNABILITY_CUES)
    assert all(np.asarray(c).shape == (2, SMOKE.learn_epochs) for c in learn.values())
    a, b = S.structure_values(payload)["ch7-coobj-before-car"]
    assert a.tolist() == pytest.approx((100 * np.asarray(learn["co-object"]).mean(1)).tolist())
    assert b.tolist() == pytest.approx((100 * np.asarray(learn["car (label)"]).mean(1)).tolist())
    shortcuts_first = SHORTCUTS_FIRST
    lines = evidence.check_structure(S, {**payload, "learnability": shortcuts_first}, enforce=False)
    assert len(lines) == 2 and all(line.endswith("passed") for line in lines)
    car_first = {**shortcuts_first, "co-object": [[0.5, 0.55], [0.5, 0.58]]}
    failing = {**payload, "learnability": car_first}
    assert evidence.structure_failures(S, failing) == ["ch7-coobj-before-car"]
    with pytest.raises(evidence.StandInError, match="co-object is learned faster"):
        evidence.check_structure(S, failing)
    rows = evidence.module_rows(S, failing, PROV)
    assert all(r.status == evidence.STAND_IN_FAILED for r in rows)
    real = {**payload, "learnability": None}  # real folders: no learnability runs, not checked
    assert evidence.structure_failures(S, real) == []
    assert all("not applicable" in line for line in evidence.check_structure(S, real))
    assert report.plot_learnability(real, PROV) is None
    assert "not the procedural stand-in" in report.learnability_lines(real)[0]
