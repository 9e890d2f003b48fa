"""Declared claims, paired effects over seeds, computed verdicts, and the claims ledger.

A chapter states each claim **before** it measures it (:class:`Claim`): what is compared, the
direction the paper predicts, and the smallest effect that would matter. The experiment gives
the two compared quantities per seed, paired (same seed, same network, same test set);
:func:`paired_effect` turns them into an :class:`Evidence` (mean paired effect and its interval
over seeds), and :func:`verdict` computes the verdict from the interval alone. The page prints
:func:`finding` ("what we found") and :func:`reproduction_box`, never a hand-typed result.

**One convention everywhere** (:data:`INTERVAL_CONVENTION`): the effect is the mean over seeds
of the per-seed difference ``a - b``; its 95 % interval is the Student t-interval over seeds,
``mean +/- t(0.975, n - 1) * sd / sqrt(n)`` with ``sd`` the sample standard deviation
(``ddof=1``). Seeds are the unit of replication; test images are not resampled.

Verdicts (:data:`VERDICTS`): ``supported`` when the interval excludes 0 on the predicted side,
``contradicted`` when it excludes 0 on the other side, ``inconclusive`` otherwise (an interval
that touches 0 is inconclusive). Separately, :func:`reaches_min_effect` says whether the mean
effect, signed in the predicted direction, is at least the claim's smallest effect that
matters: a claim can be *supported* yet too small to matter, or *inconclusive* with a mean
that would matter; the finding sentence and the ledger's ``matters`` column say which.

**How a chapter declares its claims.** Its experiment module (registered in
``helpers.experiments.EXPERIMENTS``; :func:`experiment_sources`) defines ``CLAIMS`` and
``claim_values(payload)``, which returns the paired per-seed values of every declared claim, in
the claim's units. Chapter 1, for example::

    from helpers.evidence import Claim

    CLAIMS = [Claim(id="ch1-h-beats-z", chapter="01-the-puzzle", paper="Xue2024",
                    statement="the pre-projection layer h holds more class information than z",
                    compared="probe accuracy at h minus at z, same network, same test set",
                    direction=+1, min_effect=1.0, units="points")]

    def claim_values(payload):
        acc = np.asarray(payload["accuracy"])  # (n_seeds, n_layers), fractions
        h, z = payload["layers"].index("h"), payload["layers"].index("z")
        return {"ch1-h-beats-z": (100 * acc[:, h], 100 * acc[:, z])}  # points, paired by seed

The chapter then prints its findings from the result it loaded (:func:`module_rows`, then
:func:`finding` and :func:`reproduction_box`). The registry entry's ``name`` and ``seed`` say
which stored result the claims are read from (without an entry: the module's ``EXPERIMENT``,
else its own name, seed 0). ``python -m helpers.evidence [--profile P] [--json]`` prints the
ledger of every declared claim from the stored results (:func:`helpers.results.load_stored`;
it never trains); a claim whose result is not stored is listed as ``not computed``, one whose
result has a single seed (smoke) as ``too few seeds``. Used by every empirical chapter and
the practitioner's guide.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
INTERVAL_CONVENTION = ("95 % t-interval over seeds: mean of the per-seed paired differences "
                       "+/- t(0.975, n-1) x sd(ddof=1) / sqrt(n)")
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
NOT_COMPUTED = "not computed"
TOO_FEW_SEEDS = "too few seeds"  # the ledger's status for a stored result of one seed (smoke)
STAND_IN_FAILED = "stand-in failed"  # its structure check failed: the claims test nothing
JSON_KEYS = ("chapter", "claim", "effect", "ci_low", "ci_high", "n_seeds", "verdict", "profile",
             "data")


@dataclass(frozen=True)
class Claim:
    """One claim, declared before it is measured.

    Attributes:
        id: unique short name, e.g. ``'ch1-h-beats-z'``.
        chapter: the chapter's notebook name, e.g. ``'01-the-puzzle'``.
        paper: the source's key in ``book/references.bib``, e.g. ``'Xue2024'``.
        statement: the claim in one line.
        compared: what the effect ``a - b`` is, e.g. ``'probe accuracy at h minus at z, same
            network, same test set'``.
        direction: ``+1`` if the paper predicts ``a > b``, ``-1`` if ``a < b``.
        min_effect: the smallest effect that would matter, in ``units`` (>= 0).
        units: the effect's units, e.g. ``'points'`` (percentage points).
        decimals: digits printed after the point.
        figure: the MyST label of the figure that shows it (for the ledger's link), or "".

    Raises:
        ValueError: empty text fields, a direction other than +1/-1, a negative or non-finite
            ``min_effect``.
    """

    id: str
    chapter: str
    paper: str
    statement: str
    compared: str
    direction: int
    min_effect: float
    units: str = "points"
    decimals: int = 1
    figure: str = ""

    def __post_init__(self):
        for name in ("id", "chapter", "paper", "statement", "compared", "units"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Claim.{name} must be a non-empty string, got {value!r}")
        if self.direction not in (1, -1) or isinstance(self.direction, bool):
            raise ValueError(f"claim {self.id}: direction must be +1 (a > b predicted) or -1 "
                             f"(a < b predicted), got {self.direction!r}")
        if not isinstance(self.min_effect, (int, float)) or isinstance(self.min_effect, bool) \
                or not math.isfinite(self.min_effect) or self.min_effect < 0:
            raise ValueError(f"claim {self.id}: min_effect must be a finite number >= 0 in "
                             f"{self.units}, got {self.min_effect!r}")


class TooFewSeedsError(ValueError):
    """Fewer than 2 seeds: no interval over seeds exists."""

    def __init__(self, message: str, n_seeds: int):
        super().__init__(message)
        self.n_seeds = n_seeds


@dataclass(frozen=True)
class Evidence:
    """A paired effect over seeds: ``differences[k] = a[k] - b[k]``; mean and t-interval."""

    differences: tuple
    effect: float
    ci_low: float
    ci_high: float

    @property
    def n_seeds(self) -> int:
        return len(self.differences)


def _per_seed(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":  # not bools, strings, None (a NaN in a stored payload), ...
        raise TypeError(f"{name} must be numbers, one per seed; got {values!r} (dtype "
                        f"{arr.dtype}; None in a stored payload marks a NaN: a run failed)")
    arr = arr.astype(float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one number per seed (shape (n_seeds,)); got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has NaN or infinite values at seeds "
                         f"{np.flatnonzero(~np.isfinite(arr)).tolist()}: a run failed; rerun "
                         f"it rather than dropping the seed")
    return arr


def seed_sd(values, axis: int = 0) -> np.ndarray:
    """The spread over seeds the book prints everywhere: the sample standard deviation
    (``ddof=1``) along ``axis``; NaN with fewer than 2 seeds."""
    arr = np.asarray(values, dtype=float)
    if arr.shape[axis] < 2:
        return np.full(np.delete(arr.shape, axis), np.nan) if arr.ndim > 1 else np.float64(np.nan)
    return arr.std(axis=axis, ddof=1)


def paired_effect(a, b) -> Evidence:
    """The paired effect ``a - b`` over seeds, with its 95 % t-interval over seeds.

    The convention everywhere (:data:`INTERVAL_CONVENTION`): mean of ``d = a - b``
    +/- ``t(0.975, n - 1) * sd(d, ddof=1) / sqrt(n)``.

    Args:
        a, b: ``(n_seeds,)`` numbers, paired by seed (seed ``k`` of ``a`` goes with seed ``k``
            of ``b``), in the claim's units.

    Raises:
        TypeError: non-numeric input.
        ValueError: not 1-D, lengths differ, NaN or infinite values.
        TooFewSeedsError: (a ValueError) fewer than 2 seeds.
    """
    a, b = _per_seed(a, "a"), _per_seed(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired by seed, but a has {a.size} seeds and b "
                         f"{b.size}")
    if a.size < 2:
        raise TooFewSeedsError(f"an interval over seeds needs at least 2 seeds, got {a.size}; "
                               f"run more seeds (the cpu profile uses at least 5)", a.size)
    diff = a - b
    mean = float(diff.mean())
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, diff.size - 1) * diff.std(ddof=1)
                 / math.sqrt(diff.size))
    return Evidence(tuple(float(d) for d in diff), mean, mean - half, mean + half)


def verdict(claim: Claim, evidence: Evidence) -> str:
    """``'supported'``, ``'contradicted'`` or ``'inconclusive'``, from the interval alone."""
    low, high = claim.direction * evidence.ci_low, claim.direction * evidence.ci_high
    if min(low, high) > 0:
        return SUPPORTED
    if max(low, high) < 0:
        return CONTRADICTED
    return INCONCLUSIVE


def reaches_min_effect(claim: Claim, evidence: Evidence) -> bool:
    """Whether the mean effect, signed in the predicted direction, is >= ``claim.min_effect``."""
    return claim.direction * evidence.effect >= claim.min_effect


def _num(claim: Claim, x: float) -> str:
    return f"{x:+.{claim.decimals}f}"


def interval_text(claim: Claim, evidence: Evidence) -> str:
    """``'+3.2 points (95 % CI over seeds +1.1 to +5.3, 5 seeds)'``."""
    return (f"{_num(claim, evidence.effect)} {claim.units} (95 % CI over seeds "
            f"{_num(claim, evidence.ci_low)}"
            f" to {_num(claim, evidence.ci_high)}, {evidence.n_seeds} seeds)")


_READING = {
    SUPPORTED: "the interval excludes 0 on the side the paper predicts, so these runs support "
               "the claim",
    CONTRADICTED: "the interval excludes 0 on the side opposite to the paper's prediction, so "
                  "these runs contradict the claim",
    INCONCLUSIVE: "the interval includes 0, so these runs cannot tell the sign of the effect: "
                  "inconclusive",
}


def finding(claim: Claim, evidence: Evidence | None, profile: str, data: str | None,
            n_seeds: int = 0, status: str | None = None) -> str:
    """The "what we found" sentence, printed from the verdict; reads true for every verdict.

    ``evidence=None``: not computed yet, or, with ``n_seeds`` 1, measured on one seed only
    (no interval, no verdict); the sentence says which.
    """
    where = f"profile {profile}, data {data}"
    compared = f"{claim.compared[0].upper()}{claim.compared[1:]}"
    if evidence is None and status == STAND_IN_FAILED:
        return (f"{compared}: **not tested** ({where}, {n_seeds} seeds): the stand-in failed its "
                f"structure check (printed above), so an interval here would test nothing; the "
                f"claim that {claim.statement} is untested at this profile.")
    if evidence is None and n_seeds:
        return (f"{compared}: measured on {n_seeds} seed only ({where}), so there is no "
                f"interval over seeds and no verdict; the claim that {claim.statement} is "
                f"untested here.")
    if evidence is None:
        return (f"{compared}: not computed yet ({where}); the claim that {claim.statement} is "
                f"untested here.")
    v = verdict(claim, evidence)
    predicted = "positive" if claim.direction > 0 else "negative"
    smallest = f"{_num(claim, claim.direction * claim.min_effect)} {claim.units}"
    if reaches_min_effect(claim, evidence):
        size = f"The mean effect is at least the smallest effect that would matter ({smallest})."
    else:
        size = (f"The mean effect is short of the smallest effect that would matter "
                f"({smallest}).")
    return (f"{compared}: {interval_text(claim, evidence)}, "
            f"{where}. The paper predicts a {predicted} effect (the claim that {claim.statement}); "
            f"{_READING[v]}. {size}")


def claims_text(claims: Iterable[Claim]) -> str:
    """The claims as a chapter declares them before its run: statement, what is compared, the
    predicted sign and the smallest effect that matters; then the interval convention."""
    blocks = [f"{c.id}: {c.statement}\n  compared: {c.compared}\n  predicted: "
              f"{'positive' if c.direction > 0 else 'negative'}; smallest effect that matters: "
              f"{c.min_effect:g} {c.units}" for c in claims]
    return "\n\n".join(blocks + [f"interval: {INTERVAL_CONVENTION}"])


def findings_markdown(rows: Iterable["Row"]) -> str:
    """A chapter's "what we found": one bullet per ledger row, the :func:`finding` sentence."""
    return "\n\n".join(f"* **{r.claim.id}**: " + finding(r.claim, r.evidence, r.profile, r.data,
                                                          r.n_seeds, r.status) for r in rows)


def reproduction_box(claim: Claim, evidence: Evidence | None, profile: str, data: str | None,
                     paper_number: str | None, differences: str, markdown: bool = True,
                     n_seeds: int = 0, status: str | None = None) -> str:
    """The reproduction box that ends a chapter: the paper's number, the book's, how they differ.

    Args:
        paper_number: the paper's number with its source, as the fact sheet (PAPERS.md) lists
            it, e.g. ``'Table 1: 72.4 % at h, 68.1 % at z (CIFAR-10, ResNet-18)'``; None when
            the paper gives none.
        differences: one line, "where we differ and why" (scale, data stand-in, protocol).
        markdown: a markdown bullet list (display it with ``IPython.display.Markdown``);
            False gives plain text.
        n_seeds: with ``evidence=None``, the seeds of a result too small for an interval.

    Raises:
        ValueError: an empty ``differences`` line.
    """
    if not isinstance(differences, str) or not differences.strip():
        raise ValueError("reproduction_box needs the 'where we differ and why' line "
                         "(scale, data stand-in, protocol)")
    paper = paper_number if paper_number else "the paper gives no number for this comparison"
    if evidence is None:
        status = status or (f"{TOO_FEW_SEEDS} ({n_seeds})" if n_seeds else NOT_COMPUTED)
        ours = f"{status}, no verdict (profile {profile}, data {data})"
    else:
        ours = (f"{interval_text(claim, evidence)}; profile {profile}, data {data}; "
                f"verdict: {verdict(claim, evidence)}")
    lines = [("Claim", f"{claim.statement} ({claim.compared})"), (f"Paper ({claim.paper})", paper),
             ("This book", ours), ("Where we differ and why", differences.strip())]
    if markdown:
        return "\n".join([f"**Reproduction: {claim.id}**", ""] +
                         [f"- **{k}**: {v}" for k, v in lines])
    return "\n".join([f"Reproduction: {claim.id}"] + [f"  {k}: {v}" for k, v in lines])


# ---------------------------------------------------------------- structure checks

class StandInError(RuntimeError):
    """A stand-in lacks what a claim needs: a structure check failed (see its message)."""


@dataclass(frozen=True)
class StructureCheck:
    """What a stand-in must show before its claims mean anything, as a paired effect.

    E.g. Chapter 1: pre-training must beat the untrained network at ``h`` (paired by seed: the
    same initialisation before and after training) by at least ``min_effect``. A module
    declares ``STRUCTURE = [StructureCheck(...)]`` and ``structure_values(payload)`` (the
    paired per-seed values, as ``claim_values``); :func:`check_structure` runs them.

    Passes when the 95 % interval over seeds lies above 0 **and** the mean effect reaches
    ``min_effect`` (:data:`INTERVAL_CONVENTION`).
    """

    id: str
    requirement: str  # what must hold, e.g. 'pre-training beats the untrained network at h'
    compared: str  # what the effect a - b is
    min_effect: float  # the clear margin, in units
    units: str = "points"
    decimals: int = 1
    remedy: str = "train longer or on more data (a larger profile)"

    def __post_init__(self):
        for name in ("id", "requirement", "compared", "units", "remedy"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"StructureCheck.{name} must be a non-empty string")
        if not math.isfinite(self.min_effect) or self.min_effect < 0:
            raise ValueError(f"structure check {self.id}: min_effect must be finite and >= 0, "
                             f"got {self.min_effect!r}")


def structure_passes(check: StructureCheck, evidence: Evidence) -> bool:
    """The interval lies above 0 and the mean effect is at least ``check.min_effect``."""
    return evidence.ci_low > 0 and evidence.effect >= check.min_effect


def _structure_evidence(module, payload: dict) -> list[tuple]:
    """``(check, a, b, evidence)`` per structure check of ``module``; evidence None below 2
    seeds; a, b and evidence None where ``structure_values`` gives no values for the check (it
    does not apply to the payload's data). Raises ValueError when ``structure_values`` cannot
    read the payload."""
    checks = list(getattr(module, "STRUCTURE", ()))
    if not checks:
        return []
    try:
        values = dict(module.structure_values(payload))
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ValueError(f"{module.__name__}.structure_values cannot read this payload "
                         f"({type(err).__name__}: {err}); recompute the result") from err
    out = []
    for check in checks:
        if check.id not in values:  # does not apply to this payload's data (module says why)
            out.append((check, None, None, None))
            continue
        a, b = (_per_seed(v, name) for v, name in zip(values[check.id], ("a", "b")))
        out.append((check, a, b, paired_effect(a, b) if a.size >= 2 else None))
    return out


def structure_failures(module, payload: dict) -> list[str]:
    """Ids of the module's structure checks that fail on ``payload`` (2+ seeds only)."""
    return [check.id for check, _, _, e in _structure_evidence(module, payload)
            if e is not None and not structure_passes(check, e)]


def check_structure(module, payload: dict, enforce: bool = True) -> list[str]:
    """Run the module's structure checks on a payload; one printed line per check.

    With fewer than 2 seeds (smoke) a check is reported, not enforced. With ``enforce`` a
    failed check raises; the chapters pass ``enforce=False``, print the lines, and let
    :func:`module_rows` report the claims as :data:`STAND_IN_FAILED` (not tested).

    Raises:
        StandInError: a check failed (with ``enforce``); the message says what and what to do.
        ValueError: ``structure_values`` cannot read the payload.
    """
    lines, failed = [], []
    for check, a, b, e in _structure_evidence(module, payload):
        need = f"{check.min_effect:+.{check.decimals}f} {check.units}"
        if a is None:
            lines.append(f"structure check '{check.requirement}': not applicable to this "
                         f"result's data (see {module.__name__}.structure_values)")
            continue
        if e is None:
            mean = float(np.mean(a - b)) if a.size else float("nan")
            lines.append(f"structure check '{check.requirement}': {mean:+.{check.decimals}f} "
                         f"{check.units} on {a.size} seed, not checked (needs 2+ seeds; a "
                         f"margin of {need} with an interval above 0)")
            continue
        ok = structure_passes(check, e)
        interval = (f"{e.effect:+.{check.decimals}f} {check.units} (95 % CI "
                    f"{e.ci_low:+.{check.decimals}f} to {e.ci_high:+.{check.decimals}f}, "
                    f"{e.n_seeds} seeds)")
        lines.append(f"structure check '{check.requirement}' ({check.compared}): {interval}; "
                     f"needs at least {need} with the interval above 0: "
                     f"{'passed' if ok else 'FAILED'}")
        if not ok:
            failed.append((check, interval))
    if failed and enforce:
        raise StandInError("; ".join(
            f"the stand-in fails the structure check '{c.requirement}': {iv}, but the claims "
            f"need at least {c.min_effect:+.{c.decimals}f} {c.units} with the interval above 0, "
            f"so its verdicts would test nothing. What to do: {c.remedy}"
            for c, iv in failed))
    return lines


# ---------------------------------------------------------------- the ledger

@dataclass(frozen=True)
class Source:
    """Where a module's claims are read: the stored result ``name`` (seed ``seed``)."""

    name: str
    module: ModuleType
    seed: int = 0


def experiment_sources() -> list[Source]:
    """Every registered experiment with its module, in the registry's order.

    The registry is ``helpers.experiments.EXPERIMENTS``: a sequence whose items are objects
    with ``name`` (the stored result's name), ``module`` (a dotted name, ``'pkg.mod:run'``
    allowed, or the module) and optionally ``seed``; plain dotted or short module names
    (``'puzzle'``) or modules also do. A registered module that does not exist yet is skipped.
    Without ``EXPERIMENTS``: every module of the ``helpers.experiments`` package, by name.
    A module's own ``EXPERIMENT = "name"`` names its result when the entry does not.
    """
    import helpers.experiments as package

    entries = getattr(package, "EXPERIMENTS", None)
    if entries is None:
        entries = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    sources = []
    for entry in entries:
        target = getattr(entry, "module", None) or entry
        if isinstance(target, str):
            dotted = target.split(":")[0]
            dotted = dotted if "." in dotted else f"{package.__name__}.{dotted}"
            try:
                target = importlib.import_module(dotted)
            except ModuleNotFoundError as err:
                if err.name != dotted:  # the module exists but one of its imports does not
                    raise
                continue  # a chapter in progress: listed in the registry, not written yet
        name = getattr(entry, "name", None) if not isinstance(entry, (str, ModuleType)) else None
        sources.append(Source(name or experiment_name(target), target,
                              int(getattr(entry, "seed", 0) or 0)))
    return sources


def experiment_modules() -> list[ModuleType]:
    """The registered experiment modules, in order (:func:`experiment_sources`)."""
    modules = []
    for source in experiment_sources():
        if source.module not in modules:
            modules.append(source.module)
    return modules


def declared_claims(modules: Iterable[ModuleType]) -> list[tuple[ModuleType, Claim]]:
    """Every ``(module, claim)`` the modules declare, in order.

    Raises:
        ValueError: a claim id declared twice, or ``CLAIMS`` without ``claim_values``.
    """
    out, seen = [], {}
    for module in modules:
        claims = getattr(module, "CLAIMS", ())
        if claims and not callable(getattr(module, "claim_values", None)):
            raise ValueError(f"{module.__name__} declares CLAIMS but no claim_values(payload)")
        for claim in claims:
            if not isinstance(claim, Claim):
                raise TypeError(f"{module.__name__}.CLAIMS must hold helpers.evidence.Claim "
                                f"objects, got {claim!r}")
            if claim.id in seen:
                raise ValueError(f"claim id {claim.id!r} is declared by both {seen[claim.id]} "
                                 f"and {module.__name__}; ids must be unique")
            seen[claim.id] = module.__name__
            out.append((module, claim))
    return out


@dataclass(frozen=True)
class Row:
    """One ledger row: a claim and what the stored result says.

    ``evidence`` None: ``status`` says why (:data:`NOT_COMPUTED`, or :data:`TOO_FEW_SEEDS`
    with the stored result's ``seeds``). ``stale``: the result was computed by older code (a
    committed bigger result shown because nothing current exists), and why.
    """

    claim: Claim
    evidence: Evidence | None
    profile: str
    data: str | None
    status: str = NOT_COMPUTED
    seeds: int = 0
    stale: str | None = None  # why the stored result is not of the running code (results.py)

    @property
    def verdict(self) -> str:
        return self.status if self.evidence is None else verdict(self.claim, self.evidence)

    @property
    def n_seeds(self) -> int:
        return self.seeds if self.evidence is None else self.evidence.n_seeds

    def as_json(self) -> dict:
        """Exactly :data:`JSON_KEYS`; numbers are None when not computed."""
        e = self.evidence
        return {"chapter": self.claim.chapter, "claim": self.claim.id,
                "effect": None if e is None else e.effect,
                "ci_low": None if e is None else e.ci_low,
                "ci_high": None if e is None else e.ci_high,
                "n_seeds": self.n_seeds, "verdict": self.verdict,
                "profile": self.profile, "data": self.data}


def experiment_name(module: ModuleType) -> str:
    """The stored result a module's claims are read from: its ``EXPERIMENT``, else its name."""
    return getattr(module, "EXPERIMENT", module.__name__.rsplit(".", 1)[-1])


def collect(profile=None, modules: Sequence[ModuleType] | None = None) -> list[Row]:
    """The ledger: one row per declared claim from the results stored for ``profile``.

    Computes nothing. Rows are in chapter order, then in each module's declared order.

    Raises:
        ValueError: ``claim_values`` of a stored payload fails or returns other claims than
            the module declares (the message names the experiment and what to do).
    """
    from helpers.profiles import Profile, get_profile
    from helpers.results import load_stored

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    sources = (experiment_sources() if modules is None else
               [Source(experiment_name(m), m, int(getattr(m, "SEED", 0))) for m in modules])
    declared_claims(s.module for s in sources)  # checks: unique ids, claim_values present
    rows = []
    for source in sources:
        claims = list(getattr(source.module, "CLAIMS", ()))
        if not claims:
            continue
        result = load_stored(source.name, profile=prof, seed=source.seed)
        if result is None:
            rows += [Row(claim, None, prof.name, None) for claim in claims]
            continue
        rows += module_rows(source.module, result.payload, result.provenance, where=result.path,
                            stale=getattr(result, "stale", None))
    return sorted(rows, key=lambda r: r.claim.chapter)  # stable: declared order within a chapter


def module_rows(module, payload: dict, provenance: dict, where=None,
                stale: str | None = None) -> list[Row]:
    """The ledger rows of one module's claims from one of its results (payload, provenance).

    A claim measured on fewer than 2 seeds (a one-seed smoke run) gets a row with status
    :data:`TOO_FEW_SEEDS` instead of a verdict. A chapter prints its findings from these::

        for row in evidence.module_rows(puzzle, result.payload, result.provenance):
            print(evidence.finding(row.claim, row.evidence, row.profile, row.data, row.n_seeds, row.status))

    Raises:
        ValueError: as :func:`evaluate`, except for too few seeds.
    """
    where = where or f"payload of {experiment_name(module)}"
    values = _claim_values(module, payload, where)
    profile, data = provenance.get("profile", "?"), provenance.get("data_source")
    if structure_failures(module, payload):  # verdicts on a stand-in without the mechanism
        return [Row(claim, None, profile, data, status=STAND_IN_FAILED,
                    seeds=len(np.atleast_1d(values[claim.id][0])), stale=stale)
                for claim in module.CLAIMS]
    rows = []
    for claim in module.CLAIMS:
        try:
            rows.append(Row(claim, _effect(module, claim.id, values, where), profile, data,
                            stale=stale))
        except TooFewSeedsError as err:  # shown, not graded
            rows.append(Row(claim, None, profile, data, status=TOO_FEW_SEEDS, seeds=err.n_seeds,
                            stale=stale))
    return rows


def evaluate(module, payload: dict, where=None) -> dict[str, Evidence]:
    """``{claim id: Evidence}`` for every claim ``module`` declares, from one of its payloads.

    A chapter calls it on the result it just loaded or computed, then prints :func:`finding`.

    Raises:
        ValueError: ``module.claim_values(payload)`` fails (a payload older than the code), or
            returns other claims than ``module.CLAIMS``; a claim's values are not valid
            per-seed pairs (:func:`paired_effect`; the message names the claim).
    """
    where = where or f"payload of {experiment_name(module)}"
    values = _claim_values(module, payload, where)
    return {c.id: _effect(module, c.id, values, where) for c in module.CLAIMS}


def _claim_values(module, payload, where) -> dict:
    try:
        values = dict(module.claim_values(payload))
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ValueError(f"{module.__name__}.claim_values cannot read the stored result "
                         f"{where} ({type(err).__name__}: {err}); it may predate a payload "
                         f"change: recompute it with `python -m helpers.run "
                         f"{experiment_name(module)}`") from err
    declared = [c.id for c in module.CLAIMS]
    if set(values) != set(declared):
        raise ValueError(f"{module.__name__}.claim_values returned claims {sorted(values)}, but "
                         f"the module declares {sorted(declared)}")
    return values


def _effect(module, claim_id, values, where) -> Evidence:
    try:
        return paired_effect(*values[claim_id])
    except TooFewSeedsError as err:
        raise TooFewSeedsError(f"claim {claim_id} ({module.__name__}, {where}): {err}",
                               err.n_seeds) from err
    except (TypeError, ValueError) as err:
        raise type(err)(f"claim {claim_id} ({module.__name__}, {where}): {err}") from err


def combined_verdict(verdicts: Iterable[str]) -> str:
    """One status for advice that rests on several claims: ``supported`` only if all are.

    Otherwise the first of ``contradicted``, ``stand-in failed``, ``inconclusive``, ``too few
    seeds``, ``not computed`` present; an empty list is ``not computed``.
    """
    verdicts = list(verdicts)
    unknown = set(verdicts) - {*VERDICTS, TOO_FEW_SEEDS, NOT_COMPUTED, STAND_IN_FAILED}
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected one of {VERDICTS}, "
                         f"{TOO_FEW_SEEDS!r}, {NOT_COMPUTED!r}")
    for worst in (CONTRADICTED, STAND_IN_FAILED, INCONCLUSIVE, TOO_FEW_SEEDS, NOT_COMPUTED):
        if worst in verdicts:
            return worst
    return SUPPORTED if verdicts else NOT_COMPUTED


