"""``make full``: every chapter's experiment at one profile, resumable, in one command.

    python -m helpers.run all --profile paper     # what `make full` runs (a datacenter GPU)
    python -m helpers.run puzzle expansion         # some experiments, default profile
    python -m helpers.run --list --profile paper   # what is registered, and what is computed

Each experiment goes through :func:`helpers.results.load_or_compute` exactly as its chapter
calls it (same name, compute function and seed), so the result lands where the notebook loads
it. A result already computed with matching provenance (same config, profile, data and seed)
is skipped; results are written one experiment at a time, so an interrupted run resumes with
the first missing one. An experiment whose ``run`` takes ``checkpoint_dir`` also checkpoints
inside (Chapter 1: every epoch of every seed), so a GPU session that ends mid-training resumes
there; the checkpoints are deleted once the result is saved.

The registry maps names to ``"module:function"`` strings, imported only when run, so a chapter
in progress is one line here; an entry whose module or profile config does not exist yet is
skipped with a message.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from helpers.profiles import PROFILE_NAMES, get_profile


@dataclass(frozen=True)
class Entry:
    """One chapter experiment: the ``load_or_compute`` call its notebook makes."""

    chapter: str
    target: str  # "module:function", compute(cfg, seed) -> payload
    seed: int = 0


# In book order (Chapter 4 loads Chapter 1's result, so it comes later). One line a chapter.
REGISTRY: dict[str, Entry] = {
    "puzzle": Entry("1 The puzzle", "helpers.experiments.puzzle:run"),
    "feature_weighting": Entry("2 Feature weighting", "helpers.experiments.feature_weighting:run"),
    "lower_layer": Entry("3 When lower layers win", "helpers.experiments.lower_layer:run"),
    "expansion": Entry("4 Expansion and shrinkage", "helpers.experiments.expansion:run"),
    "nonlinear": Entry("5 Non-linear features", "helpers.experiments.nonlinear:run"),
    "digit_overlay": Entry("5 Digits on images", "helpers.experiments.digit_overlay:run"),
    "collapse_toy": Entry("6 Class collapse, minimal model", "helpers.experiments.collapse_toy:run"),
    "class_collapse": Entry("6 Class collapse", "helpers.experiments.class_collapse:run"),
    "shortcuts": Entry("7 Shortcuts", "helpers.experiments.shortcuts:run"),
    "reweighting": Entry("8 Fixed reweighting", "helpers.experiments.reweighting:run"),
}


class Unavailable(Exception):
    """An entry that cannot run yet (module, function or profile config missing)."""


def resolve(name: str, profile):
    """``(compute, config)`` of a registry entry.

    Raises:
        ValueError: ``name`` is not in the registry (the message lists the names).
        Unavailable: its module, function or profile config does not exist (yet).
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; registered: {', '.join(REGISTRY)} "
                         "(or 'all'). Add a line to helpers.run.REGISTRY for a new chapter.")
    module_name, func_name = REGISTRY[name].target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:  # the module exists but one of its imports is missing
            raise
        raise Unavailable(f"module {module_name} does not exist yet") from None
    compute = getattr(module, func_name, None)
    if compute is None:
        raise Unavailable(f"{module_name} has no function {func_name}")
    try:
        config = profile.config(name)
    except KeyError:
        raise Unavailable(f"helpers/profiles.py has no {name!r} config") from None
    return compute, config


def checkpoint_dir(name: str, profile, config, seed: int) -> Path:
    """Per-result checkpoint folder, keyed like the result (another config never reuses it)."""
    from helpers.results import result_key, results_dir

    key = result_key(name, profile.name, config.data, seed, config)
    return results_dir() / name / "checkpoints" / f"{profile.name}-{key}"


def run_one(name: str, profile, progress: bool = True) -> str:
    """Compute (or skip) one experiment; returns its status word for the summary."""
    from helpers.results import load_or_compute

    try:
        compute, config = resolve(name, profile)
    except Unavailable as why:
        print(f"[skip] {name}: {why}")
        return "unavailable"
    entry = REGISTRY[name]
    params = inspect.signature(compute).parameters
    ckpt = None
    if "checkpoint_dir" in params:
        ckpt = checkpoint_dir(name, profile, config, entry.seed)
        compute = partial(compute, checkpoint_dir=ckpt)
    if "progress" in params:
        compute = partial(compute, progress=progress)
    print(f"[{name}] {entry.chapter} - profile {profile.name}, seed {entry.seed}")
    start = time.perf_counter()
    # use_committed=False: only this profile's own result counts as done (a committed gpu
    # result must not stand in for the paper run being asked for)
    result = load_or_compute(name, compute, profile=profile, seed=entry.seed, config=config,
                             use_committed=False)
    if ckpt is not None and ckpt.exists():
        shutil.rmtree(ckpt)  # the result is saved: the checkpoints have done their job
    if result.loaded:
        print(f"[done] {name}: already computed ({result.path.name}); skipped")
        return "skipped"
    print(f"[done] {name}: computed in {time.perf_counter() - start:.0f} s")
    return "computed"


def list_entries(profile) -> None:
    """Print every entry, whether it can run, and whether its result exists at ``profile``."""
    from helpers.results import result_state

    from helpers import profiles

    from helpers.budget import describe

    for name, entry in REGISTRY.items():
        cost = ""
        try:
            _, config = resolve(name, profile)
            state = result_state(name, profile.name, config.data, entry.seed, config)
            cost = describe(name, config)
        except Unavailable as why:
            state = f"unavailable ({why})"
        print(f"{name:<18} {entry.chapter:<32} {state:<11} {cost}".rstrip())
    missing = sorted(set(profiles._EXPERIMENTS) - set(REGISTRY))
    if missing:
        print(f"in helpers/profiles.py but not registered here: {', '.join(missing)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="*", help="names from --list, or 'all'")
    ap.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                    help="run size (default: $BOOK_PROFILE, else gpu with CUDA, else cpu)")
    ap.add_argument("--list", action="store_true", help="list the experiments and their state")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    profile = get_profile(args.profile)
    if args.list:
        list_entries(profile)
        return 0
    if not args.experiments:
        ap.error("name experiments to run, or 'all' (see --list)")
    names = list(REGISTRY) if args.experiments == ["all"] else args.experiments
    for name in names:
        if name not in REGISTRY:
            ap.error(f"unknown experiment {name!r}; registered: {', '.join(REGISTRY)} (or 'all')")
    statuses = {name: run_one(name, profile, progress=not args.no_progress) for name in names}
    print("summary: " + ", ".join(f"{n} {s}" for n, s in statuses.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
