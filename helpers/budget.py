"""How much ResNet training an experiment's config asks for, in *full epochs*.

One full epoch = 100,000 augmented 32-px views through the full-width ResNet-18, forward and
backward: one SimCLR epoch of CIFAR-10 (two views of 50,000 images), about 0.33 PFLOP. A run's
cost scales with its images x views x (side / 32)^2 x (width / 64)^2 (convolution FLOPs grow with
pixels and with the square of the channel width). The `paper` profile is sized so that each
chapter fits ``helpers.profiles.PAPER_BUDGET_EPOCHS``; ``tests/test_budget.py`` holds it to that,
and ``python -m helpers.run --list`` prints every experiment's cost.

Each experiment that trains ResNets counts its own runs: ``cost(cfg)`` next to its config, at the
top of its module in :mod:`helpers.experiments`, built from :func:`full_epochs_of`. Experiments
without ResNets (the deep linear, sign-flip and sub-class models: numpy or tiny MLPs) define no
``cost`` and cost 0 here.
"""

from __future__ import annotations

FULL_EPOCH_VIEWS = 100_000
TARGET_SECONDS_PER_FULL_EPOCH = 2.0  # issue 7's target for helpers.pipeline on one H100


def full_epochs_of(images: int, views: int, epochs: int, size: int = 32, width: int = 64) -> float:
    """Cost of one training run in full epochs (see the module docstring)."""
    return images * views * epochs * (size / 32) ** 2 * (width / 64) ** 2 / FULL_EPOCH_VIEWS


def views(method: str) -> int:
    """Augmented views per image a method's loss uses: contrastive 2, cross-entropy 1."""
    return 2 if method.startswith(("supcon", "simclr")) else 1


def full_epochs(experiment: str, cfg) -> float:
    """Full epochs of ResNet training ``cfg`` asks for: the experiment module's ``cost(cfg)``
    (0 for experiments without a ResNet, whose modules define no ``cost``)."""
    from helpers import experiments

    cost = getattr(experiments.get(experiment).load(), "cost", None)
    return 0.0 if cost is None else cost(cfg)


def describe(experiment: str, cfg) -> str:
    """'N full epochs, ~M min at the target speed' (or '' for no ResNet training)."""
    n = full_epochs(experiment, cfg)
    if n == 0:
        return ""
    return (f"{n:.0f} full epochs, ~{n * TARGET_SECONDS_PER_FULL_EPOCH / 60:.0f} min at the H100 "
            f"target of {TARGET_SECONDS_PER_FULL_EPOCH:g} s each")
