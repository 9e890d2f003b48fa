"""Heads: every layer's output, the MLP head against functional ops, the fixed head against a loop."""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.heads import (FixedReweightingHead, IdentityHead, LinearHead, MLPHead, make_head)


def test_mlp_head_matches_functional_ops():
    torch.manual_seed(0)
    head = MLPHead(6, 10, 3).eval()
    with torch.no_grad():  # give BN non-trivial statistics
        head.bn.running_mean.normal_()
        head.bn.running_var.uniform_(0.5, 2.0)
    h = torch.randn(5, 6)
    bn = head.bn
    hidden = F.relu(F.batch_norm(F.linear(h, head.fc1.weight, head.fc1.bias), bn.running_mean,
                                 bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))
    z = F.linear(hidden, head.fc2.weight, head.fc2.bias)
    got_hidden, got_z = head.forward_layers(h)
    torch.testing.assert_close(got_hidden, hidden)
    torch.testing.assert_close(got_z, z)
    torch.testing.assert_close(head(h), z)
    assert head.out_dim == 3


def test_fixed_head_matches_loop():
    h = torch.randn(4, 7, dtype=torch.float64)
    kappa = 1.3
    expected = torch.empty_like(h)
    for j in range(7):
        expected[:, j] = h[:, j] / kappa ** j
    torch.testing.assert_close(FixedReweightingHead(7, kappa)(h), expected)


def test_fixed_head_is_not_trainable_and_kappa_one_is_identity():
    head = FixedReweightingHead(5, 1.05)
    assert list(head.parameters()) == []
    h = torch.randn(3, 5)
    torch.testing.assert_close(FixedReweightingHead(5, 1)(h), h)


@pytest.mark.parametrize("kappa", [0.5, 0, -1, math.nan, math.inf, True])
def test_fixed_head_bad_kappa(kappa):
    with pytest.raises(ValueError, match="kappa must be"):
        FixedReweightingHead(4, kappa)


@pytest.mark.parametrize("head", [IdentityHead(4), LinearHead(4, 2), MLPHead(4, 8, 2),
                                  FixedReweightingHead(4, 2.0)])
def test_last_layer_is_output_and_shapes_checked(head):
    h = torch.randn(3, 4)
    layers = head.eval().forward_layers(h)
    torch.testing.assert_close(layers[-1], head(h))
    assert layers[-1].shape == (3, head.out_dim)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        head(torch.randn(3, 5))


def test_make_head():
    assert isinstance(make_head("mlp", 4, hidden_dim=8, out_dim=2), MLPHead)
    assert isinstance(make_head("none", 4), IdentityHead)
    assert make_head("fixed", 4, kappa=1.5).kappa == 1.5
    with pytest.raises(ValueError, match="identity, none, linear, mlp, fixed"):
        make_head("transformer", 4)
