"""The procedural UrbanCars (helpers.data.urbancars) and the real-data loaders
(helpers.data.urbancars_real), on tiny files written here."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.data import urbancars as uc
from helpers.data import urbancars_real as real
from helpers.probes import logistic_probe_fit


def test_train_counts_match_the_real_set():
    d = uc.make_urbancars("train", size=16, seed=0)
    assert len(d) == 8000
    counts = torch.bincount(d.extra["group"], minlength=8).tolist()
    # groups 4y + 2b + o: class 0 urban (both agree = bg 0, obj 0), class 1 country
    assert counts == [3610, 190, 190, 10, 10, 190, 190, 3610]
    agree_bg = (d.extra["bg"] == d.labels).float().mean().item()
    assert agree_bg == pytest.approx(0.95)
    assert uc.split_counts("train").tolist() == [list(uc.TRAIN_COUNTS)] * 2


@pytest.mark.parametrize("split", ["val", "test"])
def test_val_test_balanced_over_8_groups(split):
    d = uc.make_urbancars(split, size=16, seed=0)
    assert len(d) == 1000
    assert torch.bincount(d.extra["group"], minlength=8).tolist() == [125] * 8


def test_seeded_and_split_specific():
    a = uc.make_urbancars("val", size=16, seed=3, n=80)
    uc._cache.clear()
    b = uc.make_urbancars("val", size=16, seed=3, n=80)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    c = uc.make_urbancars("val", size=16, seed=4, n=80)
    t = uc.make_urbancars("test", size=16, seed=3, n=80)
    assert not torch.equal(a.images, c.images) and not torch.equal(a.images, t.images)
    assert a.images.shape == (80, 3, 16, 16) and a.images.dtype == torch.uint8


def test_swaps_change_only_their_cue():
    d = uc.make_urbancars("test", size=32, seed=0, n=64, return_masks=True)
    bgf = uc.make_urbancars("test", size=32, seed=0, n=64, shift="bg_flip", return_masks=True)
    obf = uc.make_urbancars("test", size=32, seed=0, n=64, shift="coobj_flip", return_masks=True)
    assert torch.equal(bgf.extra["bg"], 1 - d.extra["bg"])
    assert torch.equal(bgf.extra["coobj"], d.extra["coobj"]) and torch.equal(bgf.labels, d.labels)
    assert torch.equal(obf.extra["coobj"], 1 - d.extra["coobj"])
    assert torch.equal(bgf.extra["car_mask"], d.extra["car_mask"])
    # background swap: opaque car and object pixels unchanged, background pixels changed
    solid = (d.extra["car_mask"] == 255) | (d.extra["obj_mask"] == 255)
    diff = (bgf.images.int() - d.images.int()).abs().amax(dim=1)
    assert (diff[solid] <= 1).all()  # 255 is coverage >= 99.8 %: at most one grey level leaks
    same = diff == 0
    free = (d.extra["car_mask"] == 0) & (d.extra["obj_mask"] == 0)
    assert (~same[free]).float().mean() > 0.5
    # co-object swap: everything outside both objects' masks unchanged
    outside = free & (obf.extra["obj_mask"] == 0)
    assert ((obf.images.int() - d.images.int()).abs().amax(dim=1)[outside] <= 1).all()
    assert not torch.equal(obf.extra["obj_mask"], d.extra["obj_mask"])


def test_composite_pastes_by_mask():
    bg = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    fg = torch.full((2, 3, 4, 4), 200, dtype=torch.uint8)
    mask = torch.zeros(2, 4, 4, dtype=torch.uint8)
    mask[:, :2] = 255
    out = uc.composite(bg, [(fg, mask)])
    assert (out[:, :, :2] == 200).all() and (out[:, :, 2:] == 0).all()
    with pytest.raises(ValueError, match="do not match"):
        uc.composite(bg, [(fg[:1], mask)])


def test_watermark_on_one_class_and_placement():
    d = uc.make_urbancars("test", size=32, seed=0, n=64, watermark_class=1)
    assert torch.equal(d.extra["watermark"], d.labels)
    added = uc.make_urbancars("test", size=32, seed=0, n=64, shift="watermark_add")
    assert added.extra["watermark"].all()
    m = uc.watermark_mask(64)
    ys, xs = np.nonzero(m > 0.3)
    assert xs.min() < 0.1 * 64 and xs.mean() < 0.5 * 64  # starts at the left edge
    assert abs(ys.mean() / 64 - 0.40) < 0.08  # at about 40 % height
    # opacity 0.5, measured in the pixels: with and without the mark, (a - b) = 0.5 m (255 - b)
    a = uc.make_urbancars("test", size=64, seed=0, n=16, shift="watermark_add").images.double()
    b = uc.make_urbancars("test", size=64, seed=0, n=16, shift="watermark_remove").images.double()
    mask = torch.as_tensor(m).double()
    under = mask > 0.5
    ratio = ((a - b) / ((255 - b).clamp(min=20) * mask))[:, :, under]
    assert abs(ratio.median().item() - 0.5) < 0.03


def test_each_cue_is_learnable_alone():
    """A linear probe on raw pixels reads each cue from balanced images (cues independent)."""
    tr = uc.make_urbancars("val", size=32, seed=5, n=480)
    te = uc.make_urbancars("test", size=32, seed=5, n=240)
    X = tr.images.flatten(1).float() / 255
    Xt = te.images.flatten(1).float() / 255
    for y, yt in ((tr.labels, te.labels), (tr.extra["bg"], te.extra["bg"]),
                  (tr.extra["coobj"], te.extra["coobj"])):
        probe = logistic_probe_fit(X, y, 2, l2=1e-2, max_iter=200)
        assert probe.score(Xt, yt) > 0.75


@pytest.mark.parametrize("kwargs, match", [
    (dict(bg_agree=1.5), r"\[0, 1\]"), (dict(obj_agree=-0.1), r"\[0, 1\]"),
    (dict(group_counts=(3610, 190, 190, 10), n=100), "add up"),
    (dict(group_counts=(1, 2, 3)), "4 non-negative"), (dict(shift="rotate"), "unknown shift"),
    (dict(size=8), "size"), (dict(n=7), "even"), (dict(watermark_class=2), "watermark_class"),
    (dict(seed=-1), "seed")])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        uc.make_urbancars("train", **kwargs)


def test_bad_split_and_val_size():
    with pytest.raises(ValueError, match="split"):
        uc.make_urbancars("holdout")
    with pytest.raises(ValueError, match="multiple of 8"):
        uc.make_urbancars("val", n=100)


# --- real data: tiny files in the released layout --------------------------------------------

def _write_urbancars(root, per_group=2, size=(12, 12), mode="RGB", masks=True):
    """The authors' layout (gen_urbancars.py, urbancars_aug_gen_bg_only.py): NNN.jpg, and next
    to it NNN_mask.png and NNN_co_occur_obj_mask.png (written like torchvision's save_image:
    three equal channels), and in train NNN_bg_only.png. Mask values encode (group, index) so
    the test can check that each mask is read with its own image."""
    rng = np.random.default_rng(0)
    for split, sub in real.URBANCARS_SPLIT_DIRS.items():
        for o in (0, 1):
            for b in (0, 1):
                for c in (0, 1):
                    folder = root / sub / real.urbancars_folder(o, b, c)
                    folder.mkdir(parents=True, exist_ok=True)
                    for i in range(per_group):
                        arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
                        Image.fromarray(arr).convert(mode).save(folder / f"{i:03d}.jpg")
                        if not masks:
                            continue
                        g = 4 * o + 2 * b + c
                        for suffix, value in (("_mask", 10 + 16 * g + i),
                                              ("_co_occur_obj_mask", 140 + 8 * g + i)):
                            m = np.full((size[1], size[0], 3), value, dtype=np.uint8)
                            Image.fromarray(m).save(folder / f"{i:03d}{suffix}.png")
                        if split == "train":
                            bg = np.full((size[1], size[0], 3), 3 * g + i, dtype=np.uint8)
                            Image.fromarray(bg).save(folder / f"{i:03d}_bg_only.png")


def test_real_loader_reads_the_layout(tmp_path):
    _write_urbancars(tmp_path)
    d = real.load_urbancars(tmp_path, "train")
    # 16 images, not 64: the three .png files next to every .jpg are masks, not images
    assert len(d) == 16 and d.images.shape == (16, 3, 12, 12)
    assert torch.bincount(d.extra["group"], minlength=8).tolist() == [2] * 8
    g = d.extra["group"]
    assert torch.equal(d.labels, g // 4) and torch.equal(d.extra["bg"], (g // 2) % 2)
    assert torch.equal(d.extra["coobj"], g % 2)
    # each image's masks and background are its own (values written from group and index)
    index = torch.arange(16) % 2
    assert d.extra["car_mask"].shape == (16, 12, 12) and d.extra["car_mask"].dtype == torch.uint8
    assert torch.equal(d.extra["car_mask"][:, 0, 0], 10 + 16 * g + index)
    assert torch.equal(d.extra["obj_mask"][:, 5, 7], 140 + 8 * g + index)
    assert d.extra["bg_only"].shape == (16, 3, 12, 12)
    assert torch.equal(d.extra["bg_only"][:, 1, 3, 3], 3 * g + index)
    test = real.load_urbancars(tmp_path, "test", size=8)
    assert test.images.shape == (16, 3, 8, 8) and test.extra["car_mask"].shape == (16, 8, 8)
    assert "bg_only" not in test.extra  # the generator writes them for train only
    assert set(real.load_urbancars(tmp_path, "val", masks=False).extra) == {"bg", "coobj", "group"}


def test_real_loader_needs_every_mask(tmp_path):
    _write_urbancars(tmp_path)
    folder = tmp_path / real.URBANCARS_SPLIT_DIRS["val"] / real.urbancars_folder(1, 1, 0)
    (folder / "001_co_occur_obj_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="001_co_occur_obj_mask.png"):
        real.load_urbancars(tmp_path, "val")
    assert len(real.load_urbancars(tmp_path, "val", masks=False)) == 16
    train = tmp_path / real.URBANCARS_SPLIT_DIRS["train"] / real.urbancars_folder(0, 0, 0)
    (train / "000_bg_only.png").unlink()
    with pytest.raises(ValueError, match="1 of 16 .* no \\*_bg_only.png"):
        real.load_urbancars(tmp_path, "train")


def test_real_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="bg-0.95_co_occur_obj-0.95"):
        real.load_urbancars(tmp_path, "train")
    _write_urbancars(tmp_path)
    missing = tmp_path / real.URBANCARS_SPLIT_DIRS["val"] / real.urbancars_folder(1, 0, 1)
    for f in missing.iterdir():
        f.unlink()
    missing.rmdir()
    with pytest.raises(FileNotFoundError, match="obj-country_bg-urban_co_occur_obj-country"):
        real.load_urbancars(tmp_path, "val")
    with pytest.raises(ValueError, match="split"):
        real.load_urbancars(tmp_path, "dev")


def test_real_loader_rejects_wrong_mode_and_mixed_sizes(tmp_path):
    _write_urbancars(tmp_path / "grey", mode="L", masks=False)
    with pytest.raises(ValueError, match="mode 'L'"):
        real.load_urbancars(tmp_path / "grey", "train")
    _write_urbancars(tmp_path / "mixed")
    odd = tmp_path / "mixed" / real.URBANCARS_SPLIT_DIRS["test"] / real.urbancars_folder(0, 0, 0)
    Image.fromarray(np.zeros((9, 14, 3), dtype=np.uint8)).save(odd / "odd.jpg")
    with pytest.raises(ValueError, match="differ in size"):
        real.load_urbancars(tmp_path / "mixed", "test", masks=False)
    assert len(real.load_urbancars(tmp_path / "mixed", "test", size=10, masks=False)) == 17


def test_imagenet_r_style_folder(tmp_path):
    for w in ("n01443537", "n01484850"):
        (tmp_path / w).mkdir()
        Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(tmp_path / w / "a.jpg")
    d = real.load_wnid_folder(tmp_path, wnids=["n00000001", "n01443537", "n01484850"], size=8)
    assert d.labels.tolist() == [1, 2] and d.images.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="not in the given wnids"):
        real.load_wnid_folder(tmp_path, wnids=["n01443537"])
    with pytest.raises(FileNotFoundError, match="ImageNet-A"):
        real.load_wnid_folder(tmp_path / "nope", name="ImageNet-A")


def test_backgrounds_challenge_folder(tmp_path):
    base = tmp_path / "mixed_rand" / "val"
    for name in ("00_dog", "08_fish"):
        (base / name).mkdir(parents=True)
        Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(base / name / "x.JPEG")
    d = real.load_backgrounds_challenge(tmp_path, "mixed_rand", size=8)
    assert d.labels.tolist() == [0, 8] and d.num_classes == 9
    with pytest.raises(FileNotFoundError, match="only_fg"):
        real.load_backgrounds_challenge(tmp_path, "only_fg")
    (base / "cats").mkdir()
    with pytest.raises(ValueError, match="NN_<name>"):
        real.load_backgrounds_challenge(tmp_path, "mixed_rand")


def test_an_empty_group_folder_is_refused_with_its_path(tmp_path):
    _write_urbancars(tmp_path)
    empty = tmp_path / real.URBANCARS_SPLIT_DIRS["train"] / real.urbancars_folder(0, 1, 1)
    for f in empty.iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="no images") as err:
        real.load_urbancars(tmp_path, "train")
    assert str(empty) in str(err.value)


def test_a_decompression_bomb_names_its_path(tmp_path, monkeypatch):
    """PIL refuses images over 2 * MAX_IMAGE_PIXELS; the error must say which file it was."""
    _write_urbancars(tmp_path, size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 x 40 = 1600 > 2 * 100: a "bomb"
    with pytest.raises(ValueError, match="pixels") as err:
        real.load_urbancars(tmp_path, "test")
    assert ".jpg" in str(err.value) and str(tmp_path) in str(err.value)


# --- the Last Layer Ensemble's swaps (swap_cues), stand-in and real layout ---------------------

@pytest.mark.parametrize("mode", uc.SWAP_MODES)
def test_swaps_take_the_cue_from_another_image_never_the_source(mode):
    d = uc.make_urbancars("train", size=32, seed=0, n=400, return_masks=True)
    a = uc.swap_cues(d, mode, seed=0)
    assert torch.equal(a.labels, d.labels) and a.images.shape == d.images.shape
    # no augmented image is pixel-identical to its source
    assert not (a.images == d.images).flatten(1).all(dim=1).any()
    idx = torch.arange(len(d))
    swapped, kept = ("bg_source", "obj_source") if mode == "bg" else ("obj_source", "bg_source")
    assert (d.labels[a.extra[swapped]] != d.labels).all()  # the swapped cue: the other class
    assert (d.labels[a.extra[kept]] == d.labels).all()  # the other cue: the same class...
    assert (a.extra[kept] != idx).all() and (a.extra[swapped] != idx).all()  # ...never itself
    assert torch.equal(a.extra["bg"], d.extra["bg"][a.extra["bg_source"]])
    assert torch.equal(a.extra["coobj"], d.extra["coobj"][a.extra["obj_source"]])
    # the car is the source's: its opaque pixels unchanged
    car = d.extra["car_mask"] == 255
    diff = (a.images.int() - d.images.int()).abs().amax(dim=1)
    assert (diff[car] == 0).all()
    # the swapped cue now disagrees with the label mostly (95 % in the source class)
    cue = a.extra["bg" if mode == "bg" else "coobj"]
    assert (cue != a.labels).float().mean() > 0.85


def test_swaps_refuse_data_without_masks():
    d = uc.make_urbancars("train", size=16, seed=0, n=40)
    with pytest.raises(ValueError, match="return_masks=True"):
        uc.swap_cues(d, "bg", 0)
    with pytest.raises(ValueError, match="mode"):
        uc.swap_cues(uc.make_urbancars("train", size=16, seed=0, n=40, return_masks=True), "car", 0)


def test_swaps_on_the_real_layout(tmp_path):
    _write_urbancars(tmp_path)
    train = real.load_urbancars(tmp_path, "train")
    a = uc.swap_cues(train, "coobj", seed=1)
    assert len(a) == 16 and not (a.images == train.images).flatten(1).all(dim=1).any()
    assert (train.labels[a.extra["obj_source"]] != train.labels).all()
