"""Run profiles: the one place that holds every size knob of every experiment.

A chapter never branches on the profile itself; it asks for its experiment's config::

    cfg = get_profile().config("puzzle")
    cfg.epochs, cfg.n_train, cfg.width

Profiles (chosen by the environment variable ``BOOK_PROFILE``; default ``gpu`` when CUDA is
present, else ``cpu``):

* ``smoke`` - seconds on a CPU; CI runs every chapter at this size. Tests the code, not the science.
* ``cpu``   - minutes on a laptop CPU (2 cores); the offline data stand-ins, narrow networks.
* ``gpu``   - a chapter in about 15 minutes on one modest GPU (e.g. Colab's free T4); real data.
* ``paper`` - the papers' sizes for a datacenter GPU (reference hyper-parameters of Xue et al. 2024).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from types import MappingProxyType

PROFILE_NAMES = ("smoke", "cpu", "gpu", "paper")
ENV_VAR = "BOOK_PROFILE"


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


_PUZZLE = {
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

# experiment name -> profile name -> config. Later chapters add their entries here.
_EXPERIMENTS = MappingProxyType({"puzzle": _PUZZLE})

_DESCRIPTIONS = {
    "smoke": "seconds on a CPU; checks that the code runs (CI)",
    "cpu": "minutes on a laptop CPU; offline data stand-ins, narrow networks",
    "gpu": "about 15 minutes a chapter on one modest GPU; real data where reachable",
    "paper": "the papers' sizes; for a datacenter GPU",
}


@dataclass(frozen=True)
class Profile:
    """A named run size. ``config(experiment)`` gives that experiment's knobs at this size."""

    name: str
    description: str = field(compare=False)

    def config(self, experiment: str, **overrides):
        """The frozen config of ``experiment`` at this profile, with optional ``overrides``.

        Raises:
            KeyError: unknown experiment (the message lists the known ones).
        """
        if experiment not in _EXPERIMENTS:
            raise KeyError(f"no experiment {experiment!r} in helpers.profiles; known: "
                           f"{sorted(_EXPERIMENTS)}. Add its sizes to helpers/profiles.py.")
        return replace(_EXPERIMENTS[experiment][self.name], **overrides)

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"


def default_profile_name() -> str:
    """``gpu`` when CUDA is available, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``$BOOK_PROFILE``, else the default for this machine.

    Raises:
        ValueError: the name is not one of ``smoke``, ``cpu``, ``gpu``, ``paper``.
    """
    chosen = name or os.environ.get(ENV_VAR, "").strip() or default_profile_name()
    chosen = chosen.lower()
    if chosen not in PROFILE_NAMES:
        source = "argument" if name else f"environment variable {ENV_VAR}"
        raise ValueError(f"unknown profile {chosen!r} (from the {source}); valid profiles: "
                         f"{', '.join(PROFILE_NAMES)}. Example: {ENV_VAR}=smoke make book")
    return Profile(chosen, _DESCRIPTIONS[chosen])
