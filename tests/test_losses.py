"""Losses against naive loops written from the papers, exact cases, gradients and bad input.

The oracles below use plain Python floats and loops only (no torch ops), so they share no
code with helpers.losses.
"""

import math

import numpy as np
import pytest
import torch

from helpers.losses import info_nce, nt_xent, spectral_contrastive, supcon


# --- independent oracles ------------------------------------------------------------------

def _unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def naive_nt_xent(z1, z2, tau):
    """Chen et al. 2020, eq. 1: one anchor at a time, mean over the 2N anchors."""
    views = [_unit(v) for v in z1.tolist() + z2.tolist()]
    n2, n = len(views), len(z1)
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2  # the other view of the same image
        denom = sum(math.exp(_dot(views[i], views[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(_dot(views[i], views[j]) / tau) / denom)
    return total / n2


def naive_supcon(features, labels, tau):
    """Khosla et al. 2020, eq. 2 (L_out); anchors without a positive are skipped."""
    feats = features.tolist() if features.ndim == 3 else [[row] for row in features.tolist()]
    labels = labels.tolist()
    items = [(_unit(view), labels[i]) for i, sample in enumerate(feats) for view in sample]
    losses = []
    for a, (ua, ya) in enumerate(items):
        others = [k for k in range(len(items)) if k != a]
        positives = [p for p in others if items[p][1] == ya]
        if not positives:
            continue
        denom = sum(math.exp(_dot(ua, items[k][0]) / tau) for k in others)
        losses.append(-sum(math.log(math.exp(_dot(ua, items[p][0]) / tau) / denom)
                           for p in positives) / len(positives))
    return sum(losses) / len(losses)


def naive_spectral(z1, z2):
    """HaoChen et al. 2021: -2 mean positive dot + mean squared negative dot."""
    a, b, n = z1.tolist(), z2.tolist(), len(z1)
    pos = sum(_dot(a[i], b[i]) for i in range(n)) / n
    neg = sum(_dot(a[i], b[j]) ** 2 for i in range(n) for j in range(n) if i != j)
    return -2 * pos + neg / (n * (n - 1))


def randn(seed, *shape, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- NT-Xent ------------------------------------------------------------------------------

@pytest.mark.parametrize("n, dim, tau", [(2, 3, 0.5), (2, 1, 0.1), (5, 8, 0.1), (16, 4, 1.0),
                                         (7, 32, 2.0)])
def test_nt_xent_matches_loop(n, dim, tau):
    z1, z2 = randn(n, n, dim), randn(n + 100, n, dim)
    assert nt_xent(z1, z2, tau).item() == pytest.approx(naive_nt_xent(z1, z2, tau), abs=1e-10)


def test_info_nce_is_nt_xent_and_default_temperature_is_half():
    z1, z2 = randn(0, 4, 3), randn(1, 4, 3)
    assert info_nce is nt_xent
    assert nt_xent(z1, z2).item() == pytest.approx(naive_nt_xent(z1, z2, 0.5), abs=1e-10)


@pytest.mark.parametrize("n", [2, 3, 64])
@pytest.mark.parametrize("scale", [1.0, 1e-3, 7.0])
def test_nt_xent_equal_projections_give_log_2n_minus_1(n, scale):
    """All cosine similarities are 1: each anchor picks its partner among 2N - 1 equal logits."""
    z = torch.ones(n, 5, dtype=torch.float64)
    assert nt_xent(z, scale * z, 0.3).item() == pytest.approx(math.log(2 * n - 1), abs=1e-12)


def test_nt_xent_orthogonal_exact():
    """z1 = z2 = [e1, e2], tau = 1: each anchor has similarity 1 to its partner, 0 to the two
    negatives, so every anchor's loss is -log(e / (e + 2)) = log(1 + 2/e)."""
    z = torch.eye(2, dtype=torch.float64)
    assert nt_xent(z, z.clone(), 1.0).item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-12)


def test_nt_xent_float32_close_to_float64():
    z1, z2 = randn(3, 8, 6), randn(4, 8, 6)
    got = nt_xent(z1.float(), z2.float(), 0.2)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(naive_nt_xent(z1, z2, 0.2), abs=1e-5)


# --- SupCon -------------------------------------------------------------------------------

@pytest.mark.parametrize("labels, views", [
    ([0, 1, 0, 1, 2, 2], 2),
    ([0, 0, 1, 2, 2, 2], 3),   # class 1 has one sample, but 3 views give it positives
    ([0, 1, 1, 3], 1),         # classes 0 and 3 have one sample and one view: skipped
    ([5, 5, 5, 5], 2),         # every other anchor is a positive
    ([4, 9], 2),               # smallest: 2 images, 2 views, distinct labels
])
def test_supcon_matches_loop(labels, views):
    labels = torch.tensor(labels)
    feats = randn(len(labels) + views, len(labels), views, 6)
    assert supcon(feats, labels, 0.7).item() == pytest.approx(naive_supcon(feats, labels, 0.7), abs=1e-10)


def test_supcon_skips_singleton_anchor_exactly():
    """One view, label 7 occurs once: that anchor is left out of the mean (4 anchors, not 5),
    but it stays a negative in the other anchors' denominators."""
    feats, labels = randn(11, 5, 4), torch.tensor([0, 0, 1, 1, 7])
    got = supcon(feats, labels, 0.5).item()
    assert got == pytest.approx(naive_supcon(feats, labels, 0.5), abs=1e-10)
    without = supcon(feats[:4], labels[:4], 0.5).item()
    assert without == pytest.approx(naive_supcon(feats[:4], labels[:4], 0.5), abs=1e-10)
    assert got > without + 1e-3  # an extra negative can only raise each anchor's loss


@pytest.mark.parametrize("n", [2, 3, 8])
def test_supcon_two_views_distinct_labels_is_nt_xent(n):
    z1, z2 = randn(3 + n, n, 5), randn(4 + n, n, 5)
    got = supcon(torch.stack([z1, z2], dim=1), torch.arange(n), 0.5)
    assert got.item() == pytest.approx(nt_xent(z1, z2, 0.5).item(), abs=1e-10)
    assert got.item() == pytest.approx(naive_nt_xent(z1, z2, 0.5), abs=1e-10)


def test_supcon_accepts_one_view_2d():
    feats, labels = randn(0, 6, 4), torch.tensor([0, 0, 1, 1, 2, 2])
    assert supcon(feats, labels).item() == pytest.approx(naive_supcon(feats, labels, 0.5), abs=1e-10)
    assert supcon(feats, labels).item() == pytest.approx(supcon(feats[:, None], labels).item(), abs=1e-12)


# --- spectral contrastive -----------------------------------------------------------------

@pytest.mark.parametrize("n, dim", [(2, 1), (2, 4), (5, 3), (20, 10)])
def test_spectral_matches_formula(n, dim):
    z1, z2 = randn(n, n, dim), randn(n + 7, n, dim)
    assert spectral_contrastive(z1, z2).item() == pytest.approx(naive_spectral(z1, z2), abs=1e-10)


def test_spectral_exact_cases():
    # z1 = z2 = I: positives 1, negatives 0 -> -2
    eye = torch.eye(4, dtype=torch.float64)
    assert spectral_contrastive(eye, eye.clone()).item() == pytest.approx(-2.0, abs=1e-12)
    # not normalised: scaling by c multiplies the positive term by c^2, the negative by c^4
    z1, z2 = randn(1, 3, 2), randn(2, 3, 2)
    c = 3.0
    assert spectral_contrastive(c * z1, z2 * c).item() == pytest.approx(
        naive_spectral(c * z1, c * z2), abs=1e-9)
    assert spectral_contrastive(c * z1, c * z2).item() != pytest.approx(
        spectral_contrastive(z1, z2).item(), abs=1e-3)


# --- gradients ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [
    lambda a, b: nt_xent(a, b, 0.5),
    lambda a, b: supcon(torch.stack([a, b], dim=1), torch.tensor([0, 1, 0, 2]), 0.5),
    spectral_contrastive,
], ids=["nt_xent", "supcon", "spectral"])
def test_gradients_flow_and_match_finite_differences(loss):
    a, b = randn(0, 4, 3).requires_grad_(), randn(1, 4, 3).requires_grad_()
    out = loss(a, b)
    out.backward()
    for g in (a.grad, b.grad):
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert torch.autograd.gradcheck(loss, (a.detach().requires_grad_(), b.detach().requires_grad_()))


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("tau, error, message", [
    *[(t, ValueError, "temperature must be > 0, got")
      for t in (0, 0.0, -0.5, float("nan"), float("inf"), -float("inf"))],
    *[(t, TypeError, "temperature must be a real number")
      for t in ("0.5", None, True, torch.tensor(0.5))],
])
def test_bad_temperature(tau, error, message):
    z = randn(0, 4, 3)
    with pytest.raises(error, match=message):
        nt_xent(z, z, tau)
    with pytest.raises(error, match=message):
        supcon(z, torch.arange(4) % 2, tau)


@pytest.mark.parametrize("fn", [nt_xent, spectral_contrastive], ids=["nt_xent", "spectral"])
@pytest.mark.parametrize("z1, z2, exc, match", [
    (randn(0, 4, 3), randn(1, 4, 2), ValueError, r"z1 \(4, 3\) and z2 \(4, 2\)"),
    (randn(0, 4, 3), randn(1, 5, 3), ValueError, r"z1 \(4, 3\) and z2 \(5, 3\)"),
    (randn(0, 4, 3, 2), randn(1, 4, 3, 2), ValueError, r"must both be \(batch, dim\)"),
    (randn(0, 4), randn(1, 4), ValueError, r"must both be \(batch, dim\)"),
    (randn(0, 1, 3), randn(1, 1, 3), ValueError, "at least 2"),
    (torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2), TypeError, "z1 must be a floating-point"),
    (torch.ones(3, 2), [[1.0, 2.0]] * 3, TypeError, "z2 must be a floating-point"),
])
def test_bad_pairs(fn, z1, z2, exc, match):
    with pytest.raises(exc, match=match):
        fn(z1, z2)


