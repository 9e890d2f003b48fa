"""The practitioner's guide: the book's advice, each piece computed from a stored chapter result.

Every :class:`Finding` compares one probe read *below* the head (the pre-projection layer h,
or the layer a chapter recommends) with the same probe read at the head's *output* z, over the
seeds of one stored result, and grades the evidence:

* ``clear`` - at least 3 seeds, not the ``smoke`` profile, and the mean difference exceeds
  twice the standard deviation over seeds of the paired (same network) difference;
* ``mixed`` - at least 3 seeds outside ``smoke``, but the difference is within that noise;
* ``weak`` - the ``smoke`` profile or fewer than 3 seeds: a direction, not evidence;
* ``not computed`` - the chapter has not been run at this profile (the guide never trains).

The guide page renders :func:`collect` as a table and :func:`plot_decision_chart` as the chart;
nothing in either is typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# Data sources that are the real data sets; everything else is a synthetic or procedural stand-in.
REAL_DATA = frozenset({"cifar10", "cifar100", "cifar10-5", "urbancars", "mnist-cifar10"})


def figure_titles() -> dict[str, str]:
    """``{figure target label: link text}`` of the chapter figures the guide links to, in book
    order: each experiment module's ``FIGURES``. A target placed before a figure cell has no
    caption, so every {ref} to it names its text."""
    return {label: title for module in _modules() for label, title in
            getattr(module, "FIGURES", {}).items()}


def figure_link(label: str) -> str:
    """A MyST link to a figure target, with its text (a bare {ref} to it would not resolve)."""
    return f"{{ref}}`{figure_titles()[label]} <{label}>`"


STRENGTHS = ("clear", "mixed", "weak", "not computed")
MIN_SEEDS = 3


@dataclass(frozen=True)
class Finding:
    """One recommendation's evidence: a probe below the head vs at its output, per seed (in %)."""

    key: str
    question: str
    chapter: str  # notebook name without .ipynb, for {doc}`` links
    figure: str  # the figure's target label, for {ref}`` links
    measure: str
    below_name: str
    top_name: str = "the head output z"
    below: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (seeds,)
    top: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (seeds,)
    provenance: dict | None = None
    stale: str | None = None  # why the result is not of the running code (results.Result.stale)

    @property
    def computed(self) -> bool:
        return self.provenance is not None

    @property
    def n_seeds(self) -> int:
        return len(self.below)

    @property
    def difference(self) -> float:
        """Mean (below - top) in points; positive: the lower layer is better."""
        return float(np.mean(self.below - self.top)) if self.computed else float("nan")

    @property
    def noise(self) -> float:
        """Standard deviation over seeds of the paired difference below - top (points): h and z
        come from the same network, so the seed-to-seed level shift cancels."""
        if self.n_seeds < 2:
            return float("nan")
        return float(np.std(self.below - self.top, ddof=1))

    @property
    def strength(self) -> str:
        if not self.computed:
            return "not computed"
        if self.provenance["profile"] == "smoke" or self.n_seeds < MIN_SEEDS:
            return "weak"
        return "clear" if abs(self.difference) > 2 * self.noise else "mixed"

    @property
    def stand_in(self) -> bool:
        """True when the data is synthetic or a procedural stand-in for a real data set."""
        return self.computed and self.provenance["data_source"] not in REAL_DATA

    def verdict(self) -> str:
        """One sentence, computed: which layer won, by how much, and how sure."""
        if not self.computed:
            return (f"not computed at this profile: run {{doc}}`{self.chapter}` first "
                    "(the guide never trains).")
        noise = "" if np.isnan(self.noise) else f" (± {self.noise:.1f} over seeds)"
        values = f"{np.mean(self.below):.1f} % vs {np.mean(self.top):.1f} %"
        if round(abs(self.difference), 1) == 0:
            return f"no difference between {self.below_name} and {self.top_name}: {values}"
        winner = self.below_name if self.difference > 0 else self.top_name
        return f"{winner} better by {abs(self.difference):.1f} points{noise}: {values}"

    @property
    def supports(self) -> bool | None:
        """Does the run point the advice's way: the lower layer (or fixed head) not worse than
        the top beyond the seed noise? None when not computed."""
        if not self.computed:
            return None
        return self.difference >= -(0.0 if np.isnan(self.noise) else self.noise)

    def where(self) -> str:
        """Profile, data source, device and seeds, as the figure captions say them."""
        if not self.computed:
            return "-"
        p = self.provenance
        data = p["data_source"] + (" (stand-in)" if self.stand_in else "")
        older = (f", computed by an older version of the code ({p.get('code_version')})"
                 if self.stale else "")
        return (f"profile {p['profile']}, data {data}, {p['device']}, {self.n_seeds} seed(s)"
                + older)


@dataclass(frozen=True)
class Spec:
    """Where a finding's evidence lives and how to read it (declared in its experiment module's
    ``GUIDE``)."""

    key: str
    question: str
    experiment: str  # the stored result's name (helpers.experiments)
    chapter: str  # notebook name without .ipynb
    figure: str  # the figure's target label (a key of that module's FIGURES)
    measure: str
    below_name: str
    extract: Callable  # payload -> (below, top): two (seeds,) arrays in %
    top_name: str = "the head output z"


def registered_specs() -> tuple[Spec, ...]:
    """Every finding's :class:`Spec`, in book order: each experiment module's ``GUIDE`` (a new
    experiment joins the guide with a ``GUIDE`` entry next to its config)."""
    return tuple(spec for module in _modules() for spec in getattr(module, "GUIDE", ()))


