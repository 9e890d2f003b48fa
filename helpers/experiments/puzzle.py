"""Chapter 1, "The puzzle": SimCLR pre-training, then a linear probe at every layer.

``run(cfg, seed)`` pre-trains ``cfg.n_seeds`` encoders (ResNet-18 with the CIFAR stem, width
``cfg.width``) with a 2-layer MLP head, then fits a linear probe for the image class on each
encoder stage and on each head layer. It also probes the same layers of an untrained network,
so the chapter can show what pre-training added.
"""

from __future__ import annotations

from pathlib import Path

from helpers.augment import simclr_augment
from helpers.data import load_image_set
from helpers.layers import H, Z, layer_features
from helpers.models import resnet_network
from helpers.probes import probe_layers
from helpers.runtime import get_device, seed_everything
from helpers.train import Recipe, train

from dataclasses import dataclass

import numpy as np

from helpers.budget import full_epochs_of
from helpers.guide import Spec


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class PuzzleConfig:
    """Chapter 1: SimCLR with a ResNet-18 encoder and a 2-layer MLP head, probed at every layer.

    Units: images, epochs, widths in channels; lr for Adam; weight decay is L2 on all weights.
    """

    data: str  # 'shapes' | 'digits' | 'cifar10' (see helpers.data.load_image_set)
    n_train: int  # pre-training images (also the probe's training set)
    n_test: int  # probe test images
    width: int  # ResNet-18 width multiplier (64 = the standard ResNet-18, 512-dim output)
    head_hidden: int  # MLP head hidden width
    head_out: int  # MLP head output (the loss's space)
    epochs: int
    batch_size: int
    lr: float  # Adam learning rate
    weight_decay: float
    temperature: float  # NT-Xent temperature
    crop_scale_min: float  # RandomResizedCrop lower area bound (SimCLR: 0.08)
    jitter: float  # colour-jitter strength s: (0.8s, 0.8s, 0.8s, 0.2s) as in SimCLR
    n_seeds: int  # independent pre-training runs (mean and spread in the figure)
    probe: str  # 'logistic' | 'ridge'


CONFIGS = {
    "smoke": PuzzleConfig(data="shapes", n_train=256, n_test=256, width=4, head_hidden=64,
                          head_out=32, epochs=2, batch_size=128, lr=2e-3, weight_decay=1e-6,
                          temperature=0.5, crop_scale_min=0.2, jitter=0.5, n_seeds=1,
                          probe="ridge"),
    # Tuned on 2 CPU cores: about 2.5 minutes of training per seed. Narrow (width 8) because a
    # full-width ResNet-18 trains at ~40 images/s on 2 cores. Tried on the weaker seed (h - z
    # here: +2.7): lr 1e-3 +2.1, jitter 0.25 +3.6 (one run each, within seed noise), batch 128 /
    # lr 1e-3 +1.9 on the other seed (here +5.4). The colourised digits fail at this
    # size (random crops destroy the upscaled 8x8 digits: ~18 % at h), hence the shapes set.
    "cpu": PuzzleConfig(data="shapes", n_train=2048, n_test=2000, width=8, head_hidden=512,
                        head_out=128, epochs=30, batch_size=256, lr=2e-3, weight_decay=1e-6,
                        temperature=0.5, crop_scale_min=0.2, jitter=0.5, n_seeds=2,
                        probe="logistic"),
    "gpu": PuzzleConfig(data="cifar10", n_train=50_000, n_test=10_000, width=32, head_hidden=2048,
                        head_out=128, epochs=100, batch_size=512, lr=1e-3, weight_decay=1e-6,
                        temperature=0.5, crop_scale_min=0.08, jitter=1.0, n_seeds=1,
                        probe="logistic"),
    # Reference hyper-parameters (SCIENCE.md): full-width ResNet-18, Adam 1e-3, wd 1e-6,
    # batch 512, temperature 0.5, 400 epochs.
    "paper": PuzzleConfig(data="cifar10", n_train=50_000, n_test=10_000, width=64,
                          head_hidden=2048, head_out=128, epochs=400, batch_size=512, lr=1e-3,
                          weight_decay=1e-6, temperature=0.5, crop_scale_min=0.08, jitter=1.0,
                          n_seeds=1, probe="logistic"),
}


