"""SimCLR augmentations against torchvision as the oracle: shapes, seeds, distributions, formulas."""

import math

import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from scipy import stats

from helpers.augment import (CropParams, SimCLRAugment, adjust_brightness,
                             adjust_contrast, adjust_hue, adjust_saturation, apply_crop,
                             apply_flip, apply_grayscale, apply_jitter, color_jitter,
                             random_flip, random_grayscale, random_resized_crop,
                             sample_crop_params, sample_flip_params, sample_grayscale_params,
                             sample_jitter_params)

N = 20_000  # parameter samples: a binomial rate is then known to about +-0.004 (1 sd at p=0.5)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 8, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=gen(seed))


def assert_rate(mask: torch.Tensor, p: float) -> None:
    """Observed rate within 5 binomial standard deviations of p (false alarm ~ 1e-6)."""
    n = mask.numel()
    assert abs(mask.float().mean().item() - p) <= 5 * math.sqrt(p * (1 - p) / n) + 1e-12


def box(p: CropParams, i: int) -> tuple[int, int, int, int]:
    return int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i])


# -------------------------------------------------------------------- shapes, seeds


def test_shapes_dtype_and_range():
    aug = SimCLRAugment(size=24)
    x = images(6, 32, 40)
    for inp in (x, (x * 255).round().to(torch.uint8)):
        v1, v2 = aug.two_views(inp, gen(1))
        for v in (v1, v2):
            assert v.shape == (6, 3, 24, 24) and v.dtype == torch.float32
            assert 0 <= v.min() and v.max() <= 1
        assert not torch.equal(v1, v2)  # two independent views
    assert random_resized_crop(x, 16, generator=gen()).shape == (6, 3, 16, 16)
    for fn in (random_flip, color_jitter, random_grayscale):
        y = fn(x, generator=gen())
        assert y.shape == x.shape and y.dtype == x.dtype and 0 <= y.min() and y.max() <= 1
    assert SimCLRAugment()(x[:0], gen()).shape == (0, 3, 32, 32)  # empty batch is fine


def test_same_seed_same_views_different_seed_different():
    aug, x = SimCLRAugment(), images(16)
    assert torch.equal(aug(x, gen(3)), aug(x, gen(3)))
    assert torch.equal(torch.stack(aug.two_views(x, gen(3))), torch.stack(aug.two_views(x, gen(3))))
    assert not torch.equal(aug(x, gen(3)), aug(x, gen(4)))


def test_pipeline_is_crop_flip_jitter_gray_in_that_order():
    x, g = images(16), gen(5)
    p_crop = sample_crop_params(16, 32, 32, generator=g)
    p_flip = sample_flip_params(16, 0.5, generator=g)
    p_jit = sample_jitter_params(16, generator=g)
    p_gray = sample_grayscale_params(16, 0.2, generator=g)
    expect = apply_grayscale(apply_jitter(apply_flip(apply_crop(x, p_crop, 32), p_flip), p_jit), p_gray)
    assert torch.equal(SimCLRAugment()(x, gen(5)), expect)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_with_a_cpu_generator():
    x = images(16)
    cpu = SimCLRAugment()(x, gen(2))
    gpu = SimCLRAugment()(x.cuda(), gen(2))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    g = torch.Generator(device="cuda").manual_seed(0)  # params drawn straight on the GPU
    assert sample_flip_params(4, generator=g, device="cuda").device.type == "cuda"


# ----------------------------------------------------------------------------- crop


