"""``make full``: every chapter's experiment at one profile, resumable, in one command.

    python -m helpers.run all --profile paper     # what `make full` runs (a datacenter GPU)
    python -m helpers.run puzzle expansion         # some experiments, default profile
    python -m helpers.run --list --profile paper   # what is registered, computed, and its sizes

Each experiment goes through :func:`helpers.results.load_or_compute` exactly as its chapter
calls it (same name, compute function and seed), so the result lands where the notebook loads
it. A result already computed with matching provenance (same config, profile, data and seed)
is skipped; results are written one experiment at a time, so an interrupted run resumes with
the first missing one. Inside an experiment, training that passes ``checkpoint=`` to the engine
(:func:`helpers.train.train`; Chapter 1's networks, kept for Chapter 4) is saved after every
epoch, so a GPU session that ends mid-training resumes there.

The experiments and their order come from :data:`helpers.experiments.EXPERIMENTS`; a module is
imported only when run, so a chapter in progress is one line there, and an entry whose module,
``run`` function or profile config does not exist yet is skipped with a message. ``--list``
prints every experiment's state and cost at the profile, and all its size knobs per profile as
one table (the knobs live at the top of each experiment's module).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
import textwrap
import time
from functools import partial

from helpers import experiments
from helpers.profiles import PROFILE_NAMES, get_profile


class Unavailable(Exception):
    """An entry that cannot run yet (module, function or profile config missing)."""


def resolve(name: str, profile):
    """``(compute, config)`` of a registered experiment: its module's ``run`` and its config.

    Raises:
        ValueError: ``name`` is not registered (the message lists the names).
        Unavailable: its module, ``run`` function or profile config does not exist (yet).
    """
    try:
        experiment = experiments.get(name)
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; registered: "
                         f"{', '.join(experiments.names())} (or 'all'). A new chapter is a module "
                         "and one line in helpers.experiments.EXPERIMENTS.") from None
    try:
        module = experiment.load()
    except ModuleNotFoundError as err:
        if err.name != experiment.module:  # the module exists but one of its imports is missing
            raise
        raise Unavailable(f"module {experiment.module} does not exist yet") from None
    compute = getattr(module, "run", None)
    if compute is None:
        raise Unavailable(f"{experiment.module} has no function run")
    try:
        config = profile.config(name)
    except KeyError:
        raise Unavailable(f"{experiment.module} has no {profile.name!r} config in its "
                          "CONFIGS") from None
    return compute, config


def run_one(name: str, profile, progress: bool = True) -> str:
    """Compute (or skip) one experiment; returns its status word for the summary."""
    from helpers.results import load_or_compute

    try:
        compute, config = resolve(name, profile)
    except Unavailable as why:
        print(f"[skip] {name}: {why}")
        return "unavailable"
    entry = experiments.get(name)
    params = inspect.signature(compute).parameters
    if "progress" in params:
        compute = partial(compute, progress=progress)
    print(f"[{name}] {entry.chapter} - profile {profile.name}, seed {entry.seed}")
    start = time.perf_counter()
    # use_committed=False: only this profile's own result counts as done (a committed gpu
    # result must not stand in for the paper run being asked for)
    result = load_or_compute(name, compute, profile=profile, seed=entry.seed, config=config,
                             use_committed=False)
    if result.loaded:
        print(f"[done] {name}: already computed ({result.path.name}); skipped")
        return "skipped"
    print(f"[done] {name}: computed in {time.perf_counter() - start:.0f} s")
    return "computed"


def list_entries(profile) -> None:
    """Print every experiment, whether it can run, whether its result exists (or is stale or
    damaged) and its cost at ``profile``, and under it the table of its size knobs per profile
    (:func:`size_table`)."""
    from helpers.budget import describe
    from helpers.results import result_state

    for entry in experiments.EXPERIMENTS:
        cost, table = "", ""
        try:
            _, config = resolve(entry.name, profile)
            state = result_state(entry.name, profile.name, config.data, entry.seed, config)
            cost = describe(entry.name, config)
            table = size_table(entry.name)
        except Unavailable as why:
            state = f"unavailable ({why})"
        print(f"{entry.name:<18} {entry.chapter:<32} {state:<11} {cost}".rstrip())
        if table:
            print(textwrap.indent(table, "    ") + "\n")


CELL = 16  # characters per profile column of the size table (wider when a value needs it)


def _value(value) -> str:
    """A knob's value in full: numbers as written (floats in %g), tuples in parentheses."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_value(v) for v in value) + (",)" if len(value) == 1 else ")")
    return str(value)