def cost(cfg) -> float:
    """Full epochs of ResNet training (helpers.budget): ``n_seeds`` SimCLR runs, two views."""
    return cfg.n_seeds * full_epochs_of(cfg.n_train, 2, cfg.epochs, 32, cfg.width)


# --- what the practitioner's guide (helpers.guide) reads from this result --------------------

FIGURES = {"ch01-fig-layers": "Ch. 1, probes by layer"}


def _guide_h_and_z(payload):
    """Class probe accuracy (%) per seed at the encoder output h and at the head output z."""
    acc = 100 * np.asarray(payload["accuracy"], dtype=float)  # (seeds, layers)
    return acc[:, ENCODER_OUTPUT], acc[:, -1]


GUIDE = (
    Spec("ssl-layer", "Self-supervised pre-training: which layer do I give the downstream task?",
         "puzzle", "01-the-puzzle", "ch01-fig-layers", "class probe accuracy (SimCLR)",
         "the encoder output h", _guide_h_and_z),
)


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: the one training engine and the layer vocabulary (issue 15).
CODE_VERSION = 1

# Bottom to top (helpers.layers): 'h' is the encoder output, the layer SimCLR keeps.
LAYERS = ("stage1", "stage2", "stage3", H, "head1", Z)
ENCODER_OUTPUT = LAYERS.index(H)


def load_data(cfg, seed: int):
    """(train, test) ImageSets of the config's data source; real data downloads only in gpu/paper."""
    download = cfg.data.startswith("cifar")
    train = load_image_set(cfg.data, "train", cfg.n_train, seed, download=download)
    test = load_image_set(cfg.data, "test", cfg.n_test, seed + 1, download=download)
    return train, test


def build_network(cfg):
    """ResNet-18 of width ``cfg.width`` with a 2-layer MLP head (no classifier)."""
    return resnet_network(cfg.width, "mlp", hidden_dim=cfg.head_hidden, out_dim=cfg.head_out)


def recipe(cfg) -> Recipe:
    return Recipe("simclr", epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                  weight_decay=cfg.weight_decay, temperature=cfg.temperature)


def networks_path(cfg, seeds) -> Path:
    """Where the trained networks of ``cfg`` and ``seeds`` are kept (Chapter 4 loads them)."""
    from helpers.results import result_key, results_dir

    key = result_key("puzzle-networks", "any", cfg.data, seeds[0], {"cfg": cfg, "seeds": seeds})
    return results_dir() / "puzzle" / "networks" / f"{cfg.data}-{key}.pt"


def trained_networks(cfg, seed: int, device=None, progress: bool = True, train_set=None):
    """Chapter 1's ``cfg.n_seeds`` networks (seeds ``seed``, ``seed + 1``, ...), trained together.

    Trained once and kept (:func:`networks_path`, a training checkpoint with the engine's full
    fingerprint): a later call, from this chapter or from Chapter 4, loads them instead of
    training again, and an interrupted training resumes. Returns ``(networks, histories)``.
    """
    device = get_device(device)
    train_set = load_data(cfg, seed)[0] if train_set is None else train_set
    seeds = [seed + k for k in range(cfg.n_seeds)]
    nets = []
    for s in seeds:
        seed_everything(s)  # each seed's own initialisation
        nets.append(build_network(cfg))
    augment = simclr_augment(train_set.images.shape[-1], cfg.crop_scale_min, cfg.jitter)
    hist = train(nets, train_set.images, recipe(cfg), augment, seeds=seeds, device=device,
                 checkpoint=networks_path(cfg, seeds), progress=progress,
                 desc=f"SimCLR, {len(seeds)} seed(s)")
    return nets, hist


