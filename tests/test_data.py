"""Image sets: shapes and dtypes, seeds, cue strengths, disjoint digit splits, CIFAR pickles."""

import os
import pickle
import struct
import time

import numpy as np
import pytest
import torch

from helpers.data import (DATA_NAMES, ImageSet, base_digit_indices, cifar100_coarse_classes,
                          data_root, load_cifar10, load_cifar100, load_image_set, make_digits,
                          make_shapes, split_digits)
from helpers.data import procedural

# ---------------------------------------------------------------------------------- helpers


def _class_means(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.stack([features[labels == c].mean(0) for c in range(10)])


def _spread(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean distance of the class-conditional means from their average: 0 = class-blind."""
    means = _class_means(features, labels)
    return (means - means.mean(0)).reshape(10, -1).norm(dim=1).mean().item()


def _chromaticity(s: ImageSet) -> torch.Tensor:
    rgb = s.images.float().mean((2, 3))
    return rgb / rgb.sum(1, keepdim=True)


def _orientation(s: ImageSet) -> torch.Tensor:
    """Per image, the dominant gradient orientation (doubled angle) from the structure tensor."""
    g = s.images.float().mean(1)
    gx, gy = (g[:, 1:-1, 2:] - g[:, 1:-1, :-2]), (g[:, 2:, 1:-1] - g[:, :-2, 1:-1])
    jxx, jyy, jxy = (gx * gx).mean((1, 2)), (gy * gy).mean((1, 2)), (gx * gy).mean((1, 2))
    return torch.stack([jxx - jyy, 2 * jxy], 1) / (jxx + jyy)[:, None]


def _area(s: ImageSet) -> torch.Tensor:
    return s.extra["mask"].float().mean((1, 2))[:, None] / 255


# ----------------------------------------------------------------------------------- shapes


def test_shapes_types_and_ranges():
    s = make_shapes(230, seed=0)
    assert s.images.shape == (230, 3, 32, 32) and s.images.dtype == torch.uint8
    assert s.labels.shape == (230,) and s.labels.dtype == torch.int64
    assert len(s) == 230 and len(s.classes) == 10 and "offline stand-in" in s.source
    counts = torch.bincount(s.labels, minlength=10)
    assert counts.min() == 23 and counts.max() == 23  # balanced
    for key in ("shape", "colour", "texture"):
        assert s.extra[key].dtype == torch.int64 and 0 <= s.extra[key].min() <= s.extra[key].max() < 10
    # full strength: every cue is the class's own
    for key in ("shape", "colour", "texture"):
        assert torch.equal(s.extra[key], s.labels)
    assert s.images.float().std() > 20  # not blank
    assert make_shapes(5, 0, size=48).images.shape == (5, 3, 48, 48)


def test_shapes_deterministic_and_seed_dependent():
    a, b, c = make_shapes(50, 7), make_shapes(50, 7), make_shapes(50, 8)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_shapes_chunking_does_not_change_images(monkeypatch):
    whole = make_shapes(300, 3)
    monkeypatch.setattr(procedural, "_CHUNK", 64)
    assert torch.equal(make_shapes(300, 3).images, whole.images)


def test_cue_agreement_matches_strength():
    s = make_shapes(4000, 1, shape_strength=0.0, colour_strength=0.5, texture_strength=1.0)
    agree = {k: (s.extra[k] == s.labels).float().mean().item() for k in ("shape", "colour", "texture")}
    assert abs(agree["shape"] - 0.1) < 0.03  # random: right by chance only
    assert abs(agree["colour"] - 0.55) < 0.04  # own with p=0.5, else right by chance
    assert agree["texture"] == 1.0
    assert "colour 0.5" in s.source


def test_colour_strength_controls_class_colour():
    sets = [make_shapes(2000, 0, colour_strength=v) for v in (0.0, 0.5, 1.0)]
    spreads = [_spread(_chromaticity(s), s.labels) for s in sets]
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] > 4 * spreads[0]


def test_texture_strength_controls_stripe_orientation():
    sets = [make_shapes(2000, 0, texture_strength=v) for v in (0.0, 0.5, 1.0)]
    spreads = [_spread(_orientation(s), s.labels) for s in sets]
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[2] > 4 * spreads[0]
    # the other cues do not carry it: texture stays class-dependent with colour and shape random
    s = make_shapes(2000, 0, shape_strength=0, colour_strength=0)
    assert _spread(_orientation(s), s.labels) > 4 * spreads[0]


def test_shape_strength_controls_object_shape():
    sets = [make_shapes(2000, 0, shape_strength=v, return_masks=True) for v in (0.0, 1.0)]
    s0, s1 = sets
    assert s1.extra["mask"].shape == (2000, 32, 32) and s1.extra["mask"].dtype == torch.uint8
    rel = [(lambda m: (m.max() - m.min()).item() / m.mean().item())(
        _class_means(_area(s), s.labels)) for s in sets]
    assert rel[1] > 0.5 and rel[0] < 0.2  # bar vs disc area differ only when shape is the class's
    # with colour random the mean colour per class carries nothing, whatever the shape
    s = make_shapes(2000, 0, colour_strength=0.0)
    ref = make_shapes(2000, 0, colour_strength=1.0)
    assert _spread(_chromaticity(s), s.labels) < 0.25 * _spread(_chromaticity(ref), ref.labels)


def test_mask_marks_the_object_colour():
    s = make_shapes(200, 2, noise=0.0, clutter=0.0, texture_strength=1.0, return_masks=True)
    inside = s.extra["mask"] == 255
    outside = s.extra["mask"] == 0
    assert inside.any((1, 2)).float().mean() > 0.95 and outside.any((1, 2)).all()
    # the background without clutter is flat: one colour outside the object
    img = s.images.float()
    out_std = torch.stack([img[i][:, outside[i]].std(1).max() for i in range(20)])
    assert out_std.max() < 1.0


@pytest.mark.parametrize("kwargs", [dict(n=0, seed=0), dict(n=10, seed=-1), dict(n=10, seed=0, size=4),
                                    dict(n=10, seed=0, colour_strength=1.5),
                                    dict(n=10, seed=0, shape_strength=-0.1),
                                    dict(n=10, seed=0, noise=-1.0), dict(n=2.5, seed=0)])
def test_shapes_bad_input(kwargs):
    with pytest.raises(ValueError):
        make_shapes(**kwargs)


def test_shapes_generation_is_fast():
    make_shapes(100, 0)  # warm-up
    t0 = time.perf_counter()
    s = make_shapes(10_000, 0)
    assert len(s) == 10_000 and time.perf_counter() - t0 < 5.0  # generous: ~1 s on 2 cores


# ----------------------------------------------------------------------------------- digits


def test_digits_types_and_labels_match_sklearn():
    from sklearn.datasets import load_digits

    targets = load_digits().target
    d = make_digits(500, 0)
    assert d.images.shape == (500, 3, 32, 32) and d.images.dtype == torch.uint8
    assert d.labels.dtype == torch.int64 and d.classes == [str(i) for i in range(10)]
    base = d.extra["base_index"]
    assert base.dtype == torch.int64 and len(set(base.tolist())) == 500  # n < 1797: no repeats
    assert np.array_equal(d.labels.numpy(), targets[base.numpy()])
    assert make_digits(3, 0, size=24).images.shape == (3, 3, 24, 24)


def test_digits_deterministic_and_grey_option():
    a, b, c = make_digits(40, 5), make_digits(40, 5), make_digits(40, 6)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    g = make_digits(40, 5, colourise=False, noise=0.0)
    assert torch.equal(g.images[:, 0], g.images[:, 1]) and torch.equal(g.images[:, 1], g.images[:, 2])
    # a digit is there: bright ink on black
    assert (g.images.amax((1, 2, 3)) > 150).all() and (g.images.amin((1, 2, 3)) == 0).all()


def test_digits_reuse_is_balanced_beyond_1797():
    d = make_digits(4000, 1)
    counts = torch.bincount(d.extra["base_index"], minlength=1797)
    assert counts.min() == 2 and counts.max() == 3
    # re-used originals get different placement/colour
    first = d.extra["base_index"][0]
    copies = (d.extra["base_index"] == first).nonzero().flatten()
    assert not torch.equal(d.images[copies[0]], d.images[copies[1]])


def test_split_digits_disjoint_by_original():
    from sklearn.datasets import load_digits

    targets = load_digits().target
    train, test = split_digits(3000, 1000, seed=0)
    tb, sb = set(train.extra["base_index"].tolist()), set(test.extra["base_index"].tolist())
    assert not tb & sb
    assert len(train) == 3000 and len(test) == 1000
    for s in (train, test):
        assert np.array_equal(s.labels.numpy(), targets[s.extra["base_index"].numpy()])
    tr_idx, te_idx = base_digit_indices("train"), base_digit_indices("test")
    assert not set(tr_idx) & set(te_idx) and len(tr_idx) + len(te_idx) == 1797
    assert abs(len(te_idx) / 1797 - 0.3) < 0.01
    assert np.bincount(targets[te_idx], minlength=10).min() > 40  # stratified


def test_digits_bad_input():
    with pytest.raises(ValueError, match="base_indices"):
        make_digits(10, 0, base_indices=[0, 0, 1])
    with pytest.raises(ValueError, match="base_indices"):
        make_digits(10, 0, base_indices=[1797])
    with pytest.raises(ValueError, match="split"):
        base_digit_indices("val")
    with pytest.raises(ValueError, match="test_fraction"):
        base_digit_indices("test", test_fraction=1.0)


# ------------------------------------------------------------------------- fake CIFAR files


class _Py2Str(bytes):
    """A Python 2 ``str`` (what CIFAR's pickles hold): ``str`` under encoding='latin1'."""


class _Py2Pickler(pickle._Pickler):
    """Writes ``_Py2Str`` with the STRING opcodes, as Python 2's cPickle wrote CIFAR's keys."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        raw = bytes(obj)
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[_Py2Str] = save_py2str


def _py2(d):
    return {_Py2Str(k.encode()): v for k, v in d.items()}


def _dump(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def _batch(rng, n, labels):
    return {"batch_label": _Py2Str(b"fake batch"),
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            **labels, "filenames": [_Py2Str(f"img_{i}.png".encode()) for i in range(n)]}


def _write_cifar10(root, rng, per_batch=7, n_test=5):
    folder = root / "cifar-10-batches-py"
    names = [_Py2Str(f"class{i}".encode()) for i in range(10)]
    _dump(folder / "batches.meta", _py2({"label_names": names, "num_cases_per_batch": per_batch,
                                         "num_vis": 3072}))
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        _dump(folder / name, _py2(_batch(rng, n, {"labels": rng.integers(0, 10, n).tolist()})))
    return folder


def _write_cifar100(root, rng, n_train=12, n_test=6):
    folder = root / "cifar-100-python"
    _dump(folder / "meta", _py2({
        "fine_label_names": [_Py2Str(f"fine{i}".encode()) for i in range(100)],
        "coarse_label_names": [_Py2Str(f"coarse{i}".encode()) for i in range(20)]}))
    for name, n in (("train", n_train), ("test", n_test)):
        _dump(folder / name, _py2(_batch(rng, n, {"fine_labels": rng.integers(0, 100, n).tolist(),
                                                  "coarse_labels": rng.integers(0, 20, n).tolist()})))
    return folder


def _publish(monkeypatch, root):
    """Accept the fake files written under ``root`` as if their md5 sums were CIFAR's own."""
    import hashlib

    from helpers.data import cifar

    for name, spec in cifar._SPECS.items():
        folder = root / spec["folder"]
        for path in (folder.iterdir() if folder.is_dir() else ()):
            monkeypatch.setitem(cifar.PUBLISHED_MD5[name], path.name,
                                hashlib.md5(path.read_bytes()).hexdigest())


@pytest.fixture
def publish(monkeypatch):
    return lambda root: _publish(monkeypatch, root)


@pytest.fixture
def cifar_root(tmp_path, publish):
    rng = np.random.default_rng(0)
    _write_cifar10(tmp_path, rng)
    _write_cifar100(tmp_path, rng)
    publish(tmp_path)
    return tmp_path


@pytest.fixture
def torchvision_reads_fakes(monkeypatch):
    """torchvision checks CIFAR's md5 sums; for fake files accept any file that exists."""
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    return tv_cifar


@pytest.mark.parametrize("train", [True, False])
def test_cifar10_matches_torchvision(cifar_root, torchvision_reads_fakes, train):
    ours = load_cifar10(cifar_root, train=train)
    tv = torchvision_reads_fakes.CIFAR10(str(cifar_root), train=train, download=False)
    assert ours.images.shape == ((35 if train else 5), 3, 32, 32)
    assert ours.images.dtype == torch.uint8 and ours.labels.dtype == torch.int64
    assert np.array_equal(ours.images.numpy(), tv.data.transpose(0, 3, 1, 2))  # HWC -> CHW
    assert ours.labels.tolist() == list(tv.targets)
    assert ours.classes == list(tv.classes) == [f"class{i}" for i in range(10)]
    assert ours.source == "CIFAR-10" and ours.extra == {}


@pytest.mark.parametrize("train", [True, False])
def test_cifar100_matches_torchvision(cifar_root, torchvision_reads_fakes, train):
    ours = load_cifar100(cifar_root, train=train)
    tv = torchvision_reads_fakes.CIFAR100(str(cifar_root), train=train, download=False)
    assert np.array_equal(ours.images.numpy(), tv.data.transpose(0, 3, 1, 2))
    assert ours.labels.tolist() == list(tv.targets)  # fine labels
    assert ours.classes == list(tv.classes) and len(ours.classes) == 100
    with open(cifar_root / "cifar-100-python" / ("train" if train else "test"), "rb") as f:
        raw = pickle.load(f, encoding="bytes")  # the CIFAR site's own recipe: bytes keys
    assert ours.extra["coarse"].tolist() == raw[b"coarse_labels"]
    assert ours.extra["coarse"].dtype == torch.int64
    assert cifar100_coarse_classes(cifar_root) == [f"coarse{i}" for i in range(20)]


def test_cifar_reads_python3_pickles_with_bytes_keys(tmp_path, publish):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
                         b"labels": [1, 2, 3]}, f)
    publish(tmp_path)
    s = load_cifar10(tmp_path, train=False)
    assert s.labels.tolist() == [1, 2, 3] and s.classes[0] == "c0"


def test_cifar_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match="download=True") as err:
        load_cifar100(tmp_path, train=False)
    assert str(tmp_path / "cifar-100-python") in str(err.value)


