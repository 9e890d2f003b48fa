"""One vocabulary of layer names, and one per-layer feature extractor, for every chapter.

Every network the book trains is an encoder, a projection head and, for cross-entropy, a
classifier (:class:`helpers.models.Network`). Its layers are named bottom to top:

* ``input``: the pixels themselves (flattened), the floor a probe must beat;
* ``stage1``, ``stage2``, ``stage3``: the encoder's lower stages (ResNet-18: globally
  average-pooled residual stages), when the encoder exposes them;
* ``h``: the encoder output, the **pre-projection** representation (ResNet-18's stage 4);
* ``head1``, ``head2``, ...: the head's hidden layers (SimCLR's MLP head has one);
* ``z``: the head output, the **post-projection** representation, the one the loss sees.
  A network without a head has no ``z`` (its loss acts on ``h``).

Reports, figures and the guide use these names; :func:`label` gives the longer form a figure
prints. Used by Chapters 1 and 4-8.
"""

from __future__ import annotations

from collections import OrderedDict

import torch

INPUT, H, Z = "input", "h", "z"
LABELS = {INPUT: "input", H: "h (pre-projection)", Z: "z (head output)", "head1": "head hidden"}


def head_layer(i: int) -> str:
    """Name of the head's ``i``-th hidden layer (1-based): ``head1``, ``head2``, ..."""
    return f"head{i}"


def label(name: str) -> str:
    """The name a figure or table prints for a layer (``'h'`` -> ``'h (pre-projection)'``)."""
    return LABELS.get(name, name)


def network_layers(net, x: torch.Tensor, logits: bool = False) -> "OrderedDict[str, torch.Tensor]":
    """Every layer of ``net`` (encoder, head, classifier) on a float batch ``x`` (B, C, H, W).

    Returns ``{name: (B, dim)}`` bottom to top in the vocabulary above, plus ``'logits'``
    (B, n_classes) when ``logits`` and the network has a classifier.
    """
    from helpers.heads import IdentityHead

    feats: OrderedDict[str, torch.Tensor] = OrderedDict()
    if hasattr(net.encoder, "forward_features"):
        stages = list(net.encoder.forward_features(x).items())  # bottom to top; the last is h
        feats.update(stages[:-1])
        h = stages[-1][1]
    else:
        h = net.encoder(x)
    feats[H] = h
    z = h
    if not isinstance(net.head, IdentityHead):
        *hidden, z = net.head.forward_layers(h)
        feats.update((head_layer(i), a) for i, a in enumerate(hidden, start=1))
        feats[Z] = z
    if logits and getattr(net, "classifier", None) is not None:
        feats["logits"] = net.classifier(z)
    return feats


def layer_features(net, images: torch.Tensor, device=None, *, logits: bool = False,
                   batch_size: int = 512) -> dict[str, torch.Tensor]:
    """Every layer's representation of clean ``images`` (n, C, H, W), uint8 or float in [0, 1].

    No augmentation; the network is put in eval mode (BatchNorm's running statistics).
    Returns ``{name: (n, dim) CPU float32}`` in :func:`network_layers`' order.
    """
    from helpers.probes import extract_features

    net.to(device).eval()

    def all_layers(x):
        x = x.float().div(255) if x.dtype == torch.uint8 else x
        return network_layers(net, x, logits=logits)

    return extract_features(all_layers, images, device=device, batch_size=batch_size)


def pixels(images: torch.Tensor) -> torch.Tensor:
    """The ``input`` layer: images (n, C, H, W) uint8 -> (n, C*H*W) float32 in [0, 1]."""
    x = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    return x.reshape(len(x), -1)
