"""How much ResNet training an experiment's config asks for, in *full epochs*.

One full epoch = 100,000 augmented 32-px views through the full-width ResNet-18, forward and
backward: one SimCLR epoch of CIFAR-10 (two views of 50,000 images), about 0.33 PFLOP. A run's
cost scales with its images x views x (side / 32)^2 x (width / 64)^2 (convolution FLOPs grow with
pixels and with the square of the channel width). The `paper` profile is sized so that each
chapter fits ``helpers.profiles.PAPER_BUDGET_EPOCHS``; ``tests/test_budget.py`` holds it to that,
and ``python -m helpers.run --list`` prints every experiment's cost.

Experiments without ResNets (the deep linear, sign-flip and sub-class models: numpy or tiny MLPs)
cost 0 here.
"""

from __future__ import annotations

FULL_EPOCH_VIEWS = 100_000
TARGET_SECONDS_PER_FULL_EPOCH = 2.0  # issue 7's target for helpers.pipeline on one H100


def full_epochs_of(images: int, views: int, epochs: int, size: int = 32, width: int = 64) -> float:
    """Cost of one training run in full epochs (see the module docstring)."""
    return images * views * epochs * (size / 32) ** 2 * (width / 64) ** 2 / FULL_EPOCH_VIEWS


def _views(method: str) -> int:
    """Augmented views per image a method's loss uses: contrastive 2, cross-entropy 1."""
    return 2 if method.startswith(("supcon", "simclr")) else 1


def _puzzle(cfg) -> float:
    return cfg.n_seeds * full_epochs_of(cfg.n_train, 2, cfg.epochs, 32, cfg.width)


def _expansion(cfg) -> float:
    # the temperature sweep's SimCLR runs (Chapter 1's network is the puzzle experiment's)
    return len(cfg.sweep_temperatures) * _puzzle(cfg.sweep)


def _digit_overlay(cfg) -> float:
    runs = len(cfg.strengths) * len(cfg.p_drops) * cfg.n_seeds
    return runs * full_epochs_of(cfg.n_train, 2, cfg.epochs, cfg.size, cfg.width)


def _class_collapse(cfg) -> float:
    return cfg.n_seeds * sum(full_epochs_of(cfg.n_train, _views(m), cfg.epochs, cfg.image_size,
                                            cfg.width) for m in cfg.methods)


def _shortcuts(cfg) -> float:
    if cfg.arch != "resnet18":
        return 0.0
    run = lambda n, method, epochs: full_epochs_of(n, _views(method), epochs, cfg.size, cfg.width)  # noqa: E731
    total = cfg.n_seeds * sum(run(cfg.n_train, m, cfg.epochs) for m in cfg.methods)
    total += sum(run(cfg.n_train, m, cfg.epochs) for m in cfg.first_seed_methods)
    total += len(cfg.correlations) * run(cfg.n_train, "erm_head", cfg.epochs)
    return total + 3 * run(cfg.n_learn, "erm", cfg.learn_epochs)  # one network per cue


def _reweighting(cfg) -> float:
    heads = len(cfg.kappas) + 1  # the fixed heads and the MLP head
    per_head = sum(full_epochs_of(cfg.n_train, v, cfg.epochs, cfg.image_size, cfg.width)
                   for v in (2, 2, 1))  # SimCLR, SupCon, cross-entropy
    return cfg.n_seeds * heads * per_head


COST = {"puzzle": _puzzle, "expansion": _expansion, "digit_overlay": _digit_overlay,
        "class_collapse": _class_collapse, "shortcuts": _shortcuts, "reweighting": _reweighting}


def full_epochs(experiment: str, cfg) -> float:
    """Full epochs of ResNet training ``cfg`` asks for (0 for experiments without a ResNet)."""
    return COST[experiment](cfg) if experiment in COST else 0.0


def describe(experiment: str, cfg) -> str:
    """'N full epochs, ~M min at the target speed' (or '' for no ResNet training)."""
    n = full_epochs(experiment, cfg)
    if n == 0:
        return ""
    return (f"{n:.0f} full epochs, ~{n * TARGET_SECONDS_PER_FULL_EPOCH / 60:.0f} min at the H100 "
            f"target of {TARGET_SECONDS_PER_FULL_EPOCH:g} s each")