def table_text(rows: Sequence[Row]) -> str:
    """The ledger as a fixed-width text table; ``matters`` is :func:`reaches_min_effect`.

    A profile marked ``*`` is a stored result of older code; a footnote says why.
    """
    head = ("chapter", "claim", "effect", "ci_low", "ci_high", "n_seeds", "verdict", "profile",
            "data", "matters")
    body = []
    for r in rows:
        c, e = r.claim, r.evidence
        nums = ("-", "-", "-") if e is None else (_num(c, e.effect), _num(c, e.ci_low),
                                                  _num(c, e.ci_high))
        matters = "-" if e is None else ("yes" if reaches_min_effect(c, e) else "no")
        body.append((c.chapter, c.id, *nums, str(r.n_seeds), r.verdict,
                     r.profile + ("*" if r.stale else ""), r.data or "-", matters))
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"* {r.claim.id}: {r.stale}" for r in rows if r.stale]
    return "\n".join(lines)


def table_markdown(rows: Sequence[Row], link=None) -> str:
    """The ledger as a markdown table, with the figure of each claim (``link(label)`` -> text).

    ``link`` defaults to the bare label; the guide passes its own (a MyST ``{ref}``).
    """
    link = link or (lambda label: f"`{label}`")
    out = ["| chapter | claim | compared | effect (95 % CI over seeds) | seeds | verdict | "
           "reaches the smallest effect that matters | profile, data | figure |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        c, e = r.claim, r.evidence
        effect = "-" if e is None else (f"{_num(c, e.effect)} {c.units} "
                                        f"({_num(c, e.ci_low)} to {_num(c, e.ci_high)})")
        matters = "-" if e is None else ("yes" if reaches_min_effect(c, e) else "no")
        where = f"{r.profile}, {r.data}" if r.data else r.profile
        where += f" (older code: {r.stale})" if r.stale else ""
        out.append(f"| {c.chapter} | {c.statement} | {c.compared} | {effect} | "
                   f"{r.n_seeds} | **{r.verdict}** | {matters} "
                   f"(>= {c.min_effect:g} {c.units}) | {where} | "
                   f"{link(c.figure) if c.figure else '-'} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    from helpers.profiles import PROFILE_NAMES

    ap = argparse.ArgumentParser(prog="python -m helpers.evidence", description=(
        "The claims ledger from the stored results (trains nothing). Effects in each claim's "
        f"units; interval: {INTERVAL_CONVENTION}; matters: the mean effect reaches the "
        "claim's smallest effect that would matter."))
    ap.add_argument("--profile", choices=PROFILE_NAMES, help=(
        "default: $BOOK_PROFILE, else this machine's; a stored gpu/paper result is preferred"))
    ap.add_argument("--json", action="store_true", help="one JSON object per claim and line")
    ap.add_argument("--module", action="append", default=None, metavar="DOTTED.NAME",
                    help="read claims from this module instead of the registry (repeatable)")
    args = ap.parse_args(argv)
    modules = None if args.module is None else [importlib.import_module(m) for m in args.module]
    rows = collect(args.profile, modules)
    if args.json:
        for row in rows:
            print(json.dumps(row.as_json()))
    else:
        print(table_text(rows) if rows else "no claims declared")
        print(f"\ninterval: {INTERVAL_CONVENTION}")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so that claims built with helpers.evidence.Claim are
    # instances of the same class (under -m this file is __main__, a second copy).
    from helpers.evidence import main as _main

    sys.exit(_main())