@pytest.mark.parametrize("features, labels, exc, match", [
    (randn(0, 4, 2, 3), torch.arange(5), ValueError, r"labels must have shape \(batch,\) = \(4,\)"),
    (randn(0, 4, 2, 3), torch.zeros(4, 1, dtype=torch.long), ValueError, "labels must have shape"),
    (randn(0, 4, 2, 3), torch.zeros(4), TypeError, "labels must be an integer"),
    (randn(0, 4, 2, 3), [0, 1, 0, 1], TypeError, "labels must be an integer"),
    (randn(0, 4, 2, 3, 1), torch.arange(4), ValueError, r"features must be \(batch, n_views, dim\)"),
    (torch.ones(4, 2, 3, dtype=torch.int64), torch.arange(4), TypeError, "features must be a floating-point"),
    (randn(0, 4, 3), torch.arange(4), ValueError, "no anchor has a positive"),
    (randn(0, 1, 1, 3), torch.tensor([0]), ValueError, "no anchor has a positive"),
])
def test_supcon_bad_input(features, labels, exc, match):
    with pytest.raises(exc, match=match):
        supcon(features, labels)


# --------------------------------------------- batched temperatures (issue 20): clear errors


def test_batched_nt_xent_refuses_a_bool_temperature():
    from helpers.losses import batched_nt_xent

    z = torch.randn(2, 4, 3)
    for tau in (True, torch.tensor([True, True]), "0.5", None):
        with pytest.raises(TypeError, match="temperature"):
            batched_nt_xent(z, z, tau)


@pytest.mark.parametrize("tau", [torch.tensor([0.5, 0.5, 0.5]), torch.ones(2, 1),
                                 [0.5, 0.5, 0.5], torch.ones(1)])
def test_batched_nt_xent_names_a_wrong_length_temperature(tau):
    from helpers.losses import batched_nt_xent

    z = torch.randn(2, 4, 3)  # B = 2 models: a number, or one temperature per model
    with pytest.raises(ValueError, match=r"\(B,\) = \(2,\)"):
        batched_nt_xent(z, z, tau)


def test_batched_nt_xent_temperatures_match_the_loop():
    from helpers.losses import batched_nt_xent

    torch.manual_seed(0)
    z1, z2 = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    taus = [0.2, 0.5, 1.0]
    for tau in (taus, torch.tensor(taus), np.array(taus), np.float32(0.3), 0.3):
        got = batched_nt_xent(z1, z2, tau)
        each = np.broadcast_to(np.asarray(tau, dtype=float), (3,))
        want = torch.stack([nt_xent(z1[b], z2[b], float(each[b])) for b in range(3)])
        assert torch.allclose(got, want, atol=1e-6)
