"""Digits on images: overlay strength, digit present / absent, DropDigit's rate, seeding."""

import importlib

import pytest
import torch

from helpers.augment import SimCLRAugment
from helpers.data.overlay import (DropDigit, composite, digit_masks, overlay,
                                  with_mask_channel)


def _images(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 200, (n, 3, size, size), generator=g, dtype=torch.uint8)


def test_digit_masks_are_real_digits_and_seeded():
    m1, y1 = digit_masks(20, seed=3, size=16)
    m2, y2 = digit_masks(20, seed=3, size=16)
    assert m1.shape == (20, 16, 16) and y1.shape == (20,)
    assert torch.equal(m1, m2) and torch.equal(y1, y2)
    assert 0 <= float(m1.min()) and float(m1.max()) <= 1 and float(m1.max()) > 0.5
    assert not torch.equal(m1, digit_masks(20, seed=4, size=16)[0])


def test_overlay_matches_the_blend_formula():
    """Against a naive per-pixel loop: x (1 - s m) + 255 s m."""
    x = _images(2, 4)
    m = torch.rand(2, 4, 4, generator=torch.Generator().manual_seed(1))
    s = 0.6
    out = overlay(x, m, s)
    for i in range(2):
        for c in range(3):
            for r in range(4):
                for k in range(4):
                    a = s * float(m[i, r, k])
                    want = round(float(x[i, c, r, k]) * (1 - a) + 255 * a)
                    assert abs(int(out[i, c, r, k]) - want) <= 1


def test_strength_zero_is_clean_and_one_is_opaque():
    x = _images()
    m, _ = digit_masks(len(x), seed=0, size=16)
    assert torch.equal(overlay(x, m, 0.0), x)
    opaque = overlay(x, (m > 0.5).float(), 1.0)
    assert torch.all(opaque.permute(1, 0, 2, 3)[:, m > 0.5] == 255)
    # per-image strengths: image 0 without digit, the others with
    s = torch.tensor([0.0] + [1.0] * (len(x) - 1))
    mixed = overlay(x, m, s)
    assert torch.equal(mixed[0], x[0]) and not torch.equal(mixed[1], x[1])


def test_composite_round_trips_the_mask():
    x = _images()
    m, _ = digit_masks(len(x), seed=0, size=16)
    packed = with_mask_channel(x, m)
    assert packed.shape == (len(x), 4, 16, 16) and packed.dtype == torch.uint8
    assert torch.equal(composite(packed, 0.0), x)
    assert (composite(packed, 0.7).int() - overlay(x, m, 0.7).int()).abs().max() <= 1


@pytest.mark.parametrize("p_drop", [0.0, 0.3, 0.6, 1.0])
def test_drop_digit_one_view_keeps_the_digit_and_views_disagree_at_rate_p(p_drop):
    """With an identity base augment a view equals the clean image exactly when it lost its
    digit: at most one view of an image loses it, and the views disagree at rate p_drop."""
    n = 4000
    x = torch.full((n, 3, 8, 8), 10, dtype=torch.uint8)
    m = torch.ones(n, 8, 8)
    aug = DropDigit(lambda v, generator=None: v, strength=0.5, p_drop=p_drop)
    v1, v2 = aug.two_views(with_mask_channel(x, m), generator=torch.Generator().manual_seed(0))
    dropped = torch.stack([(v == 10).all(dim=(1, 2, 3)) for v in (v1, v2)])  # (2, n)
    assert not (dropped[0] & dropped[1]).any()  # one view always shows the digit
    disagree = float((dropped[0] ^ dropped[1]).float().mean())
    assert abs(disagree - p_drop) < 0.03
    if p_drop > 0:  # either view may be the one that loses it
        assert abs(float(dropped[0].float().mean()) - p_drop / 2) < 0.03
    kept = ~dropped
    assert torch.equal(kept[0] | kept[1], torch.ones(n, dtype=torch.bool))
    assert (v1[kept[0]] != 10).all()  # a kept digit is visible (strength 0.5 over a full mask)


def test_drop_digit_single_view_keeps_the_digit():
    x = torch.full((50, 3, 8, 8), 10, dtype=torch.uint8)
    aug = DropDigit(lambda v, generator=None: v, strength=0.5, p_drop=1.0)
    assert (aug(with_mask_channel(x, torch.ones(50, 8, 8))) != 10).all()


def test_drop_digit_with_simclr_augment_is_seeded():
    x = _images(8, 32)
    m, _ = digit_masks(8, seed=0, size=32)
    aug = DropDigit(SimCLRAugment(size=32), strength=0.8, p_drop=0.5)
    a = aug.two_views(with_mask_channel(x, m), generator=torch.Generator().manual_seed(5))
    b = aug.two_views(with_mask_channel(x, m), generator=torch.Generator().manual_seed(5))
    assert a[0].shape == (8, 3, 32, 32)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("call, match", [
    (lambda: overlay(_images(), torch.rand(6, 16, 16), 1.5), "strength"),
    (lambda: overlay(_images().float(), torch.rand(6, 16, 16), 0.5), "uint8"),
    (lambda: overlay(_images(), torch.rand(5, 16, 16), 0.5), "masks"),
    (lambda: composite(_images(), 0.5), "packed"),
    (lambda: DropDigit(lambda v, generator=None: v, strength=0.5, p_drop=1.2), "p_drop"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_check_drop_digit_passes_on_digit_images_and_fails_on_independent_drops(monkeypatch):
    from helpers.evidence import StandInError
    ov = importlib.import_module("helpers.data.overlay")  # `helpers.data.overlay` also names a function

    x = _images(400, 16)
    m, _ = digit_masks(400, seed=1, size=16)
    packed = with_mask_channel(x, m)
    for p in (0.0, 0.5, 1.0):
        assert "passed" in ov.check_drop_digit(packed, 0.8, p)

    def independent(self, n, generator=None, device=None):  # the old, wrong DropDigit
        return (torch.rand(n, generator=generator) >= self.p_drop,
                torch.rand(n, generator=generator) >= self.p_drop)

    monkeypatch.setattr(ov.DropDigit, "digit_kept", independent)
    with pytest.raises(StandInError, match="both views"):
        ov.check_drop_digit(packed, 0.8, 1.0)
