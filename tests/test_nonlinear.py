"""Chapter 5's synthetic experiment: the signed-feature data, the batched nets, the probes."""

import numpy as np
import pytest
import torch

from helpers.data.signflip import SignFlipFeatures
from helpers.experiments import nonlinear as nl
from helpers.models import DeepLinearNet, ReLUMLP
from helpers.profiles import get_profile


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_clean_samples_carry_sign_in_coordinate_zero():
    x, sign = SignFlipFeatures(dim=5, amplitude=2.0).sample(1000, gen())
    assert x.shape == (1000, 5) and sign.shape == (1000,)
    assert torch.equal((x[:, 0] > 0).long(), sign)
    assert 0.45 < sign.float().mean() < 0.55
    # magnitude 2|g|: E|x_0| = 2 sqrt(2/pi)
    assert abs(x[:, 0].abs().mean().item() - 2 * np.sqrt(2 / np.pi)) < 0.1


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_views_disagree_in_sign_at_rate_2p_1_minus_p(p):
    v1, v2 = SignFlipFeatures(dim=3, sigma=0.0).sample_pairs((20_000,), p, gen(1))
    disagree = ((v1[:, 0] > 0) != (v2[:, 0] > 0)).float().mean().item()
    assert abs(disagree - 2 * p * (1 - p)) < 0.015
    torch.testing.assert_close(v1[:, 0].abs(), v2[:, 0].abs())  # the magnitude is shared
    torch.testing.assert_close(v1[:, 1:], v2[:, 1:])  # so are the other features (sigma = 0)


def test_per_model_flip_probabilities_and_noise():
    p = torch.tensor([[0.0], [0.5]])
    v1, v2 = SignFlipFeatures(dim=3, sigma=0.0).sample_pairs((2, 20_000), p, gen(2))
    disagree = ((v1[..., 0] > 0) != (v2[..., 0] > 0)).float().mean(1)
    assert disagree[0] == 0 and abs(disagree[1] - 0.5) < 0.015
    n1, n2 = SignFlipFeatures(dim=3, sigma=0.5).sample_pairs((20_000,), 0.0, gen(3))
    assert abs((n1 - n2).std().item() - 0.5 * np.sqrt(2)) < 0.02


