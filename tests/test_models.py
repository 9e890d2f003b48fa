"""Models: every layer exposed; the CIFAR ResNet-18 has exactly torchvision's parameters."""

import pytest
import torch
from torch import nn

from helpers.models import DeepLinearNet, ReLUMLP, ResNet18


def test_deep_linear_layers_are_successive_products():
    torch.manual_seed(0)
    net = DeepLinearNet([5, 4, 3, 2], init_scale=0.1)
    x = torch.randn(6, 5)
    outs = net.forward_layers(x)
    W1, W2, W3 = (layer.weight for layer in net.layers)
    torch.testing.assert_close(outs[0], x @ W1.T)
    torch.testing.assert_close(outs[1], x @ W1.T @ W2.T)
    torch.testing.assert_close(outs[2], x @ net.end_to_end().T)
    torch.testing.assert_close(net.end_to_end(), W3 @ W2 @ W1)
    assert W1.std().item() == pytest.approx(0.1, rel=0.5)


def test_relu_mlp_matches_manual():
    torch.manual_seed(1)
    net = ReLUMLP([4, 8, 3])
    x = torch.randn(5, 4)
    l1, l2 = net.layers
    hidden = torch.relu(x @ l1.weight.T + l1.bias)
    outs = net.forward_layers(x)
    torch.testing.assert_close(outs[0], hidden)
    torch.testing.assert_close(outs[1], hidden @ l2.weight.T + l2.bias)  # no ReLU on the output


def test_resnet18_has_torchvisions_parameter_count():
    torchvision = pytest.importorskip("torchvision")
    ref = torchvision.models.resnet18()
    ref.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    ref.maxpool, ref.fc = nn.Identity(), nn.Identity()
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(ResNet18(width=64)) == count(ref) == 11_168_832


def test_resnet18_stage_shapes_and_channels_last():
    torch.manual_seed(0)
    net = ResNet18(width=8).eval()
    x = torch.randn(2, 3, 32, 32)
    feats = net.forward_features(x)
    assert list(feats) == ["stage1", "stage2", "stage3", "stage4"]
    assert [f.shape[1] for f in feats.values()] == [8, 16, 32, 64] and net.out_dim == 64
    torch.testing.assert_close(net(x), feats["stage4"])
    net_cl = net.to(memory_format=torch.channels_last)
    torch.testing.assert_close(net_cl(x.to(memory_format=torch.channels_last)), feats["stage4"],
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("bad", [torch.randn(2, 1, 32, 32), torch.randn(3, 32, 32)])
def test_resnet_bad_input(bad):
    with pytest.raises(ValueError, match=r"\(batch, 3, H, W\)"):
        ResNet18(width=4)(bad)


def test_linear_bad_input():
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        DeepLinearNet([5, 2])(torch.randn(3, 4))
