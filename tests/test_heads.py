"""Heads: shapes, every layer's output, the MLP head against functional ops, the fixed head
against a plain Python loop, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.heads import FixedReweightingHead, IdentityHead, LinearHead, MLPHead, make_head


def randn(seed, *shape, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def all_heads():
    torch.manual_seed(0)
    return [IdentityHead(4), LinearHead(4, 2), LinearHead(4, 3, bias=True), MLPHead(4, 8, 2),
            MLPHead(4, 8, 5, batch_norm=False), FixedReweightingHead(4, 2.0)]


# --- shapes and forward_layers ------------------------------------------------------------

@pytest.mark.parametrize("head, n_layers", list(zip(all_heads(), [1, 1, 1, 2, 2, 1])),
                         ids=["identity", "linear", "linear-bias", "mlp", "mlp-nobn", "fixed"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_last_layer_is_output_and_shapes(head, n_layers, mode):
    head = head.double().train(mode == "train")
    h = randn(1, 3, 4)
    layers = head.forward_layers(h)
    assert len(layers) == n_layers
    assert layers[-1].shape == (3, head.out_dim)
    torch.testing.assert_close(layers[-1], head(h), rtol=0, atol=0)
    assert head.in_dim == 4


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("head", all_heads(), ids=lambda h: type(h).__name__)
@pytest.mark.parametrize("bad", [(3, 5), (3,), (3, 4, 1), (4, 3)])
def test_wrong_input_shape_says_expected_and_got(head, bad):
    with pytest.raises(ValueError, match=rf"must be \(batch, 4\), got {re_shape(bad)}"):
        head(torch.randn(*bad))


@pytest.mark.parametrize("head", all_heads(), ids=lambda h: type(h).__name__)
def test_non_tensor_input_is_type_error(head):
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        head([[0.0] * 4])


# --- each head against an oracle ----------------------------------------------------------

def test_identity_head_returns_h():
    h = randn(0, 5, 3)
    head = IdentityHead(3)
    assert head(h) is h and head.forward_layers(h) == [h]
    assert head.out_dim == 3 and list(head.parameters()) == []


@pytest.mark.parametrize("bias", [False, True])
def test_linear_head_matches_matmul(bias):
    torch.manual_seed(1)
    head = LinearHead(6, 3, bias=bias).double()
    h = randn(2, 5, 6)
    w = head.linear.weight.detach().tolist()
    b = head.linear.bias.detach().tolist() if bias else [0.0] * 3
    expected = torch.tensor([[sum(w[o][i] * row[i] for i in range(6)) + b[o] for o in range(3)]
                             for row in h.tolist()], dtype=torch.float64)
    torch.testing.assert_close(head(h), expected, rtol=0, atol=1e-12)
    assert len(list(head.parameters())) == (2 if bias else 1)


def _mlp_oracle(head, h, training):
    bn = head.bn
    pre = F.linear(h, head.fc1.weight, head.fc1.bias)
    if isinstance(bn, torch.nn.BatchNorm1d):
        # the running statistics are cloned so the oracle does not update the head's own
        pre = F.batch_norm(pre, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias,
                           training, 0.0, bn.eps)
    hidden = F.relu(pre)
    return hidden, F.linear(hidden, head.fc2.weight, head.fc2.bias)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_mlp_head_matches_functional_ops(training, batch_norm):
    torch.manual_seed(0)
    head = MLPHead(6, 10, 3, batch_norm=batch_norm).double().train(training)
    if batch_norm:
        with torch.no_grad():  # non-trivial BN statistics and affine parameters
            head.bn.running_mean.normal_()
            head.bn.running_var.uniform_(0.5, 2.0)
            head.bn.weight.uniform_(0.5, 1.5)
            head.bn.bias.normal_()
    h = randn(3, 5, 6)
    hidden, z = _mlp_oracle(head, h, training)
    got_hidden, got_z = head.forward_layers(h)
    torch.testing.assert_close(got_hidden, hidden, rtol=0, atol=1e-12)
    torch.testing.assert_close(got_z, z, rtol=0, atol=1e-12)
    assert got_hidden.shape == (5, 10) and got_z.shape == (5, 3) and head.out_dim == 3
    assert (got_hidden >= 0).all()  # the hidden layer is after the ReLU
    assert (head.fc1.bias is None) == batch_norm


def test_mlp_head_defaults_are_simclr():
    head = MLPHead(512)
    assert head.fc1.out_features == 2048 and head.out_dim == 128
    assert isinstance(head.bn, torch.nn.BatchNorm1d)


def test_mlp_head_batch_of_one():
    head = MLPHead(4, 8, 2)
    with pytest.raises(ValueError, match="at least 2 in training mode.*head.eval()"):
        head(torch.randn(1, 4))
    assert head.eval()(torch.randn(1, 4)).shape == (1, 2)


def fixed_oracle(h, kappa):
    """Xue et al. 2024, Sec. 6: z_j = h_j * kappa^(-j), coordinate by coordinate."""
    return torch.tensor([[row[j] * kappa ** (-j) for j in range(len(row))] for row in h.tolist()],
                        dtype=torch.float64)


@pytest.mark.parametrize("dim, kappa", [(1, 3.0), (7, 1.3), (16, 1.05), (5, 2), (40, 10.0)])
def test_fixed_head_matches_loop(dim, kappa):
    h = randn(dim, 4, dim)
    torch.testing.assert_close(FixedReweightingHead(dim, kappa)(h), fixed_oracle(h, kappa),
                               rtol=1e-12, atol=0)


def test_fixed_head_float32_and_gradient():
    head = FixedReweightingHead(6, 1.5)
    h = randn(0, 3, 6, dtype=torch.float32).requires_grad_()
    z = head(h)
    assert z.dtype == torch.float32
    torch.testing.assert_close(z.double(), fixed_oracle(h.detach(), 1.5), rtol=1e-6, atol=0)
    z.sum().backward()  # dz/dh_j = kappa^(-j) for every row
    torch.testing.assert_close(h.grad[0].double(), torch.tensor([1.5 ** -j for j in range(6)],
                                                                dtype=torch.float64), rtol=1e-6, atol=0)


def test_fixed_head_is_not_trainable_and_kappa_one_is_identity():
    head = FixedReweightingHead(5, 1.05)
    assert list(head.parameters()) == []
    assert "weights" in head.state_dict()  # a buffer: saved and moved with the module
    h = randn(4, 3, 5)
    torch.testing.assert_close(FixedReweightingHead(5, 1)(h), h, rtol=0, atol=0)
    torch.testing.assert_close(FixedReweightingHead(5, 1.0)(h), h, rtol=0, atol=0)


@pytest.mark.parametrize("kappa", [0.5, 0, -1, 0.999, math.nan, math.inf, -math.inf])
def test_fixed_head_bad_kappa_value(kappa):
    with pytest.raises(ValueError, match=r"kappa must be a finite number >= 1 \(1 means no head"):
        FixedReweightingHead(4, kappa)


@pytest.mark.parametrize("kappa", [True, "2", None, 1 + 1j])
def test_fixed_head_bad_kappa_type(kappa):
    with pytest.raises(TypeError, match="kappa must be a real number"):
        FixedReweightingHead(4, kappa)


# --- constructor sizes and the factory ----------------------------------------------------

@pytest.mark.parametrize("make, exc, match", [
    (lambda: IdentityHead(0), ValueError, "dim must be a positive int, got 0"),
    (lambda: FixedReweightingHead(-3, 1.5), ValueError, "dim must be a positive int, got -3"),
    (lambda: FixedReweightingHead(4.0, 1.5), TypeError, "dim must be a positive int"),
    (lambda: LinearHead(4, 0), ValueError, "out_dim must be a positive int"),
    (lambda: MLPHead(4, hidden_dim=0), ValueError, "hidden_dim must be a positive int"),
    (lambda: MLPHead(True), TypeError, "in_dim must be a positive int"),
])
def test_bad_sizes(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("name, kwargs, cls, out_dim", [
    ("identity", {}, IdentityHead, 4), ("none", {}, IdentityHead, 4),
    ("linear", {"out_dim": 3}, LinearHead, 3), ("mlp", {"hidden_dim": 8, "out_dim": 2}, MLPHead, 2),
    ("fixed", {"kappa": 1.5}, FixedReweightingHead, 4),
])
def test_make_head(name, kwargs, cls, out_dim):
    head = make_head(name, 4, **kwargs)
    assert type(head) is cls and head.out_dim == out_dim and head.in_dim == 4
    assert head.eval()(torch.randn(2, 4)).shape == (2, out_dim)


def test_make_head_errors():
    with pytest.raises(ValueError, match="unknown head 'transformer'; valid names: identity, none, "
                                         "linear, mlp, fixed"):
        make_head("transformer", 4)
    with pytest.raises(TypeError, match="head name must be a string"):
        make_head(None, 4)
    with pytest.raises(ValueError, match="kappa must be"):
        make_head("fixed", 4, kappa=0.5)


# ------------------------------------------------- integer input (issue 20): a clear TypeError


@pytest.mark.parametrize("make", [lambda: FixedReweightingHead(3, 2.0), lambda: IdentityHead(3),
                                  lambda: LinearHead(3, 2), lambda: MLPHead(3, 4, 2)])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_heads_refuse_integer_input_instead_of_truncating(make, dtype):
    head = make().eval()
    with pytest.raises(TypeError, match=r"floating.*\.float\(\)"):
        head(torch.tensor([[1, 1, 1]]).to(dtype))


def test_fixed_head_on_the_float_of_an_integer_tensor_is_exact():
    z = FixedReweightingHead(3, 2.0)(torch.tensor([[1, 1, 1]]).float())
    assert z.tolist() == [[1.0, 0.5, 0.25]]  # the integer input gave [[1, 0, 0]]