def test_sampling_is_seeded():
    a = SignFlipFeatures().sample_pairs((7,), 0.5, gen(4))
    b = SignFlipFeatures().sample_pairs((7,), 0.5, gen(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("kwargs, match", [(dict(dim=1), "dim"), (dict(amplitude=0.0), "amplitude"),
                                           (dict(sigma=-1.0), "sigma"),
                                           (dict(amplitude=float("nan")), "amplitude")])
def test_bad_model_parameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SignFlipFeatures(**kwargs)


def test_bad_flip_probability_raises():
    with pytest.raises(ValueError, match="p_flip"):
        SignFlipFeatures().sample_pairs((4,), 1.5)


def test_batched_forward_matches_the_books_networks():
    W1, W2 = nl.init_weights(2, (6, 8, 5), gen(5))
    x = torch.randn(10, 6, generator=gen(6))
    h, z = nl.forward(W1, W2, x, torch.tensor([True, False]))
    relu, lin = ReLUMLP([6, 8, 5], bias=False), DeepLinearNet([6, 8, 5], bias=False)
    for k, net in enumerate((relu, lin)):
        with torch.no_grad():
            net.layers[0].weight.copy_(W1[k])
            net.layers[1].weight.copy_(W2[k])
            # ReLUMLP applies ReLU between layers, not after the last one: compare its hidden
            # layer after the ReLU and its output.
            hidden = torch.relu(net.layers[0](x)) if k == 0 else net.layers[0](x)
            torch.testing.assert_close(h[k], hidden)
            torch.testing.assert_close(z[k], net(x))


def test_sgd_step_matches_torch_sgd_per_model():
    torch.manual_seed(0)
    W = torch.randn(2, 3, 4)
    decays = torch.tensor([0.0, 0.1])
    mine = W.clone().requires_grad_(True)
    buf = [torch.zeros_like(W)]
    refs = [W[k].clone().requires_grad_(True) for k in range(2)]
    opts = [torch.optim.SGD([r], lr=0.05, momentum=0.9, weight_decay=float(d))
            for r, d in zip(refs, decays)]
    target = torch.randn(2, 3, 4)
    for _ in range(5):
        ((mine - target) ** 3).sum().backward()
        nl.sgd_step([mine], buf, 0.05, 0.9, decays)
        for k, (r, o) in enumerate(zip(refs, opts)):
            o.zero_grad()
            ((r - target[k]) ** 3).sum().backward()
            o.step()
    for k in range(2):
        torch.testing.assert_close(mine[k].detach(), refs[k].detach())


def _hand_built(kind: str):
    """A 6-4-4 net keeping |x_0| at the top: ReLU units relu(x_0), relu(-x_0) summed by W2, or
    the linear net that can only drop x_0 (its first layer ignores it)."""
    W1 = torch.zeros(1, 4, 6)
    W2 = torch.zeros(1, 4, 4)
    if kind == "relu":
        W1[0, 0, 0], W1[0, 1, 0] = 1.0, -1.0  # a pair of opposite units
        W2[0, 0, 0] = W2[0, 0, 1] = 1.0  # summed: |x_0|
    W1[0, 2, 1] = W1[0, 3, 2] = 1.0  # two ordinary features pass through
    W2[0, 2, 2] = W2[0, 3, 3] = 1.0
    return {"W1": W1, "W2": W2, "relu": torch.tensor([kind == "relu"])}


def test_probe_sees_the_sign_only_where_the_mechanism_keeps_it():
    cfg = get_profile("smoke").config("nonlinear")
    relu = nl.probe_all(cfg, _hand_built("relu"), seed=0)[0]  # (layers, targets)
    lin = nl.probe_all(cfg, _hand_built("linear"), seed=0)[0]
    sign, control = nl.TARGETS.index("sign"), nl.TARGETS.index("control")
    inp, h, z = range(3)
    assert relu[inp, sign] > 0.95 and relu[h, sign] > 0.95  # the pair of units splits the sign
    assert relu[z, sign] < 0.6  # their sum |x_0| is even in x_0: the sign is gone
    assert lin[h, sign] < 0.6 and lin[z, sign] < 0.6
    assert lin[z, control] > 0.95
    # In the ReLU net |x_0| (scale 2) dominates the layer's norm, so the fixed-penalty probe
    # reads the unit-scale control feature less well - a feature, not a bug, of scaled probes.
    assert min(relu[h, control], relu[z, control]) > 0.8


def test_sign_sensitivity_of_the_hand_built_nets():
    cfg = get_profile("smoke").config("nonlinear")
    ts = torch.linspace(-3, 3, 13)
    relu = nl.sign_response(cfg, _hand_built("relu"), ts)["sensitivity"][0]
    lin = nl.sign_response(cfg, _hand_built("linear"), ts)["sensitivity"][0]
    assert relu[0] > 0.5 and relu[1] < 1e-6 and lin.abs().max() < 1e-6


def test_smoke_run_payload():
    cfg = get_profile("smoke").config("nonlinear")
    p = nl.run(cfg, seed=0, progress=False)
    M = 2 * len(nl.conditions(cfg)) * cfg.n_seeds
    assert np.array(p["accuracy"]).shape == (M, 3, 3)
    assert np.array(p["sensitivity"]).shape == (M, 2)
    assert set(p["showcase"]) == {"relu", "linear"}
    assert np.array(p["showcase"]["relu"]["hidden"]).shape == (len(p["ts"]), cfg.width)
    acc = np.array(p["accuracy"])
    assert ((acc >= 0) & (acc <= 1)).all()
