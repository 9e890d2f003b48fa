"""Part III digits-on-images: the sweep's payload, the MNIST reader, the verdict, the figures."""

import gzip

import matplotlib
import numpy as np
import pytest
import torch

from helpers.data.mnist import load_mnist, mnist_digit_masks, read_idx
from helpers.experiments import digit_overlay
from helpers.profiles import get_profile

matplotlib.use("Agg")

PROVENANCE = {"profile": "smoke", "data_source": "test", "device": "cpu", "seed": 0}


def _tiny_cfg(**kw):
    base = dict(n_train=64, n_test=64, width=2, head_hidden=16, head_out=8, epochs=1,
                batch_size=32, strengths=(0.4, 0.9), p_drops=(0.0, 1.0), n_seeds=2)
    return get_profile("smoke").config("digit_overlay", **{**base, **kw})


# ------------------------------------------------------------------------------ the sweep

@pytest.fixture(scope="module")
def payload():
    return digit_overlay.run(_tiny_cfg(), seed=0, progress=False)


def test_run_payload_shapes_and_ranges(payload):
    S, P, R, L = 2, 2, 2, len(digit_overlay.LAYERS)
    assert payload["layers"] == list(digit_overlay.LAYERS)
    for key in ("acc_class", "acc_digit"):
        a = np.asarray(payload[key])
        assert a.shape == (S, P, R, L)
        assert np.all((a >= 0) & (a <= 1))
    for key in ("untrained_class", "untrained_digit"):
        assert np.asarray(payload[key]).shape == (S, R, L)  # each seed's own starting network
    assert np.asarray(payload["loss"]).shape == (S, P, R, 1)
    assert payload["chance_digit"] == pytest.approx(0.1)
    assert payload["chance_class"] == pytest.approx(0.1)
    assert payload["n_train"] == 64 and payload["n_test"] == 64 and payload["probe"] == "ridge"
    assert "scikit-learn" in payload["data_description"]
    import json
    json.dumps(payload)  # load_or_compute stores it as JSON


def test_smoke_profile_fits_the_contract():
    cfg = get_profile("smoke").config("digit_overlay")
    assert len(cfg.strengths) == 2 and len(cfg.p_drops) == 2 and cfg.n_seeds == 1
    cpu = get_profile("cpu").config("digit_overlay")
    assert len(cpu.p_drops) >= 3 and cpu.n_seeds >= 3
    assert len(cpu.strengths) * cpu.n_seeds >= 5  # the claims' paired runs
    assert 0.0 in cpu.p_drops and 1.0 in cpu.p_drops
    for name in ("gpu", "paper"):
        cfg = get_profile(name).config("digit_overlay")
        assert cfg.data == "cifar10" and cfg.digits == "mnist" and cfg.size == 32


def test_data_is_seeded_and_digits_are_independent_of_split():
    cfg = _tiny_cfg()
    a_train, a_test = digit_overlay.load_data(cfg, seed=3)
    b_train, _ = digit_overlay.load_data(cfg, seed=3)
    c_train, _ = digit_overlay.load_data(cfg, seed=4)
    assert a_train.packed.shape == (64, 4, 32, 32) and a_train.packed.dtype == torch.uint8
    assert torch.equal(a_train.packed, b_train.packed) and torch.equal(a_train.digits, b_train.digits)
    assert not torch.equal(a_train.packed, c_train.packed)
    assert not torch.equal(a_train.packed, a_test.packed)
    assert a_train.digits.min() >= 0 and a_train.digits.max() <= 9
    assert torch.equal(a_train.with_digit(0.0), a_train.packed[:, :3])  # s = 0: the base image
    assert not torch.equal(a_train.with_digit(0.8), a_train.packed[:, :3])


def test_bad_config_raises():
    with pytest.raises(ValueError, match="digits"):
        digit_overlay.load_data(_tiny_cfg(digits="emnist"), seed=0)
    with pytest.raises(ValueError, match="p_drops"):
        digit_overlay.load_data(_tiny_cfg(p_drops=(0.0, 1.5)), seed=0)
    with pytest.raises(ValueError, match="size=32"):
        digit_overlay.load_data(_tiny_cfg(data="cifar10", size=28), seed=0)


