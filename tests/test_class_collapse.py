"""Chapter 6, class collapse: hierarchy data, real loaders on tiny pickles, closed forms against
simulation, the toy mechanism, the image experiment at smoke size, and the exercise checks."""

import hashlib
import pickle

import numpy as np
import pytest
import torch

from helpers import checks
from helpers.checks.class_collapse import fine_gaps, positive_mask
from helpers.data import cifar
from helpers.data.hierarchy import (CIFAR10_COARSE, CIFAR10_GROUPS, FAMILIES, HUE_FAMILIES,
                                    SHAPE_FINE, coarse_names, coarse_of_fine, group_cifar10,
                                    load_hierarchy, make_hierarchy, make_hue_hierarchy,
                                    read_hue_class)
from helpers.data.procedural import HUES, SHAPES, make_shapes
from helpers.data.registry import split_seed
from helpers.experiments import class_collapse as cc
from helpers.experiments import collapse_toy as toy
from helpers.heads import FixedReweightingHead
from helpers.profiles import get_profile
from helpers.theory import collapse as theory

# ------------------------------------------------------------------------ stand-in data


def test_hierarchy_counts_labels_and_families():
    s = make_hierarchy(103, seed=3, size=16)
    assert s.images.shape == (103, 3, 16, 16) and s.images.dtype == torch.uint8
    counts = torch.bincount(s.labels, minlength=10)
    assert counts.min() >= 10 and counts.max() <= 11  # balanced fine classes
    assert torch.equal(s.extra["coarse"], s.labels // 2)
    families = list(FAMILIES)
    for f in range(10):  # every fine class sits in the family that names it
        assert SHAPE_FINE[f] in FAMILIES[families[f // 2]]
    assert coarse_of_fine(s).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_hierarchy_fine_label_is_the_drawn_shape_and_nuisances_are_independent():
    n, seed = 2000, 5
    s = make_hierarchy(n, seed)
    base = make_shapes(n, seed, colour_strength=0.0, texture_strength=0.0)
    assert torch.equal(s.images, base.images)
    assert [SHAPE_FINE[f] for f in s.labels.tolist()] == [SHAPES[k] for k in base.extra["shape"].tolist()]
    # colour carries no label: each fine class's colour histogram is near uniform (10 hues)
    for f in range(10):
        share = torch.bincount(s.extra["colour"][s.labels == f], minlength=10).double() / (n / 10)
        assert share.max() < 0.25


def test_hue_hierarchy_counts_families_and_nuisances():
    n = 2000
    s = make_hue_hierarchy(n, seed=4, size=16)
    assert s.images.shape == (n, 3, 16, 16) and s.classes == list(HUES)
    assert torch.bincount(s.labels, minlength=10).tolist() == [200] * 10
    assert torch.equal(s.extra["coarse"], s.labels // 2)
    names = list(HUE_FAMILIES)
    for f in range(10):
        assert HUES[f] in HUE_FAMILIES[names[f // 2]]
    base = make_shapes(n, 4, size=16, shape_strength=0.0, colour_strength=1.0, texture_strength=0.0)
    assert torch.equal(s.images, base.images) and torch.equal(s.labels, base.extra["colour"])
    for f in range(10):  # the shape carries no label
        share = torch.bincount(s.extra["shape"][s.labels == f], minlength=10).double() / (n / 10)
        assert share.max() < 0.25
    assert torch.equal(load_hierarchy("hue-families", "train", 30, 1, size=16).images,
                       make_hue_hierarchy(30, split_seed(1, "train"), size=16).images)
    assert coarse_names("hue-families") == names


def _oracle_classes(images, masks):
    """read_hue_class's rule, written independently: colorsys on the mean colour of the pixels
    the mask covers at least 90 %, one image at a time."""
    import colorsys

    out = []
    for img, m in zip(images.double() / 255, masks.double() / 255):
        core = m >= 0.9
        if core.sum() < 4:
            out.append(-1)
            continue
        r, g, b = (img[c][core].mean().item() for c in range(3))
        h, s, _ = colorsys.rgb_to_hsv(r, g, b)
        out.append(-1 if s < 0.1 else int(np.floor(h * 10 + 0.5)) % 10)
    return torch.tensor(out)


def test_hue_oracle_matches_colorsys_and_reads_the_clean_labels():
    s = make_hue_hierarchy(400, seed=3, size=32, return_masks=True)
    assert torch.equal(s.images, make_hue_hierarchy(400, seed=3, size=32).images)  # same images
    assert s.extra["mask"].shape == (400, 32, 32) and s.extra["mask"].dtype == torch.uint8
    read = read_hue_class(s.images, s.extra["mask"])
    assert torch.equal(read, _oracle_classes(s.images, s.extra["mask"]))
    # the generator draws hue c / 10 + N(0, 0.02): 1.2 % of objects lie nearer the next class
    assert 0.96 <= (read == s.labels).float().mean() <= 1.0


def test_hue_oracle_edge_cases():
    grey = torch.full((2, 3, 8, 8), 128, dtype=torch.uint8)
    full = torch.full((2, 8, 8), 255, dtype=torch.uint8)
    assert read_hue_class(grey, full).tolist() == [-1, -1]  # no hue
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    assert read_hue_class(red, torch.ones(1, 8, 8)).tolist() == [0]
    assert read_hue_class(red, torch.zeros(1, 8, 8)).tolist() == [-1]  # object cropped away
    pink = torch.stack([torch.full((8, 8), v) for v in (1.0, 0.0, 0.38)])[None]  # hue 0.937
    assert read_hue_class(pink, torch.ones(1, 8, 8)).tolist() == [9]
    with pytest.raises(ValueError, match="masks must be"):
        read_hue_class(red, torch.ones(1, 4, 4))
    with pytest.raises(ValueError, match="images must be"):
        read_hue_class(red[:, :2], torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match="no object masks"):
        load_hierarchy("cifar100", "train", 10, 0, return_masks=True)


def test_structure_check_passes_without_hue_jitter_and_fails_with_simclrs():
    from helpers import evidence as ev

    cfg = get_profile("cpu").config("class_collapse", n_train=600)
    seeds = [0, 1, 2, 3, 4]
    views = {name: cc.views_keep_hue(cfg, 0, seeds, jitter, hue) for name, (jitter, hue) in
             {"chapter": (cfg.jitter, cfg.hue), "crops_only": (0.0, 0.0),
              "simclr_hue": (cfg.jitter, None)}.items()}
    for v in views.values():
        assert np.allclose(np.sum([v[k] for k in ("kept", "moved", "unreadable")], 0), 1)

    def kept(name):
        k, m = np.asarray(views[name]["kept"]), np.asarray(views[name]["moved"])
        return 100 * np.mean(k / (k + m))

    assert cfg.hue == 0.0
    assert ev.structure_failures(cc, {"views_keep_label": {"chapter": views["chapter"]}}) == []
    assert ev.structure_failures(cc, {"views_keep_label": {"chapter": views["simclr_hue"]}}) == [
        "ch6-views-keep-fine-label"]
    assert kept("simclr_hue") < 70  # hue jitter of 0.1 turn moves a view by up to a class
    assert abs(kept("chapter") - kept("crops_only")) < 1.5  # what is left is the oracle's error
    with pytest.raises(ValueError, match="hue-families"):
        cc.views_keep_hue(get_profile("cpu").config("class_collapse", data="shape-families"),
                          0, [0], 0.5, 0.0)


def test_hierarchy_is_seeded():
    a, b, c = make_hierarchy(50, 1), make_hierarchy(50, 1), make_hierarchy(50, 2)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    tr, te = load_hierarchy("shape-families", "train", 40, 0), load_hierarchy("shape-families", "test", 40, 0)
    assert not torch.equal(tr.images, te.images)


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="imagenet", split="train", n=10, seed=0), "unknown hierarchy"),
    (dict(name="shape-families", split="val", n=10, seed=0), "split"),
    (dict(name="shape-families", split="train", n=0, seed=0), "positive int"),
    (dict(name="shape-families", split="train", n=None, seed=0), "positive int"),
    (dict(name="shape-families", split="train", n=10, seed=-1), "seed"),
    (dict(name="cifar100", split="train", n=10, seed=0, size=64), "32"),
])
def test_load_hierarchy_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_hierarchy(**kwargs)


def test_coarse_of_fine_rejects_a_non_hierarchy():
    s = make_hierarchy(20, 0)
    s.extra["coarse"] = s.extra["coarse"].clone()
    s.extra["coarse"][s.labels == 0] = torch.arange(int((s.labels == 0).sum())) % 2
    with pytest.raises(ValueError, match="not a hierarchy"):
        coarse_of_fine(s)
    del s.extra["coarse"]
    with pytest.raises(ValueError, match="no extra"):
        coarse_of_fine(s)


# --------------------------------------------------------------- real data, tiny pickles

_C10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _dump(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)

    def batch(n, labels):
        return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), **labels}

    c10 = tmp_path / "cifar-10-batches-py"
    for i in range(1, 6):
        _dump(c10 / f"data_batch_{i}", batch(4, {b"labels": rng.integers(0, 10, 4).tolist()}))
    _dump(c10 / "test_batch", batch(10, {b"labels": list(range(10))}))
    _dump(c10 / "batches.meta", {b"label_names": [c.encode() for c in _C10]})
    c100 = tmp_path / "cifar-100-python"
    fine = rng.integers(0, 100, 12)
    for split in ("train", "test"):
        _dump(c100 / split, batch(12, {b"fine_labels": fine.tolist(),
                                         b"coarse_labels": (fine // 5).tolist()}))
    _dump(c100 / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                          b"coarse_label_names": [f"c{i}".encode() for i in range(20)]})
    for name, folder in (("cifar10", c10), ("cifar100", c100)):  # accept the fakes' checksums
        for path in folder.iterdir():
            monkeypatch.setitem(cifar.PUBLISHED_MD5[name], path.name,
                                hashlib.md5(path.read_bytes()).hexdigest())
    return tmp_path


def test_cifar10_five_superclasses(tiny_cifar):
    s = load_hierarchy("cifar10-5", "test", None, 0, root=tiny_cifar)
    assert s.labels.tolist() == list(range(10))
    groups = list(CIFAR10_GROUPS)
    for fine, coarse in zip(s.labels.tolist(), s.extra["coarse"].tolist()):
        assert _C10[fine] in CIFAR10_GROUPS[groups[coarse]]
    assert sorted(torch.bincount(s.extra["coarse"]).tolist()) == [2] * 5
    assert len(set(CIFAR10_COARSE)) == 5 and coarse_names("cifar10-5") == groups
    part = load_hierarchy("cifar10-5", "train", 7, 0, root=tiny_cifar)
    assert len(part) == 7 and torch.equal(part.extra["coarse"],
                                          torch.tensor(CIFAR10_COARSE)[part.labels])


def test_cifar100_coarse_labels_are_read(tiny_cifar):
    s = load_hierarchy("cifar100", "train", None, 0, root=tiny_cifar)
    assert torch.equal(s.extra["coarse"], s.labels // 5)
    table = coarse_of_fine(s)
    assert all(table[f] == f // 5 for f in s.labels.tolist())
    assert coarse_names("cifar100", root=tiny_cifar) == [f"c{i}" for i in range(20)]


def test_real_hierarchy_missing_files_say_how(tmp_path):
    with pytest.raises(FileNotFoundError, match="download"):
        load_hierarchy("cifar10-5", "train", 5, 0, root=tmp_path)


def test_group_cifar10_rejects_other_classes():
    with pytest.raises(ValueError, match="CIFAR-10"):
        group_cifar10(make_hierarchy(10, 0))


# ------------------------------------------------------------- closed forms vs simulation


@pytest.mark.parametrize("K, snr", [(1, 1.0), (3, 1.5), (4, 3.0)])
def test_closed_forms_match_monte_carlo(K, snr):
    x, fine, coarse = theory.sample(120_000, K, K + 2, snr, seed=K)
    s = x[:, :K]
    k = np.abs(s).argmax(1)  # Bayes rule for the coarse label
    scores = np.concatenate([-s, s], 1)  # columns: (k, -) then (k, +)
    j = scores.argmax(1)
    fine_pred = np.where(j >= K, 2 * (j - K) + 1, 2 * j)
    se = lambda p: 4 * np.sqrt(min(p, 1.0) * max(1 - p, 0.0) / len(x)) + 1e-9  # noqa: E731
    a_fine, a_coarse = theory.fine_accuracy(K, snr), theory.coarse_accuracy(K, snr)
    assert abs((fine_pred == fine).mean() - a_fine) < se(a_fine)
    assert abs((k == coarse).mean() - a_coarse) < se(a_coarse)


def test_closed_form_exact_cases():
    from scipy.stats import norm
    assert theory.fine_accuracy(1, 1.3) == pytest.approx(norm.cdf(1.3), abs=1e-9)
    assert theory.coarse_accuracy(1, 0.7) == pytest.approx(1.0, abs=1e-9)
    assert theory.coarse_accuracy(4, 0.0) == pytest.approx(0.25, abs=1e-7)
    assert theory.fine_accuracy(4, 0.0) == pytest.approx(1 / 8, abs=1e-7)
    assert theory.collapsed_fine_accuracy(3, 2.0) == pytest.approx(theory.coarse_accuracy(3, 2.0) / 2)
    for bad in [(0, 1.0), (2, -1.0), (2, float("nan"))]:
        with pytest.raises(ValueError):
            theory.fine_accuracy(*bad)
    with pytest.raises(ValueError, match="d >= K"):
        theory.sample(10, 3, 2, 1.0, 0)


def test_idealised_head_output_is_even_and_h_keeps_x():
    x, _, _ = theory.sample(200, 3, 5, 2.0, 0)
    a, b = theory.idealised_layers(x, 3), theory.idealised_layers(-x, 3)
    assert np.array_equal(a["z"], b["z"])  # z cannot tell s = +1 from s = -1
    assert np.allclose(a["h"][:, :3] - a["h"][:, 3:], x[:, :3])  # h holds x linearly


def test_idealised_network_probes_match_closed_forms():
    cfg = get_profile("cpu").config("collapse_toy")
    K, snr = cfg.toy_coarse, cfg.toy_snr
    x, f, c = theory.sample(3000, K, cfg.toy_dim, snr, 0)
    xt, ft, ct = theory.sample(6000, K, cfg.toy_dim, snr, 1)
    tr, te = theory.idealised_layers(x, K), theory.idealised_layers(xt, K)
    acc = toy.probe_all({"x": x, "h": tr["h"], "z": tr["z"]}, {"x": xt, "h": te["h"], "z": te["z"]},
                        (f, c), (ft, ct), K)
    assert acc["fine"][1] == pytest.approx(theory.fine_accuracy(K, snr), abs=0.02)
    assert acc["fine"][2] == pytest.approx(theory.collapsed_fine_accuracy(K, snr), abs=0.03)
    assert acc["coarse"][2] == pytest.approx(theory.coarse_accuracy(K, snr), abs=0.02)


# ------------------------------------------------------------------- the toy mechanism


def test_trained_toy_supcon_keeps_subclasses_in_h_and_merges_them_in_z():
    cfg = get_profile("cpu").config("collapse_toy", toy_steps=1500, toy_probe_draws=10)
    K, snr = cfg.toy_coarse, cfg.toy_snr
    x, f, c = theory.sample(cfg.toy_n_train, K, cfg.toy_dim, snr, 0)
    xt, ft, ct = theory.sample(cfg.toy_n_test, K, cfg.toy_dim, snr, 1)
    net, trace = toy.train_toy("supcon", x, c, cfg, seed=0)
    assert trace[-1] < trace[0]
    acc = toy.probe_all(toy.layers_of(net, x), toy.layers_of(net, xt), (f, c), (ft, ct), K, cfg)
    # the scale-aware probe: sub-classes readable at h, near the collapsed closed form at z
    assert acc["fine_scaled"][1] - acc["fine_scaled"][2] > 0.25
    assert acc["fine_scaled"][2] == pytest.approx(theory.collapsed_fine_accuracy(K, snr), abs=0.1)
    assert acc["coarse"][2] > 0.8  # the head output still knows the coarse class
    means = toy.subclass_means(net, K, snr)
    assert toy.sibling_ratio(means["z"], K) < 0.5 < toy.sibling_ratio(means["h"], K)


def test_toy_run_payload_and_bad_loss():
    cfg = get_profile("smoke").config("collapse_toy", toy_steps=20)
    p = toy.run(cfg, 0, progress=False)
    assert p["layers"] == list(toy.LAYERS) and set(p["losses"]) == {"supcon", "ce"}
    for loss in p["losses"]:
        assert np.asarray(p[loss]["fine"]).shape == (cfg.toy_seeds, 3)
        assert np.asarray(p[loss]["fine_scaled"]).shape == (cfg.toy_seeds, 3)
    assert "closed forms" in toy.summarize(p)
    with pytest.raises(ValueError, match="unknown loss"):
        toy.train_toy("mse", *theory.sample(10, 2, 2, 1.0, 0)[::2], cfg, 0)


def test_sibling_ratio_exact_cases():
    merged = np.repeat(np.eye(3), 2, axis=0)  # siblings identical
    assert toy.sibling_ratio(merged, 3) == 0.0
    rng = np.random.default_rng(0)
    assert toy.sibling_ratio(rng.normal(size=(6, 4)), 3) > 0


# ------------------------------------------------------------------ the image experiment


@pytest.fixture(scope="module")
def tiny_setup():
    cfg = get_profile("smoke").config("class_collapse", n_train=64, n_test=64, width=2,
                                      head_hidden=16, head_out=8, epochs=1, batch_size=32)
    return cfg, *cc.load_data(cfg, 0)


@pytest.mark.parametrize("loss", cc.LOSSES)
def test_train_and_probe_every_loss_with_mlp_head(tiny_setup, loss):
    cfg, train, test = tiny_setup
    (out,) = cc.train_and_probe(loss, "mlp", train, test, cfg, seeds=0, progress=False)
    assert out["layers"] == list(cc.LAYERS)
    assert len(out["fine"]) == len(out["coarse"]) == len(cc.LAYERS)
    assert all(0 <= a <= 1 for a in out["fine"] + out["coarse"]) and len(out["loss"]) == 1


def test_train_and_probe_no_head_and_a_module_head(tiny_setup):
    cfg, train, test = tiny_setup
    (out,) = cc.train_and_probe("ce", "none", train, test, cfg, seeds=0, progress=False)
    assert out["layers"] == list(cc.STAGES)
    head = FixedReweightingHead(8 * cfg.width, kappa=1.2)
    (out,) = cc.train_and_probe("supcon", head, train, test, cfg, seeds=0, progress=False)
    assert out["layers"] == list(cc.STAGES) + ["z"]


def test_train_and_probe_two_seeds_together_equal_each_alone(tiny_setup):
    cfg, train, test = tiny_setup
    both = cc.train_and_probe("supcon", "mlp", train, test, cfg, seeds=[0, 1], progress=False)
    (one,) = cc.train_and_probe("supcon", "mlp", train, test, cfg, seeds=1, progress=False)
    assert both[1]["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert both[0]["loss"] != both[1]["loss"]


def test_train_and_probe_bad_input(tiny_setup):
    cfg, train, test = tiny_setup
    with pytest.raises(ValueError, match="unknown loss"):
        cc.train_and_probe("mse", "mlp", train, test, cfg, 0)
    with pytest.raises(ValueError, match="head must be"):
        cc.train_and_probe("ce", "deep", train, test, cfg, 0)
    bare = train.subset(slice(None))
    bare.extra.pop("coarse")
    with pytest.raises(ValueError, match="coarse"):
        cc.train_and_probe("ce", "mlp", bare, test, cfg, 0)


def test_run_payload_and_summary(tiny_setup):
    cfg = tiny_setup[0]
    cfg = type(cfg)(**{**cfg.__dict__, "methods": ("ce/mlp", "supcon/none"), "n_seeds": 2})
    p = cc.run(cfg, 0, progress=False)
    assert np.asarray(p["fine"]["ce/mlp"]).shape == (2, len(cc.LAYERS))
    assert np.asarray(p["coarse"]["supcon/none"]).shape == (2, len(cc.STAGES))
    assert p["chance"] == {"fine": 0.1, "coarse": 0.2}
    text = cc.summarize(p)
    assert "cross-entropy + MLP head" in text and "(z = h)" in text
    assert set(p["views_keep_label"]) == {"chapter", "crops_only", "simclr_hue", "hue"}
    assert "read as their image's hue class" in cc.views_text(p)
    assert list(cc.structure_values(p)) == ["ch6-views-keep-fine-label"]
    assert cc.structure_values({}) == {} and cc.views_text({}) == ""  # e.g. CIFAR-100
    gaps = fine_gaps(p, "ce/mlp")
    fine = 100 * np.asarray(p["fine"]["ce/mlp"])
    assert np.allclose(gaps, fine[:, cc.PRE] - fine[:, -1])


def test_summary_rows_computed_from_numbers():
    p = {"layers": list(cc.LAYERS), "methods": ["supcon/mlp"],
         "fine": {"supcon/mlp": [[.1, .2, .3, .6, .5, .4], [.1, .2, .3, .5, .5, .3]]},
         "coarse": {"supcon/mlp": [[.1, .2, .3, .8, .8, .9]] * 2}}
    row = cc.summary_rows(p)[0]
    assert row["fine_h"] == pytest.approx(55) and row["fine_z"] == pytest.approx(35)
    assert row["gap"] == pytest.approx(20) and row["gap_min"] == pytest.approx(20)
    assert row["best_fine_layer"] == "h"


def test_claims_pair_h_with_z_and_the_head_with_no_head_by_seed():
    from helpers import evidence as ev

    head = [[.1, .2, .3, .60 + .01 * k, .5, .40 + .02 * k] for k in range(5)]
    bare = [[.1, .2, .3, .61 - .01 * k] for k in range(5)]
    p = {"layers": list(cc.LAYERS), "fine": {"ce/mlp": head, "ce/none": bare,
                                             "supcon/mlp": head, "supcon/none": head}}
    found = ev.evaluate(cc, p)
    assert found["ch6-fine-h-beats-z-ce"].effect == pytest.approx(18.0)  # 20 - k, k = 0..4
    assert ev.verdict(cc.CLAIMS[0], found["ch6-fine-h-beats-z-ce"]) == ev.SUPPORTED
    assert found["ch6-head-helps-fine-ce"].effect == pytest.approx(3.0)  # 2k - 1, k = 0..4
    assert found["ch6-head-helps-fine-ce"].n_seeds == 5
    identical = found["ch6-head-helps-fine-supcon"]  # the same numbers with and without
    assert identical.effect == 0 and ev.verdict(cc.CLAIMS[3], identical) == ev.INCONCLUSIVE


# ------------------------------------------------------------------------ exercise checks


def test_positive_mask_matches_supcon_loop():
    """The reference mask against a loop over anchors written from Khosla et al. eq. 2."""
    labels, views = torch.tensor([0, 2, 0, 1]), 3
    mask = positive_mask(labels, views)
    A = len(labels) * views
    for a in range(A):
        for p in range(A):
            assert bool(mask[a, p]) == (a != p and labels[a % 4] == labels[p % 4])


def test_checks_accept_the_reference_and_reject_mistakes():
    assert checks.check_positive_mask(positive_mask)
    with pytest.raises(AssertionError, match="diagonal"):
        checks.check_positive_mask(lambda lab, v: positive_mask(lab, v) | torch.eye(len(lab) * v, dtype=torch.bool))
    with pytest.raises(NotImplementedError):
        checks.check_positive_mask(lambda lab, v: (_ for _ in ()).throw(NotImplementedError("x")))
    payload = {"layers": list(cc.LAYERS), "methods": ["ce/mlp", "ce/none"],
               "fine": {"ce/mlp": [[0.1] * 3 + [0.5, 0.4, 0.3]], "ce/none": [[0.1] * 4]}}
    assert checks.check_fine_gap(fine_gaps, payload)
    with pytest.raises(AssertionError):
        checks.check_fine_gap(lambda p, m: fine_gaps(p, m) / 100, payload)
    def quad_coarse_accuracy(K, snr):  # the chapter's solution: the integral, numerically
        from scipy import integrate
        from scipy.stats import norm
        f = lambda u: norm.pdf(u) * (2 * norm.cdf(abs(snr + u)) - 1) ** (K - 1)  # noqa: E731
        return integrate.quad(f, -np.inf, -snr)[0] + integrate.quad(f, -snr, np.inf)[0]

    assert checks.check_coarse_accuracy(quad_coarse_accuracy)
    with pytest.raises(AssertionError, match="book's own `helpers.theory.collapse.coarse_accuracy`"):
        checks.check_coarse_accuracy(theory.coarse_accuracy)
    with pytest.raises(AssertionError, match="coarse accuracy"):
        checks.check_coarse_accuracy(theory.fine_accuracy)
