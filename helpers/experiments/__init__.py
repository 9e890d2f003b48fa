"""The book's experiments, in book order: the one list that ``make full``, the budget, the guide,
the profiles lookup and the tests are derived from.

Each experiment is a module here with, at its top, its config dataclass and its sizes per
profile, ``CONFIGS = {"smoke": ..., "cpu": ..., "gpu": ..., "paper": ...}``, and below them
``run(config, seed) -> payload`` for :func:`helpers.results.load_or_compute`. Optional, next to
the config: ``cost(config) -> float``, the ResNet training it asks for in full epochs
(:mod:`helpers.budget`; experiments without a ResNet leave it out); ``CLAIMS`` and
``claim_values(payload)``, the claims it tests, declared before they are measured
(:mod:`helpers.evidence`; the claims ledger and the practitioner's guide read them);
``STRUCTURE`` and ``structure_values(payload)``, the checks its stand-in must pass; and
``FIGURES``, ``{figure target label: link text}`` of the chapter figures the guide links to.

Adding a chapter = one module + one line in :data:`EXPERIMENTS`. Modules are imported only when
used, so a chapter in progress (its module not written yet) is listed and skipped by
``python -m helpers.run``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Experiment:
    """One chapter experiment: the ``load_or_compute`` call its notebook makes."""

    name: str  # the result's name: results/<name>/, load_or_compute(name, ...)
    chapter: str  # chapter label, as `python -m helpers.run --list` prints it
    module: str  # dotted module path: CONFIGS, run (and cost, CLAIMS, STRUCTURE, FIGURES)
    seed: int = 0  # the seed its chapter passes to load_or_compute

    def load(self) -> ModuleType:
        """The experiment's module (imported on first use).

        Raises:
            ModuleNotFoundError: the module does not exist (yet).
        """
        return importlib.import_module(self.module)


# In book order (Chapter 4 loads Chapter 1's result, so it comes later). One line a chapter.
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("puzzle", "1 The puzzle", "helpers.experiments.puzzle"),
    Experiment("feature_weighting", "2 Feature weighting",
               "helpers.experiments.feature_weighting"),
    Experiment("lower_layer", "3 When lower layers win", "helpers.experiments.lower_layer"),
    Experiment("expansion", "4 Expansion and shrinkage", "helpers.experiments.expansion"),
    Experiment("nonlinear", "5 Non-linear features", "helpers.experiments.nonlinear"),
    Experiment("digit_overlay", "5 Digits on images", "helpers.experiments.digit_overlay"),
    Experiment("collapse_toy", "6 Class collapse, minimal model",
               "helpers.experiments.collapse_toy"),
    Experiment("class_collapse", "6 Class collapse", "helpers.experiments.class_collapse"),
    Experiment("shortcuts", "7 Shortcuts", "helpers.experiments.shortcuts"),
    Experiment("reweighting_linear", "8 Fixed reweighting, linear model",
               "helpers.experiments.reweighting_linear"),
    Experiment("reweighting", "8 Fixed reweighting", "helpers.experiments.reweighting"),
)


def names() -> list[str]:
    """Every experiment's name, in book order."""
    return [e.name for e in EXPERIMENTS]


def get(name: str) -> Experiment:
    """The registered experiment ``name``.

    Raises:
        KeyError: ``name`` is not registered (the message lists the known ones).
    """
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    raise KeyError(f"no experiment {name!r} in helpers.experiments.EXPERIMENTS; known: "
                   f"{', '.join(names())}. A new chapter is a module in helpers/experiments/ "
                   "(CONFIGS at its top, run below) and one line in EXPERIMENTS.")


def configs(name: str) -> dict:
    """``{profile name: config}`` of experiment ``name``, from its module's ``CONFIGS``.

    Raises:
        KeyError: ``name`` is not registered, or its module has no ``CONFIGS``.
        ModuleNotFoundError: its module does not exist (yet).
    """
    module = get(name).load()
    if not hasattr(module, "CONFIGS"):
        raise KeyError(f"{module.__name__} has no CONFIGS: put the experiment's config dataclass "
                       "and CONFIGS = {profile name: config} at the top of the module")
    return module.CONFIGS