def test_cifar_truncated_or_malformed_files_raise(cifar_root, publish):
    path = cifar_root / "cifar-10-batches-py" / "test_batch"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupted"):  # its md5 is not the published one
        load_cifar10(cifar_root, train=False)
    publish(cifar_root)  # past the checksum, the reader's own checks still hold
    with pytest.raises(ValueError, match="corrupted"):
        load_cifar10(cifar_root, train=False)
    # well-formed pickle, wrong row length
    _dump(path, _py2({"data": np.zeros((4, 3000), np.uint8), "labels": [0, 1, 2, 3]}))
    publish(cifar_root)
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(cifar_root, train=False)
    # labels that do not match the rows
    _dump(path, _py2({"data": np.zeros((4, 3072), np.uint8), "labels": [0, 1]}))
    publish(cifar_root)
    with pytest.raises(ValueError, match="labels"):
        load_cifar10(cifar_root, train=False)


class _RunsCode:
    """A pickle that calls ``Path.touch(marker)`` when loaded: what a crafted file could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        from pathlib import Path

        return Path.touch, (Path(self.marker),)


@pytest.mark.parametrize("published", [False, True])
def test_a_crafted_cifar_pickle_never_runs(cifar_root, publish, tmp_path, published):
    """Refused by its md5 (unknown file); and were its md5 accepted, by the restricted reader."""
    marker = tmp_path / "ran"
    path = cifar_root / "cifar-10-batches-py" / "test_batch"
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1],
                     "filenames": _RunsCode(marker)}, f, protocol=2)
    if published:
        publish(cifar_root)
    with pytest.raises(ValueError) as err:
        load_cifar10(cifar_root, train=False)
    assert not marker.exists(), "unpickling a CIFAR file ran code"
    msg = str(err.value)
    assert str(path) in msg and "download" in msg
    assert ("md5" in msg) != published and ("refused" in msg or "md5" in msg)


def test_an_altered_cifar_file_is_refused_with_how_to_get_the_real_one(cifar_root):
    from helpers.data import cifar

    path = cifar_root / "cifar-100-python" / "meta"
    path.write_bytes(path.read_bytes() + b"\x00")  # one byte appended: still loads with pickle
    with pytest.raises(ValueError) as err:
        load_cifar100(cifar_root, train=False)
    msg = str(err.value)
    assert str(path) in msg and "md5" in msg and cifar.PUBLISHED_MD5["cifar100"]["meta"] in msg
    assert "download=True" in msg and "cifar-100-python.tar.gz" in msg


def test_the_published_checksums_are_torchvisions():
    import torchvision.datasets as tvd

    from helpers.data import cifar

    for name, cls in (("cifar10", tvd.CIFAR10), ("cifar100", tvd.CIFAR100)):
        theirs = dict(cls.train_list + cls.test_list)
        theirs[cls.meta["filename"]] = cls.meta["md5"]
        assert cifar.PUBLISHED_MD5[name] == theirs


@pytest.mark.parametrize("labels", [[0, 1.7], [True, False], ["0", "1"]])
def test_cifar_labels_that_are_not_integers_are_refused(cifar_root, publish, labels):
    path = cifar_root / "cifar-10-batches-py" / "test_batch"
    _dump(path, _py2({"data": np.zeros((2, 3072), np.uint8), "labels": labels}))
    publish(cifar_root)
    with pytest.raises(ValueError, match="integer"):
        load_cifar10(cifar_root, train=False)


def test_cifar_download_uses_torchvision_then_reads_pickles(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train=True, download=False):
            calls.append((root, download))
            _write_cifar10(tmp_path, np.random.default_rng(2))
            _publish(monkeypatch, tmp_path)

    monkeypatch.setattr(tvd, "CIFAR10", FakeCIFAR10)
    s = load_cifar10(tmp_path, train=False, download=True)
    assert calls == [(str(tmp_path), True)] and len(s) == 5
    load_cifar10(tmp_path, train=False, download=True)  # files present: no second download
    assert len(calls) == 1

    class Offline:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("no network")

    monkeypatch.setattr(tvd, "CIFAR100", Offline)
    with pytest.raises(OSError, match="no network"):
        load_cifar100(tmp_path, download=True)


# --------------------------------------------------------------------------------- registry


def test_registry_names_and_errors():
    assert DATA_NAMES == ("shapes", "digits", "cifar10", "cifar100")
    with pytest.raises(ValueError, match="shapes, digits, cifar10, cifar100"):
        load_image_set("imagenet", "train", 10, 0)
    with pytest.raises(ValueError, match="split"):
        load_image_set("shapes", "validation", 10, 0)
    with pytest.raises(ValueError, match="n must"):
        load_image_set("shapes", "train", 0, 0)


def test_registry_generated_sets():
    # the call the chapters make: download=False also reaches the offline sets
    train = load_image_set("shapes", "train", 40, 0, download=False, colour_strength=0.0)
    test = load_image_set("shapes", "test", 40, 0)
    assert len(train) == 40 and train.images.shape[1:] == (3, 32, 32)
    assert not torch.equal(train.images, test.images)  # same seed, different split
    assert (train.extra["colour"] == train.labels).float().mean() < 0.5
    assert torch.equal(load_image_set("shapes", "train", 40, 0, colour_strength=0.0).images,
                       train.images)
    # digits: train and test come from disjoint originals whatever the seeds
    dtr = load_image_set("digits", "train", 2500, 3)
    dte = load_image_set("digits", "test", 600, 4)
    assert not set(dtr.extra["base_index"].tolist()) & set(dte.extra["base_index"].tolist())


def test_registry_cifar_from_data_root(cifar_root, monkeypatch):
    monkeypatch.setenv("BOOK_DATA_DIR", str(cifar_root))
    assert data_root() == cifar_root
    full = load_image_set("cifar100", "train", None, 0)
    part = load_image_set("cifar100", "train", 5, 0)
    assert len(full) == 12 and len(part) == 5 and part.extra["coarse"].shape == (5,)
    assert torch.equal(part.images, load_image_set("cifar100", "train", 5, 0).images)
    rows = {bytes(r) for r in full.images.reshape(12, -1).numpy()}
    assert all(bytes(r) in rows for r in part.images.reshape(5, -1).numpy())
    assert len(load_image_set("cifar10", "test", None, 0, root=cifar_root)) == 5
    with pytest.raises(ValueError, match="n=None"):
        load_image_set("cifar10", "test", 6, 0)


def test_data_root_default(monkeypatch):
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    assert data_root().parts[-2:] == ("projection-head-book", "data")


def test_imageset_subset_and_validation():
    s = make_shapes(20, 0)
    sub = s.subset([3, 1, 4])
    assert len(sub) == 3 and torch.equal(sub.images[0], s.images[3])
    assert torch.equal(sub.extra["shape"], s.extra["shape"][[3, 1, 4]])
    assert len(s.subset(s.labels == 0)) == 2 and len(s.subset(slice(0, 5))) == 5
    assert len(s.subset(np.arange(7))) == 7 and sub.classes == s.classes
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(s.images.float(), s.labels, s.classes, "x")
    with pytest.raises(ValueError, match="int64"):
        ImageSet(s.images, s.labels.int(), s.classes, "x")
    with pytest.raises(ValueError, match="extra"):
        ImageSet(s.images, s.labels, s.classes, "x", {"coarse": torch.zeros(3)})
    with pytest.raises(ValueError, match="labels must lie"):
        ImageSet(s.images, s.labels, s.classes[:2], "x")
