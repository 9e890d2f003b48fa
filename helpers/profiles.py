"""Run profiles: the named run sizes, and the lookup of an experiment's config at one of them.

A chapter never branches on the profile itself; it asks for its experiment's config::

    cfg = get_profile().config("puzzle")
    cfg.epochs, cfg.n_train, cfg.width

Each experiment's module (``helpers/experiments/<name>.py``, registered in
:data:`helpers.experiments.EXPERIMENTS`) holds its config dataclass and its sizes per profile at
its top, ``CONFIGS``; ``python -m helpers.run --list`` prints every size knob of every experiment
per profile as one table.

Profiles (chosen by the environment variable ``BOOK_PROFILE``; default ``gpu`` when CUDA is
present, else ``cpu``):

* ``smoke`` - seconds on a CPU; CI runs every chapter at this size. Tests the code, not the science.
* ``cpu``   - minutes on a laptop CPU (2 cores); the offline data stand-ins, narrow networks.
* ``gpu``   - a chapter in about 15 minutes on one modest GPU (e.g. Colab's free T4); real data.
* ``paper`` - the papers' networks, data and hyper-parameters (Xue et al. 2024) on a datacenter GPU;
  epochs cut where needed so a chapter trains in about 20 minutes on one H100
  (``PAPER_BUDGET_EPOCHS``; estimated from issue 7's speed target, not yet measured).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

PROFILE_NAMES = ("smoke", "cpu", "gpu", "paper")
ENV_VAR = "BOOK_PROFILE"


# The paper profile's chapter budget, in "full epochs": one epoch = 100k augmented 32-px views
# through the full-width ResNet-18, forward and backward (one SimCLR epoch of CIFAR-10, ~0.33
# PFLOP). Issue 7's target for helpers.pipeline on one H100 is <= 2 s per full epoch, so a budget
# of about 420 full epochs is ~14 minutes of training, leaving room for the probes in a chapter's
# 20 minutes. An estimate from that target, not a measurement: if the pipeline is slower on the
# GPU, every paper chapter is slower by the same factor. helpers.budget counts each config's
# full epochs (`python -m helpers.run --list --profile paper` prints them); tests/test_budget.py
# fails when a chapter's config goes over its profile's budget.
PAPER_BUDGET_EPOCHS = 420
# The gpu profile's chapter budget (15-20 minutes on a modest GPU such as Colab's T4, whose fp16
# peak is ~15x below an H100's bf16 peak: ~30 s per full epoch at the same efficiency, so about
# 40 full epochs). Also an estimate, not a measurement.
GPU_BUDGET_EPOCHS = 40
# `make full` (python -m helpers.run all --profile paper, issue 7) runs every experiment at its
# `paper` size, unchanged: puzzle 400 epochs of the full-width ResNet-18 on CIFAR-10,
# batch 512 (the headline run; issue 7's target is < 15 min on one H100 with the
# helpers.pipeline fast path, not yet measured); feature_weighting and lower_layer the longer
# numpy runs; expansion the 16 x 16 grid x 10 seeds plus Chapter 1's paper network. Per-chapter
# H100 times are still to be measured (`python -m helpers.run <name> --profile paper` prints them).

_DESCRIPTIONS = {
    "smoke": "seconds on a CPU; checks that the code runs (CI)",
    "cpu": "minutes on a laptop CPU; offline data stand-ins, narrow networks",
    "gpu": "about 15 minutes a chapter on one modest GPU; real data where reachable",
    "paper": "the papers' networks and data; about 20 minutes a chapter on one H100 (estimated)",
}


@dataclass(frozen=True)
class Profile:
    """A named run size. ``config(experiment)`` gives that experiment's knobs at this size."""

    name: str
    description: str = field(compare=False)

    def config(self, experiment: str, **overrides):
        """The frozen config of ``experiment`` at this profile, with optional ``overrides``:
        ``CONFIGS[self.name]`` of the experiment's module in :mod:`helpers.experiments`.

        Raises:
            KeyError: unknown experiment (the message lists the known ones), or its module's
                ``CONFIGS`` has no entry for this profile.
        """
        from helpers import experiments

        table = experiments.configs(experiment)  # KeyError for an unregistered name
        if self.name not in table:
            raise KeyError(f"{experiment!r} has no {self.name!r} config: add it to CONFIGS at the "
                           f"top of {experiments.get(experiment).module}")
        return replace(table[self.name], **overrides)

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