def test_crop_params_inside_image_and_within_scale_and_ratio():
    H, W, scale, ratio = 32, 40, (0.08, 1.0), (3 / 4, 4 / 3)
    p = sample_crop_params(N, H, W, scale, ratio, generator=gen())
    assert all(t.shape == (N,) for t in p)
    assert p.top.min() >= 0 and p.left.min() >= 0 and p.height.min() >= 1 and p.width.min() >= 1
    assert (p.top + p.height).max() <= H and (p.left + p.width).max() <= W
    ok = ~p.fallback
    assert ok.float().mean() > 0.99  # a 40x32 image almost never needs the centre-crop fallback
    h, w = p.height[ok].double(), p.width[ok].double()
    # w and h are rounded, so only the unrounded box is exactly within scale/ratio:
    # allow each side +-0.5 pixel
    assert ((w - 0.5) * (h - 0.5) <= scale[1] * H * W).all()
    assert ((w + 0.5) * (h + 0.5) >= scale[0] * H * W).all()
    assert ((w - 0.5) / (h + 0.5) <= ratio[1]).all() and ((w + 0.5) / (h - 0.5) >= ratio[0]).all()
    # the offset is uniform over {0, ..., H - h}: (top + 1/2) / (H - h + 1) has mean exactly 1/2
    for start, length, full in ((p.top, p.height, H), (p.left, p.width, W)):
        rel = (start[ok] + 0.5) / (full - length[ok] + 1)
        assert abs(rel.mean().item() - 0.5) < 0.01


def test_crop_distribution_matches_torchvision_get_params():
    H, W, n_tv = 32, 40, 4000
    ours = sample_crop_params(N, H, W, generator=gen(1))
    torch.manual_seed(0)
    img = torch.empty(3, H, W)
    tv = torch.tensor([T.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])
                       for _ in range(n_tv)], dtype=torch.float64)  # rows (i, j, h, w)

    def stats_of(top, left, h, w):
        return {"area": (h * w / (H * W)).numpy(), "ratio": (w / h).numpy(),
                "top": (top / (H - h + 1)).numpy(), "left": (left / (W - w + 1)).numpy()}

    a = stats_of(*(t.double() for t in ours[:4]))
    b = stats_of(*tv.unbind(1))
    for key in a:
        # discrete values make KS conservative; 1e-3 still catches a wrong law (e.g. uniform
        # ratio instead of log-uniform gives p ~ 1e-9 here)
        assert stats.ks_2samp(a[key], b[key]).pvalue > 1e-3, key
        assert abs(a[key].mean() - b[key].mean()) < 0.03, key


@pytest.mark.parametrize("H, W, scale, ratio", [
    (32, 32, (0.9, 1.0), (3.0, 4.0)),   # image narrower than any allowed ratio: full width
    (16, 64, (0.99, 1.0), (0.5, 1.0)),  # image wider than any allowed ratio: full height
    (20, 30, (2.0, 3.0), (0.5, 2.0)),   # no crop fits, ratio allowed: the whole image
])
def test_crop_fallback_is_torchvision_centre_crop(H, W, scale, ratio):
    p = sample_crop_params(50, H, W, scale, ratio, generator=gen())
    expect = T.RandomResizedCrop.get_params(torch.empty(3, H, W), list(scale), list(ratio))
    assert p.fallback.all()
    assert all(box(p, i) == tuple(expect) for i in range(50))


def test_full_image_box_is_identity():
    x = images(4, 24, 24)
    full = CropParams(*(torch.tensor([v] * 4) for v in (0, 0, 24, 24)), torch.zeros(4, dtype=torch.bool))
    no_flip = torch.zeros(4, dtype=torch.bool)
    torch.testing.assert_close(apply_flip(apply_crop(x, full, 24), no_flip), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [12, 32, 48])  # down-, roughly same-, up-sampling