def run(cfg, seed: int, device=None, progress: bool = True) -> dict:
    """Pre-train ``cfg.n_seeds`` models together and probe every layer. Returns JSON-able numbers."""
    device = get_device(device)
    train, test = load_data(cfg, seed)
    seed_everything(seed)  # the same architecture before any training: the floor to beat
    untrained = _probe(cfg, build_network(cfg), train, test, device)
    nets, hist = trained_networks(cfg, seed, device, progress, train_set=train)
    per_seed = [_probe(cfg, net, train, test, device) for net in nets]
    return {
        "layers": list(LAYERS),
        "accuracy": [[acc[layer] for layer in LAYERS] for acc in per_seed],  # (n_seeds, n_layers)
        "untrained": [untrained[layer] for layer in LAYERS],
        "loss": [h["loss"] for h in hist],  # (n_seeds, epochs)
        "chance": 1.0 / len(train.classes),
        "data_description": train.source,
        "network": (f"ResNet-18 (CIFAR stem, width {cfg.width}) + MLP head "
                    f"{8 * cfg.width}-{cfg.head_hidden}-{cfg.head_out}"),
        "n_train": len(train), "n_test": len(test),
    }


def _probe(cfg, net, train, test, device) -> dict[str, float]:
    train_feats = layer_features(net, train.images, device)
    test_feats = layer_features(net, test.images, device)
    return probe_layers(train_feats, train.labels, test_feats, test.labels, method=cfg.probe)


def summarize(payload: dict) -> str:
    """The chapter's verdict, computed from the numbers: h versus z per seed, and the baseline."""
    layers = payload["layers"]
    acc = [dict(zip(layers, run)) for run in payload["accuracy"]]
    untrained = dict(zip(layers, payload["untrained"]))
    h, z = layers[ENCODER_OUTPUT], layers[-1]
    gaps = [100 * (a[h] - a[z]) for a in acc]
    lines = [f"seed {k}: h ({h}) {100 * a[h]:.1f} %, z {100 * a[z]:.1f} %, h - z = {g:+.1f} points;"
             f" best layer: {max(a, key=a.get)}" for k, (a, g) in enumerate(zip(acc, gaps))]
    wins = sum(g > 0 for g in gaps)
    lines.append(f"h beats z in {wins} of {len(gaps)} run(s); mean gap {sum(gaps) / len(gaps):+.1f} points")
    mean_h = sum(a[h] for a in acc) / len(acc)
    lines.append(f"untrained network at h: {100 * untrained[h]:.1f} % (trained: {100 * mean_h:.1f} %); "
                 f"best untrained layer: {max(untrained, key=untrained.get)} "
                 f"{100 * max(untrained.values()):.1f} %")
    return "\n".join(lines)


def plot_layers(payload: dict, provenance: dict):
    """The chapter's figure: probe accuracy per layer after SimCLR (every seed) and untrained."""
    import matplotlib.pyplot as plt
    import numpy as np

    from helpers import plots

    acc = np.array(payload["accuracy"])  # (n_seeds, n_layers)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    plots.plot_layer_accuracy(payload["layers"], acc, ax=ax, label="after SimCLR",
                              chance=payload["chance"], highlight=ENCODER_OUTPUT)
    plots.plot_layer_accuracy(payload["layers"], np.array([payload["untrained"]]), ax=ax,
                              label="untrained network", color="0.55")
    ax.annotate("h (pre-projection)", (ENCODER_OUTPUT, 100 * acc.mean(0)[ENCODER_OUTPUT]),
                textcoords="offset points", xytext=(0, 12), ha="center", fontsize=8)
    ax.set_title("Class information, layer by layer")
    ax.legend(loc="lower left")
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"{payload['data_description']}; {payload['network']}; "
                    f"{len(acc)} seed(s), band = min-max"))
    return fig