def _cell(value) -> str:
    """A knob's value as a table cell: in full when it fits, a long tuple of numbers as
    'n: first..last', any other long value as 'see below' (printed in full under the table)."""
    text = _value(value)
    if len(text) <= CELL:
        return text
    if isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value):
        return f"{len(value)}: {_value(value[0])}..{_value(value[-1])}"
    return "see below" if len(text) > CELL + 4 else text


def _full_epochs_cell(n: float) -> str:
    return "0" if n == 0 else "<0.01" if n < 0.01 else f"{n:.2g}" if n < 10 else f"{n:.0f}"


def _knobs(config, prefix: str = "") -> dict:
    """``{knob name: value}`` of a config; a nested config's knobs as ``field.knob``."""
    knobs = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            knobs.update(_knobs(value, f"{prefix}{f.name}."))
        else:
            knobs[prefix + f.name] = value
    return knobs


def size_table(name: str) -> str:
    """Every size knob of experiment ``name`` per profile, one row a knob, one column a profile:
    first the result's state and the ResNet cost in full epochs (helpers.budget), then the knobs
    that differ between profiles; the knobs equal at every profile follow, in full. A long tuple
    of numbers shows as 'n: first..last' (its values: the top of the experiment's module)."""
    from helpers.budget import full_epochs
    from helpers.results import result_path

    entry = experiments.get(name)
    table = experiments.configs(name)
    cfgs = {p: table.get(p) for p in PROFILE_NAMES}
    rows = {"result": {}, "full epochs": {}}
    for p, cfg in cfgs.items():
        if cfg is None:
            continue
        path = result_path(name, p, cfg.data, entry.seed, cfg)
        rows["result"][p] = "computed" if path.exists() else "to compute"
        rows["full epochs"][p] = _full_epochs_cell(full_epochs(name, cfg))
    if not any(v != "0" for v in rows["full epochs"].values()):
        del rows["full epochs"]  # no ResNet at any profile
    knobs = {p: _knobs(cfg) for p, cfg in cfgs.items() if cfg is not None}
    names = list(dict.fromkeys(k for per in knobs.values() for k in per))
    same = {}
    for knob in names:
        values = [per.get(knob, "-") for per in knobs.values()]
        if all(v == values[0] for v in values) and len(knobs) == len(PROFILE_NAMES):
            same[knob] = values[0]
        else:
            rows[knob] = {p: _cell(per[knob]) for p, per in knobs.items() if knob in per}
    width = max(len(k) for k in rows)
    cell = max([CELL] + [len(c) for cells in rows.values() for c in cells.values()])
    lines = [f"{'':<{width}}  " + "  ".join(f"{p:<{cell}}" for p in PROFILE_NAMES)]
    for knob, cells in rows.items():
        lines.append(f"{knob:<{width}}  " + "  ".join(f"{cells.get(p, '-'):<{cell}}"
                                                      for p in PROFILE_NAMES))
    lines = [line.rstrip() for line in lines]
    for knob, cells in rows.items():
        if "see below" in cells.values():
            groups = {}  # value -> the profiles that have it
            for p, per in knobs.items():
                groups.setdefault(_value(per[knob]), []).append(p)
            lines += textwrap.wrap(f"{knob}: " + "; ".join(f"{'/'.join(ps)} {v}" for v, ps in
                                                        groups.items()), width=96,
                                   subsequent_indent="  ")
    if same:
        lines += textwrap.wrap("same at every profile: " + ", ".join(
            f"{k} {_value(v)}" for k, v in same.items()), width=96, subsequent_indent="  ")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="*", help="names from --list, or 'all'")
    ap.add_argument("--profile", choices=PROFILE_NAMES, default=None,
                    help="run size (default: $BOOK_PROFILE, else gpu with CUDA, else cpu)")
    ap.add_argument("--list", action="store_true",
                    help="list the experiments, their state and cost, and their sizes per profile")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    profile = get_profile(args.profile)
    if args.list:
        list_entries(profile)
        return 0
    if not args.experiments:
        ap.error("name experiments to run, or 'all' (see --list)")
    registered = experiments.names()
    names = registered if args.experiments == ["all"] else args.experiments
    for name in names:
        if name not in registered:
            ap.error(f"unknown experiment {name!r}; registered: {', '.join(registered)} (or 'all')")
    statuses = {name: run_one(name, profile, progress=not args.no_progress) for name in names}
    print("summary: " + ", ".join(f"{n} {s}" for n, s in statuses.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
