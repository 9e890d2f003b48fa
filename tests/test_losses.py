"""Losses against naive loops written from the papers, exact cases, and bad input."""

import math

import pytest
import torch

from helpers.losses import info_nce, nt_xent, spectral_contrastive, supcon


def naive_nt_xent(z1, z2, tau):
    """Chen et al. 2020, eq. 1, one anchor at a time."""
    views = [v / v.norm() for v in torch.cat([z1, z2])]
    n2, n = len(views), len(z1)
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        denom = sum(math.exp(float(views[i] @ views[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(float(views[i] @ views[j]) / tau) / denom)
    return total / n2


def naive_supcon(features, labels, tau):
    """Khosla et al. 2020, L_out, anchors without positives skipped."""
    b, v, _ = features.shape
    items = [(features[i, a] / features[i, a].norm(), int(labels[i])) for a in range(v) for i in range(b)]
    losses = []
    for i, (ui, yi) in enumerate(items):
        others = [k for k in range(len(items)) if k != i]
        positives = [k for k in others if items[k][1] == yi]
        if not positives:
            continue
        log_denom = math.log(sum(math.exp(float(ui @ items[k][0]) / tau) for k in others))
        losses.append(-sum(float(ui @ items[p][0]) / tau - log_denom for p in positives) / len(positives))
    return sum(losses) / len(losses)


def naive_spectral(z1, z2):
    n = len(z1)
    pos = sum(float(z1[i] @ z2[i]) for i in range(n)) / n
    neg = sum(float(z1[i] @ z2[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return -2 * pos + neg


def randn(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("n, dim, tau", [(2, 3, 0.5), (5, 8, 0.1), (16, 4, 1.0), (7, 32, 2.0)])
def test_nt_xent_matches_loop(n, dim, tau):
    z1, z2 = randn(n, n, dim), randn(n + 100, n, dim)
    assert float(nt_xent(z1, z2, tau)) == pytest.approx(naive_nt_xent(z1, z2, tau), rel=1e-10)
    assert info_nce is nt_xent


@pytest.mark.parametrize("n", [2, 3, 64])
def test_nt_xent_equal_projections_give_log_2n_minus_1(n):
    z = torch.ones(n, 5)
    assert float(nt_xent(z, z, 0.3)) == pytest.approx(math.log(2 * n - 1), rel=1e-6)


def test_nt_xent_is_scale_invariant_and_differentiable():
    z1, z2 = randn(0, 6, 4).requires_grad_(), randn(1, 6, 4)
    loss = nt_xent(z1, z2, 0.5)
    loss.backward()
    assert torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0
    assert float(nt_xent(3 * z1.detach(), z2, 0.5)) == pytest.approx(loss.item(), rel=1e-10)


@pytest.mark.parametrize("labels, views", [([0, 1, 0, 1, 2, 2], 2), ([0, 0, 1, 2, 2, 2], 3),
                                           ([0, 1, 1, 3], 1), ([5, 5, 5, 5], 2)])
def test_supcon_matches_loop(labels, views):
    """Includes classes with one sample (label 2 / 3 with one view: that anchor is skipped)."""
    labels = torch.tensor(labels)
    feats = randn(len(labels), len(labels), views, 6)
    assert float(supcon(feats, labels, 0.7)) == pytest.approx(naive_supcon(feats, labels, 0.7), rel=1e-10)


def test_supcon_two_views_distinct_labels_is_nt_xent():
    z1, z2 = randn(3, 8, 5), randn(4, 8, 5)
    got = supcon(torch.stack([z1, z2], dim=1), torch.arange(8), 0.5)
    assert float(got) == pytest.approx(float(nt_xent(z1, z2, 0.5)), rel=1e-10)


def test_supcon_accepts_one_view_2d():
    feats, labels = randn(0, 6, 4), torch.tensor([0, 0, 1, 1, 2, 2])
    assert float(supcon(feats, labels)) == pytest.approx(float(supcon(feats[:, None], labels)))


@pytest.mark.parametrize("n, dim", [(2, 1), (5, 3), (20, 10)])
def test_spectral_matches_formula(n, dim):
    z1, z2 = randn(n, n, dim), randn(n + 7, n, dim)
    assert float(spectral_contrastive(z1, z2)) == pytest.approx(naive_spectral(z1, z2), rel=1e-10)


@pytest.mark.parametrize("tau", [0, -0.5, float("nan"), float("inf"), "0.5"])
def test_bad_temperature(tau):
    z = randn(0, 4, 3)
    with pytest.raises(ValueError, match="temperature must be"):
        nt_xent(z, z, tau)
    with pytest.raises(ValueError, match="temperature must be"):
        supcon(z, torch.arange(4), tau)


def test_bad_shapes_and_types():
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(4, 2\)"):
        nt_xent(randn(0, 4, 3), randn(1, 4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(randn(0, 1, 3), randn(1, 1, 3))
    with pytest.raises(TypeError, match="floating-point"):
        spectral_contrastive(torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be"):
        supcon(randn(0, 4, 2, 3), torch.arange(5))
    with pytest.raises(ValueError, match="no anchor has a positive"):
        supcon(randn(0, 4, 3), torch.arange(4))
