"""Does a batched view sampler follow SimCLR's augmentation distributions? A statistical checker.

A test oracle (not part of the reader's package), used by ``tests/test_pipeline.py`` on the
sampler the training pipeline actually calls
(``SimCLRAugment.sample_params``), and shown to fail on samplers built with a wrong range.
Every quantity is compared twice, with tolerances that follow from the sample size (a test at
level ``alpha``), never tuned:

* **against the specification** (torchvision's documented laws, Chen et al. 2020 App. A):
  crop area fraction ~ U(scale) and log aspect ratio ~ U(log ratio) (checked where no proposal
  can be rejected, see :func:`_crop_spec_problems`), a uniform integer offset, flip / jitter /
  grayscale rates, jitter factors ~ U(max(0, 1 - s), 1 + s), hue ~ U(-h, h), a uniform order;
* **against torchvision itself**: ``RandomResizedCrop.get_params`` and ``ColorJitter.get_params``
  sampled many times (two-sample Kolmogorov-Smirnov), and the coins of ``RandomHorizontalFlip``,
  ``RandomApply`` and ``RandomGrayscale`` observed on probe images (two-proportion tests).

A problem is returned as a sentence naming the quantity, the test and its p-value.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np
import torch
from scipy import stats

from helpers.augment import SIMCLR_SPEC  # SimCLR's CIFAR settings, the book's defaults
JITTER_NAMES = ("brightness", "contrast", "saturation", "hue")

Sampler = Callable[..., "object"]  # sample(batch, height, width, *, generator) -> ViewParams


def check_view_sampler(sample: Sampler, spec: dict = SIMCLR_SPEC, *, n: int = 20_000,
                       n_torchvision: int = 4000, seed: int = 0, alpha: float = 1e-4,
                       size: int = 32) -> list[str]:
    """Every way ``sample`` departs from ``spec`` or from torchvision; [] when it follows both.

    Args:
        sample: ``sample(batch, height, width, generator=) -> ViewParams`` (crop, flip, jitter,
            gray), e.g. ``SimCLRAugment().sample_params``.
        spec: the intended settings (keys as :data:`SIMCLR_SPEC`).
        n: parameter draws from ``sample`` per check. n_torchvision: draws from torchvision.
        alpha: level of each test (a correct sampler is flagged by one test with prob. alpha).
        size: image side of the torchvision comparison (CIFAR: 32, where rounding matters).

    Raises:
        ValueError: n or n_torchvision < 100, or alpha outside (0, 0.5).
    """
    if n < 100 or n_torchvision < 100:
        raise ValueError(f"n and n_torchvision must be >= 100 for the tests to mean anything, "
                         f"got {n}, {n_torchvision}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    gen = torch.Generator().manual_seed(seed)
    tv = _torchvision_draws(tuple(sorted(spec.items())), size, n_torchvision, seed + 1)
    problems = _crop_spec_problems(sample(n, 1024, 1024, generator=gen).crop, spec, alpha)
    params = sample(n, size, size, generator=gen)
    problems += _crop_torchvision_problems(params.crop, tv["crop"], size, alpha)
    problems += _jitter_problems(params.jitter, spec, tv["jitter"], alpha)
    problems += _coin_problems(params, spec, tv, alpha)
    return problems


@lru_cache(maxsize=8)
def _torchvision_draws(spec_items: tuple, size: int, n_tv: int, seed: int) -> dict:
    """torchvision's own parameters, drawn ``n_tv`` times at ``spec`` (cached: they depend on
    nothing else). Its transforms draw from the global generator, hence the fork."""
    import torchvision.transforms as T

    spec = dict(spec_items)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        img = torch.empty(3, size, size)
        crop = np.array([T.RandomResizedCrop.get_params(img, list(spec["scale"]),
                                                        list(spec["ratio"]))
                         for _ in range(n_tv)], dtype=float)  # rows (top, left, h, w)
        cj = T.ColorJitter(*spec["jitter"])
        jitter = np.array([[float(v) for v in T.ColorJitter.get_params(
            cj.brightness, cj.contrast, cj.saturation, cj.hue)[1:]] for _ in range(n_tv)])
        # the coins, observed on a small asymmetric coloured probe image (3, 1, 2)
        probe = torch.tensor([[[0.9, 0.1]], [[0.2, 0.5]], [[0.4, 0.7]]])
        flip = T.RandomHorizontalFlip(spec["p_flip"])
        jit = T.RandomApply([T.ColorJitter(*spec["jitter"])], p=spec["p_jitter"])
        gray = T.RandomGrayscale(spec["p_gray"])
        changed = lambda t: np.array([not torch.equal(t(probe), probe) for _ in range(n_tv)])
        # a jitter with these strengths changes a coloured pixel almost surely
        return {"crop": crop, "jitter": jitter, "flip": changed(flip), "apply": changed(jit),
                "gray": changed(gray)}


# ----------------------------------------------------------------------------- crop


def _ks_uniform(name: str, x: np.ndarray, lo: float, hi: float, alpha: float,
                slack: np.ndarray | float = 1e-9) -> list[str]:
    """Range check (each value may miss by its ``slack``: pixel rounding) and a KS test."""
    out = []
    if len(x) and (np.any(x < lo - slack) or np.any(x > hi + slack)):
        out.append(f"{name}: values in [{x.min():.4g}, {x.max():.4g}] leave [{lo:.4g}, {hi:.4g}]")
    p = stats.kstest(x, "uniform", args=(lo, hi - lo)).pvalue
    if p < alpha:
        out.append(f"{name}: not U({lo:.4g}, {hi:.4g}) (KS p = {p:.2g} < {alpha:g})")
    return out


def _ks_two(name: str, ours: np.ndarray, theirs: np.ndarray, alpha: float) -> list[str]:
    p = stats.ks_2samp(ours, theirs).pvalue
    return [f"{name}: differs from torchvision's (two-sample KS p = {p:.2g} < {alpha:g})"] \
        if p < alpha else []


def _crop_spec_problems(crop, spec: dict, alpha: float) -> list[str]:
    """The crop law on a 1024 x 1024 image, where rounding to pixels is negligible.

    torchvision proposes area fraction a ~ U(scale) and log aspect ~ U(log ratio), independent,
    and keeps the first proposal that fits. A proposal with a <= a_fit = min(s_hi, r_lo, 1/r_hi)
    always fits a square image, so the kept boxes with a <= a_fit are exactly uniform on
    [s_lo, a_fit] x [log r_lo, log r_hi] (each attempt contributes the same uniform density
    there): a test of the specification that needs no simulation.
    """
    (s_lo, s_hi), (r_lo, r_hi) = spec["scale"], spec["ratio"]
    side = 1024
    h, w = crop.height.double().numpy(), crop.width.double().numpy()
    area, log_aspect = h * w / side ** 2, np.log(w / h)
    # w and h are rounded to whole pixels: how far that can move each value
    area_slack = (0.5 * (w + h) + 0.25) / side ** 2
    aspect_slack = 0.5 / (w - 0.5) + 0.5 / (h - 0.5)
    a_fit = min(s_hi, r_lo, 1 / r_hi)
    out = []
    if np.any(area > s_hi + area_slack) or np.any(area < s_lo - area_slack):
        out.append(f"crop area fraction: values in [{area.min():.4g}, {area.max():.4g}] leave "
                   f"the scale range [{s_lo:g}, {s_hi:g}]")
    if a_fit > s_lo:
        sel = area <= a_fit
        out += _ks_uniform("crop area fraction (where every aspect fits)", area[sel], s_lo,
                           a_fit, alpha, area_slack[sel])
        out += _ks_uniform("crop log aspect ratio (where every aspect fits)", log_aspect[sel],
                           math.log(r_lo), math.log(r_hi), alpha, aspect_slack[sel])
        expected = _share_above(a_fit, spec)
        k = int((area > a_fit).sum())
        p = stats.binomtest(k, len(area), expected).pvalue
        if p < alpha:
            out.append(f"crop area fraction: {k / len(area):.4f} of the boxes have area > "
                       f"{a_fit:.3g}, the specification gives {expected:.4f} (binomial p = "
                       f"{p:.2g} < {alpha:g})")
    # A uniform integer offset in {0..m}, m = side - h, rescaled to (0, 1); boxes with m >= 100
    # only (given h the offset is uniform, so this selects nothing), where discreteness is < 1 %.
    room = side - h + 1
    top = (crop.top.double().numpy() + 0.5) / room
    out += _ks_uniform("crop vertical offset", top[room > 100], 0.0, 1.0, alpha)
    return out


def _share_above(a_fit: float, spec: dict, attempts: int = 10) -> float:
    """P(kept box has area fraction > a_fit) on a square image, from the specification.

    One proposal (a, r) fits iff a * r <= 1 and a / r <= 1, i.e. log r in [log a, -log a];
    with f(a) the fitting share of log-aspects, one proposal fits and has a > a_fit with
    probability P1 = int_{a_fit}^{s_hi} f(a) da / (s_hi - s_lo), and fits at all with q. The
    first fitting proposal of ``attempts`` is kept, else the whole image (area 1):
    P = P1 (1 - (1 - q)^attempts) / q + (1 - q)^attempts.
    """
    from scipy.integrate import quad

    (s_lo, s_hi), (r_lo, r_hi) = spec["scale"], spec["ratio"]
    lo, hi = math.log(r_lo), math.log(r_hi)

    def fit_share(a: float) -> float:
        return max(0.0, min(-math.log(a), hi) - max(math.log(a), lo)) / (hi - lo)

    width = s_hi - s_lo
    p1 = quad(fit_share, a_fit, s_hi)[0] / width
    q = quad(fit_share, s_lo, a_fit)[0] / width + p1
    miss = (1 - q) ** attempts
    return p1 * (1 - miss) / q + miss


def _crop_torchvision_problems(crop, tv: np.ndarray, size: int, alpha: float) -> list[str]:
    def quantities(top, left, h, w):
        return {"crop area fraction": h * w / size ** 2, "crop log aspect ratio": np.log(w / h),
                "crop top offset": top / (size - h + 1), "crop left offset": left / (size - w + 1)}

    ours = quantities(*(t.double().numpy() for t in crop[:4]))
    theirs = quantities(*tv.T)
    return [msg for key in ours for msg in _ks_two(key, ours[key], theirs[key], alpha)]


# --------------------------------------------------------------------------- jitter


def _jitter_problems(jitter, spec: dict, tv: np.ndarray, alpha: float) -> list[str]:
    strengths = spec["jitter"]
    ranges = [(max(0.0, 1 - s), 1 + s) for s in strengths[:3]] + [(-strengths[3], strengths[3])]
    factors = jitter.factors.double().numpy()
    out = []
    for k, (name, (lo, hi)) in enumerate(zip(JITTER_NAMES, ranges)):
        if hi == lo:  # strength 0: the identity factor, as torchvision's None
            if not np.all(factors[:, k] == lo):
                out.append(f"jitter {name}: strength 0 must give the identity factor {lo:g}")
            continue
        f = factors[:, k]
        out += _ks_uniform(f"jitter {name} factor", f, lo, hi, alpha)
        # The extremes of n uniform draws sit within (hi - lo) * log(1 / alpha) / n of the
        # ends except with probability alpha: a range drawn too narrow is caught here.
        slack = (hi - lo) * math.log(1 / alpha) / len(f)
        if f.min() > lo + slack or f.max() < hi - slack:
            out.append(f"jitter {name} factor: draws span [{f.min():.4g}, {f.max():.4g}], "
                       f"narrower than [{lo:g}, {hi:g}]")
        out += _ks_two(f"jitter {name} factor", f, tv[:, k], alpha)
    order = jitter.order.numpy()
    codes = (order * np.array([64, 16, 4, 1])).sum(1)  # a permutation -> one base-4 number
    counts = np.unique(codes, return_counts=True)[1]
    if len(counts) != 24 or stats.chisquare(counts).pvalue < alpha:
        out.append("jitter order: not a uniform random permutation of the 4 ops "
                   f"({len(counts)} distinct orders seen)")
    return out


# ---------------------------------------------------------------------------- coins


def _rate_problems(name: str, ours: np.ndarray, p: float, tv: np.ndarray, alpha: float) -> list[str]:
    k, n = int(ours.sum()), len(ours)
    out = []
    p_spec = stats.binomtest(k, n, p).pvalue if 0 < p < 1 else float(k == round(p * n))
    if p_spec < alpha:
        out.append(f"{name}: rate {k / n:.4f}, the specification says {p:g} "
                   f"(binomial p = {p_spec:.2g} < {alpha:g})")
    table = [[k, n - k], [int(tv.sum()), len(tv) - int(tv.sum())]]
    if 0 < p < 1 and stats.chi2_contingency(table).pvalue < alpha:
        out.append(f"{name}: rate {k / n:.4f} differs from torchvision's {tv.mean():.4f} "
                   "(two-proportion test)")
    return out


def _coin_problems(params, spec: dict, tv: dict, alpha: float) -> list[str]:
    """Flip, jitter-applied and grayscale rates against the spec and torchvision's coins."""
    return (_rate_problems("flip", params.flip.numpy(), spec["p_flip"], tv["flip"], alpha)
            + _rate_problems("jitter applied", params.jitter.apply.numpy(), spec["p_jitter"],
                             tv["apply"], alpha)
            + _rate_problems("grayscale", params.gray.numpy(), spec["p_gray"], tv["gray"], alpha))
