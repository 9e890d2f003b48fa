"""Networks whose every layer can be probed.

* :class:`DeepLinearNet` and :class:`ReLUMLP`, the solvable models of Parts I-III
  (deep linear nets: Saxe et al. 2014, "Exact solutions to the nonlinear dynamics of learning
  in deep linear neural networks"; Arora et al. 2019 for the small-initialisation implicit bias).
* :class:`ResNet18` with the CIFAR stem (He et al. 2016, "Deep residual learning for image
  recognition"; 3x3 stem conv, no max-pool, as in SimCLR's CIFAR experiments, Chen et al. 2020),
  used from Chapter 1 on.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


def _shape(x) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _check_features(x, dim: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor of shape (batch, {dim}), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"input must be (batch, {dim}), got {_shape(x)}; "
                         f"flatten it or build the network with dims[0] = {x.shape[-1] if x.ndim else '?'}")
    if not x.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got {x.dtype}; convert it with "
                        "x.float()")


def _check_dims(dims) -> list[int]:
    if not isinstance(dims, (list, tuple)) or len(dims) < 2:
        raise ValueError(f"dims must be a list [d_in, d_1, ..., d_L] of at least 2 sizes, got {dims!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise ValueError(f"every entry of dims must be an int >= 1, got {dims!r}")
    return list(dims)


class _LayerStack(nn.Module):
    """Shared body of the fully connected nets: L ``nn.Linear`` layers in ``self.layers``."""

    def __init__(self, dims, bias: bool, init_scale: float | None):
        super().__init__()
        self.dims = _check_dims(dims)
        self.in_dim, self.out_dim = self.dims[0], self.dims[-1]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(self.dims, self.dims[1:]))
        if init_scale is not None:
            if not isinstance(init_scale, (int, float)) or not math.isfinite(init_scale) or init_scale <= 0:
                raise ValueError(f"init_scale must be a finite number > 0 (or None for PyTorch's "
                                 f"default init), got {init_scale!r}")
            for layer in self.layers:
                nn.init.normal_(layer.weight, std=float(init_scale))
                if layer.bias is not None:  # small init means the whole map starts near 0
                    nn.init.zeros_(layer.bias)

    def _activation(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, bottom to top: L tensors, the l-th of shape (batch, dims[l])."""
        _check_features(x, self.in_dim)
        outs = []
        for i, layer in enumerate(self.layers):
            x = self._activation(i, layer(x))
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output, (batch, d_in) -> (batch, d_L)."""
        return self.forward_layers(x)[-1]


class DeepLinearNet(_LayerStack):
    r"""Deep linear network :math:`f(x) = W_L \cdots W_1 x`.

    ``forward_layers(x)`` returns :math:`[x W_1^\top,\ x W_1^\top W_2^\top,\ \dots,\ f(x)]`, shapes
    (batch, d_1), ..., (batch, d_L); ``end_to_end()`` returns :math:`W_L \cdots W_1`, (d_L, d_in).

    Args:
        dims: [d_in, d_1, ..., d_L], L >= 1 layers.
        bias: add a bias to every layer (then the net is affine and ``end_to_end`` refuses).
        init_scale: if given, every weight entry ~ N(0, init_scale^2) and biases start at 0; the
            small-initialisation regime of the implicit-bias experiments. None: PyTorch's default.

    Raises:
        ValueError: bad ``dims`` or ``init_scale``; in ``forward``, an input not (batch, d_in).
        TypeError: in ``forward``, an input that is not a floating-point tensor.
    """

    def __init__(self, dims: list[int], bias: bool = False, init_scale: float | None = None):
        super().__init__(dims, bias, init_scale)
        self.has_bias = bias

    def end_to_end(self) -> torch.Tensor:
        r"""The product :math:`W_L \cdots W_1`, shape (d_L, d_in); differentiable.

        Raises:
            ValueError: the net has biases, so the product is not the map it computes.
        """
        if self.has_bias:
            raise ValueError("end_to_end() is the product of the weights, which ignores biases; "
                             "build the net with bias=False to use it")
        prod = self.layers[0].weight
        for layer in self.layers[1:]:
            prod = layer.weight @ prod
        return prod


class ReLUMLP(_LayerStack):
    r"""Fully connected ReLU net: :math:`a_l = \mathrm{relu}(W_l a_{l-1} + b_l)`, last layer linear.

    ``forward_layers(x)`` returns the post-ReLU output of each hidden layer and the final
    (pre-activation) output: shapes (batch, d_1), ..., (batch, d_L).

    Args:
        dims: [d_in, d_1, ..., d_L]. bias: biases on every layer. init_scale: as in
            :class:`DeepLinearNet`.

    Raises:
        ValueError / TypeError: as :class:`DeepLinearNet`.
    """

    def __init__(self, dims: list[int], bias: bool = True, init_scale: float | None = None):
        super().__init__(dims, bias, init_scale)

    def _activation(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x) if i < len(self.layers) - 1 else x


class BasicBlock(nn.Module):
    r"""ResNet basic block (He et al. 2016):
    :math:`\mathrm{relu}(\mathrm{BN}(\mathrm{conv}(\mathrm{relu}(\mathrm{BN}(\mathrm{conv}(x))))) + s(x))`,
    with :math:`s` the identity, or a strided 1x1 conv + BN when the shape changes.

    Shapes: (batch, c_in, H, W) -> (batch, c_out, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 with the CIFAR stem (He et al. 2016; Chen et al. 2020, appendix B.9).

    Stem: 3x3 conv (stride 1) - BN - ReLU, no max-pool. Then four stages of two
    :class:`BasicBlock` s, widths (w, 2w, 4w, 8w), strides (1, 2, 2, 2), and a global average pool.
    ``width=64`` is the standard ResNet-18 (512-d output, 11,168,832 parameters, torchvision's
    ``resnet18`` with this stem and no ``fc``); 8 or 16 are small CPU versions.

    * ``forward(x)``: h, shape (batch, 8 * width) -- the representation SimCLR keeps.
    * ``forward_features(x)``: OrderedDict {'stage1': (batch, w), 'stage2': (batch, 2w),
      'stage3': (batch, 4w), 'stage4': (batch, 8w)}, each stage's globally average-pooled
      output; 'stage4' equals ``forward(x)``.

    Inputs are float (batch, in_channels, H, W), contiguous or ``torch.channels_last`` (convert
    the model too, ``model.to(memory_format=torch.channels_last)``, for speed on GPUs).

    Attributes:
        out_dim: 8 * width. stage_dims: (w, 2w, 4w, 8w).

    Raises:
        ValueError: ``width`` or ``in_channels`` < 1; in ``forward``, an input that is not
            (batch, in_channels, H, W).
        TypeError: in ``forward``, an input that is not a floating-point tensor.
    """

    def __init__(self, width: int = 64, in_channels: int = 3):
        super().__init__()
        for name, v in (("width", width), ("in_channels", in_channels)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.width, self.in_channels = width, in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages, c_in = [], width
        for mult, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            stages.append(nn.Sequential(BasicBlock(c_in, mult * width, stride),
                                        BasicBlock(mult * width, mult * width, 1)))
            c_in = mult * width
        self.stages = nn.ModuleList(stages)
        self.stage_dims = (width, 2 * width, 4 * width, 8 * width)
        self.out_dim = 8 * width

    def _check_input(self, x) -> None:
        expected = f"(batch, {self.in_channels}, H, W)"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a float tensor {expected}, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            hint = " (add a batch dimension with x.unsqueeze(0))" if x.ndim == 3 else ""
            raise ValueError(f"input must be {expected}, got {_shape(x)}{hint}")
        if not x.is_floating_point():
            raise TypeError(f"input must be floating point, got {x.dtype}; "
                            "convert uint8 images with x.float().div(255)")

    def forward_features(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        """Each stage's globally average-pooled output, bottom to top (see the class docstring)."""
        self._check_input(x)
        x = self.stem(x)
        feats = OrderedDict()
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            # Mean over H, W: the global average pool; indifferent to the memory format.
            feats[f"stage{i}"] = x.mean(dim=(2, 3))
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """h = pooled stage-4 output, (batch, in_channels, H, W) -> (batch, 8 * width)."""
        return self.forward_features(x)["stage4"]


class Network(nn.Module):
    """What every chapter trains: encoder -> projection head -> (classifier), one module.

    ``forward(x)`` returns ``(h, z, logits)``: h (batch, encoder.out_dim) the pre-projection
    representation, z (batch, head.out_dim) the head output the loss sees, logits
    (batch, n_classes) the classifier's output on z, or None without a classifier.
    :func:`helpers.layers.network_layers` names every layer in the book's vocabulary.

    Args:
        encoder: images (batch, C, H, W) float -> (batch, d); ``out_dim`` attribute.
        head: (batch, d) -> (batch, p) with ``forward_layers`` (:mod:`helpers.heads`).
        classifier: optional (batch, p) -> (batch, n_classes), for cross-entropy.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, classifier: nn.Module | None = None):
        super().__init__()
        self.encoder, self.head, self.classifier = encoder, head, classifier

    def forward(self, x: torch.Tensor):
        h = self.encoder(x)
        z = self.head(h)
        return h, z, (self.classifier(z) if self.classifier is not None else None)


def resnet_network(width: int, head: str = "mlp", n_classes: int | None = None,
                   **head_kwargs) -> Network:
    """ResNet-18 (CIFAR stem, ``width``) + a head by name (:func:`helpers.heads.make_head`:
    'none', 'linear', 'mlp', 'fixed') + a linear classifier on z when ``n_classes`` is given."""
    from helpers.heads import make_head

    encoder = ResNet18(width=width)
    head_module = make_head(head, encoder.out_dim, **head_kwargs)
    classifier = nn.Linear(head_module.out_dim, n_classes) if n_classes else None
    return Network(encoder, head_module, classifier)