def test_apply_crop_equals_torchvision_resized_crop(size):
    # Boxes are integer (as get_params returns). Our sample points are interpolate's
    # (align_corners=False) clamped to the box's own edge pixels, so there is no half-pixel
    # difference even when upsampling; the tolerance only covers float rounding of the grid.
    x = images(64, 32, 40, seed=2)
    p = sample_crop_params(64, 32, 40, generator=gen(3))
    y = apply_crop(x, p, size)
    for i in range(64):
        ref = TF.resized_crop(x[i], *box(p, i), [size, size], antialias=False)
        torch.testing.assert_close(y[i], ref, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- flip


def test_flip_rate_and_equals_torch_flip():
    for p in (0.0, 0.5, 0.9, 1.0):
        assert_rate(sample_flip_params(N, p, generator=gen()), p)
    x = images(32)
    f = sample_flip_params(32, generator=gen(1))
    y = apply_flip(x, f)
    assert 0 < f.sum() < 32
    assert torch.equal(y[f], torch.flip(x[f], dims=[-1])) and torch.equal(y[~f], x[~f])


# --------------------------------------------------------------------------- jitter


@pytest.mark.parametrize("ours, theirs, lo, hi, atol", [
    (adjust_brightness, TF.adjust_brightness, 0.0, 2.0, 1e-5),
    (adjust_contrast, TF.adjust_contrast, 0.0, 2.0, 1e-5),
    (adjust_saturation, TF.adjust_saturation, 0.0, 2.0, 1e-5),
    (adjust_hue, TF.adjust_hue, -0.5, 0.5, 1e-4),
])
def test_each_jitter_op_equals_torchvision(ours, theirs, lo, hi, atol):
    x = images(24, 16, 16, seed=4)
    x[0] = 0.5  # a grey image: no hue, zero saturation
    x[1, :, :4] = 1.0  # saturated pixels: the clamp matters
    f = lo + (hi - lo) * torch.rand(24, generator=gen(5))
    y = ours(x, f)
    for i in range(24):
        torch.testing.assert_close(y[i], theirs(x[i], f[i].item()), atol=atol, rtol=0)


def test_apply_jitter_follows_each_images_order():
    x = images(24, 16, 16, seed=6)
    params = sample_jitter_params(24, 0.4, 0.4, 0.4, 0.1, p=1.0, generator=gen(7))
    params = params._replace(apply=torch.arange(24) % 3 != 0)  # every third image untouched
    y = apply_jitter(x, params)
    tv = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i in range(24):
        ref = x[i]
        if params.apply[i]:
            for k in params.order[i].tolist():
                ref = tv[k](ref, params.factors[i, k].item())
        torch.testing.assert_close(y[i], ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("hue", [0.1, 0.0])
def test_jitter_cpu_and_cuda_forms_agree(hue):
    """The CPU form (each op on the images that take it) and the batched CUDA form (16 ops and
    torch.where) are the same rule: equal to float rounding, on images with and without jitter,
    hue strength 0 (where the CPU form skips the HSV round trip) and some exact-0 hue shifts."""
    from helpers.augment import _apply_jitter_batched, _apply_jitter_indexed
    x = images(40, 16, 16, seed=8)
    params = sample_jitter_params(40, 0.4, 0.4, 0.4, hue, p=0.7, generator=gen(9))
    if hue:
        factors = params.factors.clone()
        factors[::5, 3] = 0.0
        params = params._replace(factors=factors)
    fast, batched = _apply_jitter_indexed(x, params), _apply_jitter_batched(x, params)
    torch.testing.assert_close(fast, batched, atol=1e-6, rtol=0)
    assert torch.equal(fast[~params.apply], x[~params.apply])
    assert torch.equal(apply_jitter(x, params), fast)  # x is on the CPU


def test_jitter_params_match_colorjitter_ranges_and_are_uniform():
    p = sample_jitter_params(N, 0.4, 0.4, 0.4, 0.1, p=0.8, generator=gen())
    assert p.factors.shape == (N, 4) and p.order.shape == (N, 4) and p.apply.shape == (N,)
    cj = T.ColorJitter(0.4, 0.4, 0.4, 0.1)  # torchvision's ranges are the reference
    ranges = [tuple(cj.brightness), tuple(cj.contrast), tuple(cj.saturation), tuple(cj.hue)]
    assert ranges[0] == pytest.approx((0.6, 1.4)) and ranges[3] == pytest.approx((-0.1, 0.1))
    for k, (lo, hi) in enumerate(ranges):
        f = p.factors[:, k].double()
        assert lo <= f.min() and f.max() <= hi
        assert stats.kstest(f.numpy(), "uniform", args=(lo, hi - lo)).pvalue > 1e-3
    assert torch.equal(p.order.sort(dim=1).values, torch.arange(4).expand(N, 4))  # permutations
    for step in range(4):  # every op is equally likely at every position
        counts = torch.bincount(p.order[:, step], minlength=4)
        assert (counts - N / 4).abs().max() < 5 * math.sqrt(N * 3 / 16)
    assert_rate(p.apply, 0.8)
    big = sample_jitter_params(N, 1.5, 0.0, 0.4, 0.5, generator=gen())  # lower bound clamps at 0
    assert big.factors[:, 0].min() >= 0 and big.factors[:, 0].max() <= 2.5
    assert (big.factors[:, 1] == 1).all()  # strength 0: identity factor, as torchvision's None
    assert big.factors[:, 3].abs().max() <= 0.5


def test_zero_strength_jitter_is_identity():
    x = images(8)
    assert torch.equal(color_jitter(x, 0, 0, 0, 0, p=1.0, generator=gen()), x)


# ------------------------------------------------------------------------ grayscale


def test_grayscale_rate_and_equals_torchvision():
    for p in (0.0, 0.2, 1.0):
        assert_rate(sample_grayscale_params(N, p, generator=gen()), p)
    x = images(32)
    g = sample_grayscale_params(32, 0.5, generator=gen(2))
    y = apply_grayscale(x, g)
    assert 0 < g.sum() < 32
    torch.testing.assert_close(y[g], TF.rgb_to_grayscale(x[g], num_output_channels=3), atol=1e-6, rtol=0)
    assert torch.equal(y[~g], x[~g])


# ----------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("call, exc, match", [
    (lambda: SimCLRAugment()(torch.rand(3, 32, 32)), ValueError, r"\(batch, 3, H, W\)"),
    (lambda: SimCLRAugment()(torch.rand(2, 1, 32, 32)), ValueError, r"\(batch, 3, H, W\)"),
    (lambda: SimCLRAugment()([[0.0]]), TypeError, "torch.Tensor"),
    (lambda: SimCLRAugment()(torch.zeros(2, 3, 8, 8, dtype=torch.int32)), TypeError, "uint8"),
    (lambda: random_flip(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)), TypeError, "float"),
    (lambda: SimCLRAugment()(torch.rand(2, 3, 8, 8), generator=0), TypeError, "torch.Generator"),
    (lambda: SimCLRAugment(p_jitter=1.5), ValueError, "p_jitter"),
    (lambda: SimCLRAugment(p_gray=-0.1), ValueError, "p_gray"),
    (lambda: SimCLRAugment(p_flip=2), ValueError, "p_flip"),
    (lambda: SimCLRAugment(size=0), ValueError, "size"),
    (lambda: SimCLRAugment(scale=(1.0, 0.08)), ValueError, "scale"),
    (lambda: SimCLRAugment(scale=(0.0, 1.0)), ValueError, "scale"),
    (lambda: SimCLRAugment(ratio=(4 / 3, 3 / 4)), ValueError, "ratio"),
    (lambda: SimCLRAugment(ratio=(-1.0, 1.0)), ValueError, "ratio"),
    (lambda: SimCLRAugment(jitter=(-0.1, 0.4, 0.4, 0.1)), ValueError, "brightness"),
    (lambda: SimCLRAugment(jitter=(0.4, 0.4, -1, 0.1)), ValueError, "saturation"),
    (lambda: SimCLRAugment(jitter=(0.4, 0.4, 0.4, 0.6)), ValueError, "hue"),
    (lambda: SimCLRAugment(jitter=(0.4, 0.4)), ValueError, "jitter"),
    (lambda: sample_flip_params(-1), ValueError, "batch"),
    (lambda: sample_crop_params(4, 0, 32), ValueError, "height"),
    (lambda: apply_flip(torch.rand(4, 3, 8, 8), torch.ones(3, dtype=torch.bool)), ValueError, "batch"),
    (lambda: apply_crop(torch.rand(4, 3, 8, 8), sample_crop_params(4, 8, 8), 0), ValueError, "size"),
])
def test_bad_inputs_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
