"""Models: every layer exposed; the CIFAR ResNet-18 is torchvision's resnet18 with the CIFAR stem."""

import re

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from helpers.models import DeepLinearNet, ReLUMLP, ResNet18


def cifar_torchvision_resnet18():
    """The oracle: torchvision's ResNet-18, stem conv 3x3 stride 1, no max-pool, no fc."""
    ref = torchvision.models.resnet18(num_classes=10)
    ref.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    ref.maxpool, ref.fc = nn.Identity(), nn.Identity()
    return ref


def torchvision_key(ours: str) -> str:
    key = re.sub(r"^stem\.0\.", "conv1.", ours)
    key = re.sub(r"^stem\.1\.", "bn1.", key)
    key = re.sub(r"^stages\.(\d)\.", lambda m: f"layer{int(m.group(1)) + 1}.", key)
    return key.replace(".shortcut.", ".downsample.")


def test_deep_linear_layers_are_successive_products():
    torch.manual_seed(0)
    net = DeepLinearNet([5, 4, 3, 2], init_scale=0.1)
    x = torch.randn(6, 5, dtype=torch.float64)
    net = net.double()
    W1, W2, W3 = (layer.weight.detach() for layer in net.layers)
    outs = net.forward_layers(x)
    assert [o.shape for o in outs] == [(6, 4), (6, 3), (6, 2)]
    torch.testing.assert_close(outs[0], x @ W1.T)
    torch.testing.assert_close(outs[1], x @ W1.T @ W2.T)
    torch.testing.assert_close(outs[2], x @ net.end_to_end().T)
    torch.testing.assert_close(net.end_to_end(), W3 @ W2 @ W1)
    torch.testing.assert_close(net(x), outs[-1])
    # N(0, 0.1^2) entries: the std of 4*5 + 3*4 + 2*3 = 38 draws is within ~30% of 0.1.
    stds = torch.cat([layer.weight.detach().flatten() for layer in net.layers]).std().item()
    assert stds == pytest.approx(0.1, rel=0.3)


def test_deep_linear_end_to_end_refuses_biases():
    with pytest.raises(ValueError, match="bias=False"):
        DeepLinearNet([3, 2], bias=True).end_to_end()


def test_relu_mlp_matches_manual():
    torch.manual_seed(1)
    net = ReLUMLP([4, 8, 6, 3])
    x = torch.randn(5, 4)
    (w1, b1), (w2, b2), (w3, b3) = ((l.weight, l.bias) for l in net.layers)
    h1 = F.relu(F.linear(x, w1, b1))
    h2 = F.relu(F.linear(h1, w2, b2))
    out = F.linear(h2, w3, b3)  # no ReLU on the output
    got = net.forward_layers(x)
    for a, b in zip(got, [h1, h2, out]):
        torch.testing.assert_close(a, b)
    assert (out < 0).any()  # the last layer really is linear
    torch.testing.assert_close(net(x), out)


def test_resnet18_has_torchvisions_parameter_count():
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(ResNet18(width=64)) == count(cifar_torchvision_resnet18()) == 11_168_832


def test_resnet18_computes_what_torchvision_computes():
    torch.manual_seed(0)
    ref = cifar_torchvision_resnet18()
    for m in ref.modules():  # non-trivial BN statistics so eval mode tests them too
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    ref.eval()
    net = ResNet18(width=64).eval()
    ref_state = ref.state_dict()
    mapped = {k: ref_state[torchvision_key(k)] for k in net.state_dict()}
    assert len(mapped) == len(ref_state)  # every torchvision tensor used exactly once
    net.load_state_dict(mapped)

    pooled = []
    hooks = [getattr(ref, f"layer{i}").register_forward_hook(
        lambda _m, _i, out: pooled.append(out.mean(dim=(2, 3)))) for i in range(1, 5)]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        h_ref = ref(x)
        feats = net.forward_features(x)
    for h in hooks:
        h.remove()
    for ours, theirs in zip(feats.values(), pooled):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(net(x), h_ref)


def test_resnet18_stage_shapes_and_channels_last():
    torch.manual_seed(0)
    net = ResNet18(width=8).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        feats = net.forward_features(x)
        assert list(feats) == ["stage1", "stage2", "stage3", "stage4"]
        assert [tuple(f.shape) for f in feats.values()] == [(3, 8), (3, 16), (3, 32), (3, 64)]
        assert net.out_dim == 64 and net.stage_dims == (8, 16, 32, 64)
        torch.testing.assert_close(net(x), feats["stage4"])
        net_cl = net.to(memory_format=torch.channels_last)
        x_cl = x.to(memory_format=torch.channels_last)
        assert x_cl.is_contiguous(memory_format=torch.channels_last)
        got = net_cl.forward_features(x_cl)
    for name in feats:
        torch.testing.assert_close(got[name], feats[name], atol=1e-5, rtol=1e-4)


def test_resnet18_other_input_channels_and_width():
    net = ResNet18(width=4, in_channels=1).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 16, 16)).shape == (2, 32)


@pytest.mark.parametrize("bad, match", [
    (torch.randn(2, 1, 32, 32), r"\(batch, 3, H, W\), got \(2, 1, 32, 32\)"),
    (torch.randn(3, 32, 32), r"\(batch, 3, H, W\), got \(3, 32, 32\).*unsqueeze"),
])
def test_resnet_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        ResNet18(width=4)(bad)


def test_resnet_bad_type_and_width():
    with pytest.raises(TypeError, match="float"):
        ResNet18(width=4)(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="width"):
        ResNet18(width=0)


def test_linear_bad_input():
    with pytest.raises(ValueError, match=r"\(batch, 5\), got \(3, 4\)"):
        DeepLinearNet([5, 2])(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        ReLUMLP([5, 3, 2])(torch.randn(5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        DeepLinearNet([5, 2])([[0.0] * 5])
    with pytest.raises(ValueError, match="dims"):
        DeepLinearNet([5])
    with pytest.raises(ValueError, match="int >= 1"):
        ReLUMLP([5, 0, 2])
    with pytest.raises(ValueError, match="init_scale"):
        DeepLinearNet([5, 2], init_scale=-0.1)


# ------------------------------------------------- integer input (issue 20): a clear TypeError


@pytest.mark.parametrize("net", [lambda: DeepLinearNet([3, 2]), lambda: ReLUMLP([3, 4, 2])])
def test_fully_connected_nets_refuse_integer_input(net):
    model = net()
    with pytest.raises(TypeError, match=r"floating.*\.float\(\)"):
        model(torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="floating"):
        model.forward_layers(torch.ones(2, 3, dtype=torch.bool))