def _modules():
    """The modules of the registered experiments (helpers.experiments), in book order; an
    experiment whose module does not exist yet is left out."""
    from helpers import experiments

    for experiment in experiments.EXPERIMENTS:
        try:
            yield experiment.load()
        except ModuleNotFoundError as err:
            if err.name != experiment.module:  # the module exists but one of its imports is missing
                raise


def collect(profile=None, specs=None) -> list[Finding]:
    """Every finding (``specs``, default :func:`registered_specs`) from the results stored for
    ``profile``; computes nothing.

    A result that is not stored gives a ``not computed`` finding that names its chapter.
    """
    from helpers.profiles import get_profile
    from helpers.results import load_stored

    prof = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    findings, cache = [], {}
    for spec in registered_specs() if specs is None else specs:
        if spec.experiment not in cache:
            cache[spec.experiment] = load_stored(spec.experiment, profile=prof)
        result = cache[spec.experiment]
        base = dict(key=spec.key, question=spec.question, chapter=spec.chapter, figure=spec.figure,
                    measure=spec.measure, below_name=spec.below_name, top_name=spec.top_name)
        if result is None:
            findings.append(Finding(**base))
            continue
        below, top = (np.asarray(a, dtype=float) for a in spec.extract(result.payload))
        if below.shape != top.shape or below.ndim != 1 or below.size == 0:
            raise ValueError(f"{spec.key}: the extractor must return two equal (seeds,) arrays; "
                             f"got {below.shape} and {top.shape}")
        findings.append(Finding(**base, below=below, top=top, provenance=result.provenance,
                                stale=result.stale))
    return findings


def table_markdown(findings: list[Finding]) -> str:
    """The evidence table (MyST markdown): question, what was measured, verdict, strength, where."""
    rows = ["| question | measured | result | evidence | where measured | figure |",
            "| --- | --- | --- | --- | --- | --- |"]
    for f in findings:
        rows.append(f"| {f.question} | {f.measure} | {f.verdict()} | **{f.strength}** | "
                    f"{f.where()} | {figure_link(f.figure)} |")
    return "\n".join(rows)


# Leaves of the decision chart: (finding keys that support it, the advice).
CHART = (
    ("Pre-trained with SimCLR\nor another SSL loss", ("ssl-layer", "suppressed-feature",
     "suppressed-digit"), "probe h (below the head);\nif the task needs a feature\n"
     "the augmentations remove,\nh or lower"),
    ("Pre-trained with labels\n(cross-entropy, SupCon)", ("finer-labels-ce", "finer-labels-supcon"),
     "labels finer than the\ntraining labels:\nprobe h, not z"),
    ("Spurious cues in training,\nor shifted test data", ("shortcuts-dfr", "shortcuts-shift"),
     "retrain the last layer\n(DFR) on h with group-\nbalanced validation data"),
    ("You want to control\nwhat the head drops", ("fixed-head",),
     "fixed reweighting head;\nchoose k on validation,\nnever on test"),
)
COLOURS = {"clear": "#009E73", "mixed": "#E69F00", "weak": "#CC79A7", "not computed": "#BBBBBB"}


def leaf_strength(findings: list[Finding], keys) -> str:
    """The weakest grade among a leaf's findings (a chain is as strong as its weakest link)."""
    grades = {f.key: f.strength for f in findings}
    return max((grades[k] for k in keys), key=STRENGTHS.index)


def leaf_support(findings: list[Finding], keys) -> str:
    """'n of m findings agree' over the computed findings of a leaf."""
    chosen = [f for f in findings if f.key in keys and f.computed]
    if not chosen:
        return "no run yet"
    return f"{sum(bool(f.supports) for f in chosen)} of {len(chosen)} runs agree"


def plot_decision_chart(findings: list[Finding], caption: str = ""):
    """The decision chart: one branch per situation, each leaf coloured by its evidence grade."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Patch

    from helpers import plots

    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    ax.set_axis_off()
    ax.set_xlim(0, 1)

    def box(x, y, text, colour, width=0.225, height=0.17):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0.01", fc=colour, ec="0.3", alpha=0.9))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)

    box(0.5, 0.9, "Which representation do I use\nafter pre-training with a head?", "#DDEEFF",
        width=0.34, height=0.12)
    xs = np.linspace(0.125, 0.875, len(CHART))
    for x, (situation, keys, advice) in zip(xs, CHART):
        ax.annotate("", (x, 0.64), (0.5, 0.84), arrowprops=dict(arrowstyle="->", color="0.4"))
        box(x, 0.58, situation, "#F2F2F2", height=0.12)
        ax.annotate("", (x, 0.45), (x, 0.52), arrowprops=dict(arrowstyle="->", color="0.4"))
        grade = leaf_strength(findings, keys)
        box(x, 0.3, f"{advice}\n\nevidence: {grade}\n{leaf_support(findings, keys)}",
            COLOURS[grade], height=0.3)
    ax.text(0.5, 0.07, "Always: when it is cheap, probe several layers on a validation split "
            "and keep the best (Chapter 3).", ha="center", fontsize=9, style="italic")
    ax.set_ylim(0.03, 0.97)
    ax.legend(handles=[Patch(fc=COLOURS[s], ec="0.3", label=s) for s in STRENGTHS],
              loc="upper left", fontsize=8, title="evidence", title_fontsize=8, frameon=False,
              bbox_to_anchor=(0.0, 1.02))
    if caption:
        plots.add_caption(fig, caption)
    return fig