def test_missing_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="download=True"):
        digit_overlay.load_data(_tiny_cfg(digits="mnist"), seed=0)


# ------------------------------------------------------------------------------ MNIST reader

def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(root, n=12, compress=False, split_names=("train", "t10k")):
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for prefix in split_names:
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        arrays[prefix] = (images, labels)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte"
            blob = _idx_bytes(arr)
            if compress:
                (raw / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (raw / name).write_bytes(blob)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_reader_reads_idx_files(tmp_path, compress):
    arrays = _write_mnist(tmp_path, compress=compress)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_mnist(tmp_path, split)
        assert images.dtype == torch.uint8 and images.shape == (12, 28, 28)
        assert labels.dtype == torch.int64
        assert np.array_equal(images.numpy(), arrays[prefix][0])
        assert np.array_equal(labels.numpy(), arrays[prefix][1])


def test_mnist_masks_are_padded_to_the_image_and_seeded(tmp_path):
    arrays = _write_mnist(tmp_path)
    m1, d1 = mnist_digit_masks(5, seed=2, size=32, split="train", root=tmp_path)
    m2, d2 = mnist_digit_masks(5, seed=2, size=32, split="train", root=tmp_path)
    assert m1.shape == (5, 32, 32) and d1.shape == (5,)
    assert torch.equal(m1, m2) and torch.equal(d1, d2)
    # 28 -> 32: the digit unchanged in the centre, a 2-pixel zero border
    images, labels = arrays["train"]
    pick = np.random.default_rng(2).integers(0, 12, size=5)
    assert np.allclose(m1[:, 2:30, 2:30].numpy(), images[pick] / 255, atol=1e-6)
    assert float(m1[:, :2].abs().sum() + m1[:, 30:].abs().sum()) == 0
    assert np.array_equal(d1.numpy(), labels[pick])
    small, _ = mnist_digit_masks(3, seed=0, size=16, root=tmp_path)
    assert small.shape == (3, 16, 16) and 0 <= float(small.min()) and float(small.max()) <= 1


def test_mnist_missing_or_corrupt_files_raise_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist(tmp_path, "train")
    _write_mnist(tmp_path, split_names=("train",))
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        read_idx(bad)
    truncated = tmp_path / "trunc"
    truncated.write_bytes(_idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(truncated)


# ------------------------------------------------------------------------------ verdict, figures

def _hand_payload(h_minus_z_grows: bool, n_seeds: int = 3) -> dict:
    """2 strengths x 3 p_drops x n_seeds. Digit at h stays 0.8 (+ a little per seed); z falls
    with p_drop (or rises)."""
    layers = list(digit_overlay.LAYERS)
    z_digit = (0.7, 0.5, 0.2) if h_minus_z_grows else (0.2, 0.5, 0.7)
    digit = [[[[0.3, 0.5, 0.7, 0.8 + 0.01 * k, 0.6, z + 0.02 * k * (j == 2)] for k in range(n_seeds)]
              for j, z in enumerate(z_digit)] for _ in range(2)]
    cls = [[[[0.3, 0.4, 0.5, 0.6, 0.55, 0.5]] * n_seeds for _ in z_digit] for _ in range(2)]
    return {"layers": layers, "strengths": [0.3, 0.8], "p_drops": [0.0, 0.5, 1.0],
            "acc_digit": digit, "acc_class": cls,
            "untrained_digit": [[[0.2] * 6] * n_seeds] * 2,
            "untrained_class": [[[0.2] * 6] * n_seeds] * 2,
            "loss": [[[[5.0]] * n_seeds] * 3] * 2, "chance_digit": 0.1, "chance_class": 0.1,
            "data_description": "hand-made", "network": "none"}


def test_claims_pair_each_strength_and_seed_and_the_verdict_follows_the_numbers():
    from helpers import evidence as ev

    grows = ev.evaluate(digit_overlay, _hand_payload(True))
    assert grows["ch5-digit-h-beats-z"].n_seeds == 6  # 2 strengths x 3 seeds
    assert grows["ch5-digit-h-beats-z"].effect == pytest.approx(100 * (0.81 - 0.22))
    assert ev.verdict(digit_overlay.CLAIMS[1], grows["ch5-digit-gap-grows"]) == ev.SUPPORTED
    shrinks = ev.evaluate(digit_overlay, _hand_payload(False))
    assert ev.verdict(digit_overlay.CLAIMS[0], shrinks["ch5-digit-h-beats-z"]) == ev.SUPPORTED
    assert ev.verdict(digit_overlay.CLAIMS[1], shrinks["ch5-digit-gap-grows"]) == ev.CONTRADICTED


def test_structure_check_needs_the_trained_network_to_read_the_digit():
    from helpers import evidence as ev

    assert "passed" in ev.check_structure(digit_overlay, _hand_payload(True))[0]
    unlearned = _hand_payload(True)
    unlearned["untrained_digit"] = [[[0.81] * 6] * 3] * 2  # as good as the trained network
    with pytest.raises(ev.StandInError, match="read the digit"):
        ev.check_structure(digit_overlay, unlearned)


def test_cell_table_prints_every_cell_and_the_floor():
    text = digit_overlay.cell_table(_hand_payload(True, n_seeds=1))
    assert "  0.8       1     80.0     20.0   +60.0" in text
    assert "(untr.)" in text and "chance: digit 10 %" in text


def test_plots_return_figures(payload):
    import matplotlib.pyplot as plt

    for fig in (digit_overlay.plot_layers(payload, PROVENANCE),
                digit_overlay.plot_heatmaps(payload, PROVENANCE),
                digit_overlay.plot_layers(_hand_payload(True), PROVENANCE)):
        assert isinstance(fig, plt.Figure)
        assert any("profile smoke" in t.get_text() for t in fig.texts)  # the provenance caption
        plt.close(fig)
    fig = digit_overlay.example_images(_tiny_cfg(), seed=0, n=4, p_drop=0.0, profile="smoke")
    assert [ax.get_xlabel() for ax in fig.axes[-8:]] == ["kept"] * 8 and len(fig.axes) == 4 * 4
    assert any("profile smoke" in t.get_text() for t in fig.texts)
    plt.close(fig)
    fig = digit_overlay.example_images(_tiny_cfg(), seed=0, n=4, p_drop=1.0, profile="smoke")
    labels = np.array([ax.get_xlabel() for ax in fig.axes[-8:]]).reshape(2, 4)
    assert all(sorted(labels[:, k]) == ["dropped", "kept"] for k in range(4))  # one view each
    plt.close(fig)


@pytest.mark.parametrize("shape", [(4, 20, 20), (4, 28, 32), (4, 32, 32)])
def test_mnist_images_that_are_not_28x28_are_refused_with_the_path(tmp_path, shape):
    _write_mnist(tmp_path, n=4)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(_idx_bytes(np.zeros(shape, np.uint8)))
    with pytest.raises(ValueError, match="28") as err:
        load_mnist(tmp_path, "train")
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="28"):
        mnist_digit_masks(3, seed=0, size=32, root=tmp_path)  # gave masks of the wrong size


@pytest.mark.parametrize("size", [8, 16, 31, 32, 33, 64])
def test_mnist_masks_have_the_size_asked_for(tmp_path, size):
    _write_mnist(tmp_path, n=4)
    masks, digits = mnist_digit_masks(3, seed=0, size=size, root=tmp_path)
    assert masks.shape == (3, size, size) and digits.shape == (3,)


@pytest.mark.parametrize("n,size", [(2.5, 32), (3, 32.0), (True, 32), (3, "32")])
def test_mnist_masks_refuse_non_integer_sizes(tmp_path, n, size):
    _write_mnist(tmp_path, n=4)
    with pytest.raises((TypeError, ValueError), match="must be an int"):
        mnist_digit_masks(n, seed=0, size=size, root=tmp_path)
