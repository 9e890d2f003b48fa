"""The practitioner's guide: the book's advice, each piece conditioned on computed verdicts.

The guide is the claims ledger (:mod:`helpers.evidence`) read as advice. Each piece of
:data:`ADVICE` names the declared claims (``CLAIMS`` of the experiment modules) that test it;
its status is :func:`helpers.evidence.combined_verdict` of their verdicts in the results this
build stored: *supported* only when every one of its claims is supported (the 95 % interval over
seeds excludes 0 on the predicted side), otherwise the weakest status among them
(contradicted, inconclusive, too few seeds, not computed). There is no other grading: no "within
one standard deviation counts as agreeing", no typed verdict.

The guide page renders :func:`evidence_table` (every claim: verdict, effect, interval, seeds,
profile, data, figure link), :func:`advice_markdown` (each piece of advice with the status of
its evidence and, when that is not *supported*, what the runs show instead) and
:func:`plot_decision_chart`. It never trains (:func:`helpers.evidence.collect` reads stored
results only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers import evidence as ev

# Data sources that are the real data sets; everything else is a synthetic or procedural stand-in.
REAL_DATA = frozenset({"cifar10", "cifar100", "cifar10-5", "urbancars", "mnist-cifar10"})


def figure_titles() -> dict[str, str]:
    """``{figure target label: link text}`` of the chapter figures the guide links to, in book
    order: each experiment module's ``FIGURES``. A target placed before a figure cell has no
    caption, so every {ref} to it names its text."""
    return {label: title for module in ev.experiment_modules() for label, title in
            getattr(module, "FIGURES", {}).items()}


def figure_link(label: str) -> str:
    """A MyST link to a figure target, with its text (a bare {ref} to it would not resolve)."""
    return f"{{ref}}`{figure_titles()[label]} <{label}>`"


@dataclass(frozen=True)
class Advice:
    """One piece of advice and the declared claims that test it.

    Attributes:
        key: short name.
        situation: the chart's branch, e.g. ``'Pre-trained with SimCLR'`` (may hold newlines).
        advice: the chart's leaf (may hold newlines).
        text: the advice in prose (MyST markdown), written to read true whatever the verdicts;
            the page adds the computed status of its evidence after it.
        claims: ids of the claims that test it (every one must be declared).
    """

    key: str
    situation: str
    advice: str
    text: str
    claims: tuple


ADVICE = (
    Advice("ssl-layer", "Pre-trained with SimCLR\nor another SSL loss",
           "probe h (below the head),\nnot z",
           "**After self-supervised pre-training, probe the layer below the head.** The "
           "contrastive loss is computed at the head's output $z$; the claim is that the encoder "
           "output $h$ keeps more of what a downstream task needs, and that training with the "
           "head makes $h$ better than training without one.",
           ("ch1-h-beats-z", "ch1-head-helps-h")),
    Advice("which-layer", "A linear model of it:\nwhen does the lower\nlayer win?",
           "h when the augmentation\ndisrupts the target or it\nis strong; else z",
           "**Which layer wins depends on how pre-training treated the feature the task needs.** "
           "In the deep linear model of Chapters 2 and 3, the claim (the paper's corollary as its "
           "reviews summarise it, and the book's derivation) is that the layer before the head wins "
           "for a tuned probe when the augmentation disrupts the target feature or the feature is "
           "strong in pre-training, and loses when it is moderate.",
           ("ch3-disrupted-target", "ch3-strong-target", "ch3-moderate-target")),
    Advice("suppressed-feature", "The task needs a feature\nthe augmentations remove",
           "look at h or lower:\na non-linear net keeps it\nbelow the head",
           "**If the downstream task needs a feature the augmentations suppress, look below the "
           "head.** A non-linear network can keep such a feature below the head and drop it at "
           "the output, which a linear network cannot; on images, a digit the augmentation "
           "removes from one view would be read better at $h$ than at $z$, more so the more often "
           "the views disagree about it.",
           ("ch5-relu-keeps-sign-below", "ch5-linear-cannot", "ch5-digit-h-beats-z",
            "ch5-digit-gap-grows")),
    Advice("finer-labels", "Pre-trained with labels\n(cross-entropy, SupCon)",
           "labels finer than the\ntraining labels:\nprobe h, not z",
           "**After supervised pre-training, look for labels finer than the training labels "
           "below the head.** Training on coarse labels pushes the top layer to merge the "
           "sub-classes of a coarse class (class collapse); the claim is that the layer below the "
           "head keeps them, with cross-entropy and with SupCon, and that the head is what "
           "protects $h$.",
           ("ch6-fine-h-beats-z-ce", "ch6-fine-h-beats-z-supcon", "ch6-head-helps-fine-ce",
            "ch6-head-helps-fine-supcon")),
    Advice("shortcuts-dfr", "Spurious cues in training,\na small group-balanced\nvalidation set",
           "retrain the last layer\n(DFR) on h",
           "**Against spurious cues, retrain the last layer on the pre-projection layer, with "
           "group-balanced validation data.** Last-layer retraining (DFR) reads the layer it is "
           "given; the claim is that the layer below the head keeps more of the cues that are not "
           "the shortcut, so DFR on $h$ has a better worst group than DFR on $z$.",
           ("ch7-dfr-h-beats-z",)),
    Advice("whac-a-mole", "Several shortcuts\nat once",
           "measure every gap:\nmitigating one can\namplify another; LLE",
           "**With several shortcuts, measure every gap, and mitigate them together.** The "
           "Whac-A-Mole claim is that a mitigation aimed at one shortcut raises the reliance on "
           "another, in both directions; the Last Layer Ensemble is proposed as a way to reduce "
           "both at once.",
           ("ch7-wam-bg-raises-coobj", "ch7-wam-coobj-raises-bg", "ch7-lle-beats-erm",
            "ch7-lle-e2e-beats-erm")),
    Advice("fixed-head", "You want to control\nwhat the head drops",
           "fixed reweighting head;\nchoose k on validation,\nnever on test",
           "**To control what the head throws away, try the fixed reweighting head and choose "
           "its strength on a validation split.** The claim is that a fixed head that down-weights "
           "the later coordinates gives a better $h$ for labels finer than the training labels "
           "than a trained MLP head, and than no head at all.",
           ("ch8-supcon-fixed-beats-mlp", "ch8-supcon-fixed-beats-none",
            "ch8-ce-fixed-beats-mlp", "ch8-ce-fixed-beats-none")),
)


@dataclass(frozen=True)
class AdviceStatus:
    """A piece of advice with the ledger rows of its claims and their combined status."""

    advice: Advice
    rows: tuple  # helpers.evidence.Row, one per claim of the advice (declared order)

    @property
    def status(self) -> str:
        return ev.combined_verdict(r.verdict for r in self.rows)


def collect(profile=None, modules=None) -> list[ev.Row]:
    """The ledger rows of every declared claim, from the results stored for ``profile``."""
    return ev.collect(profile, modules)


def advice_status(rows, advice=ADVICE) -> list[AdviceStatus]:
    """Each piece of advice with its claims' rows.

    Raises:
        ValueError: an advice names a claim no experiment module declares.
    """
    by_id = {r.claim.id: r for r in rows}
    out = []
    for a in advice:
        missing = [c for c in a.claims if c not in by_id]
        if missing:
            raise ValueError(f"advice {a.key!r} names claims no experiment declares: {missing}; "
                             f"declared: {sorted(by_id)}")
        out.append(AdviceStatus(a, tuple(by_id[c] for c in a.claims)))
    return out


def stand_in(row: ev.Row) -> bool:
    """True when the row's data is synthetic or a procedural stand-in for a real data set."""
    return row.data is not None and row.data not in REAL_DATA


def evidence_table(rows) -> str:
    """Every claim as a markdown table row, figures linked (:func:`helpers.evidence.table_markdown`)."""
    return ev.table_markdown(rows, link=figure_link)


_STATUS_TEXT = {
    ev.SUPPORTED: "every claim behind it is supported by these runs",
    ev.CONTRADICTED: "these runs **contradict** at least one claim behind it, so at this scale "
                     "the advice does not hold as stated",
    ev.INCONCLUSIVE: "at least one claim behind it is **inconclusive** here (its interval "
                     "includes 0), so these runs do not establish the advice",
    ev.STAND_IN_FAILED: "the stand-in behind at least one of its claims failed its structure "
                        "check, so these runs do not test the advice",
    ev.TOO_FEW_SEEDS: "at least one claim behind it was measured on one seed only (the smoke "
                      "profile): no verdict, so these runs do not establish the advice",
    ev.NOT_COMPUTED: "at least one claim behind it has no stored result at this profile: run its "
                     "chapter first (the guide never trains)",
}


def _row_line(row: ev.Row) -> str:
    c, e = row.claim, row.evidence
    where = f"profile {row.profile}" + (f", data {row.data}" if row.data else "")
    where += " (stand-in)" if stand_in(row) else ""
    if e is None:
        return f"  * `{c.id}` ({c.compared}): {row.verdict} ({where})"
    return (f"  * `{c.id}` ({c.compared}): {ev.interval_text(c, e)}, **{row.verdict}** "
            f"({where}; {figure_link(c.figure) if c.figure else c.chapter})")


def advice_markdown(statuses) -> str:
    """Each piece of advice, numbered, followed by the computed status of its evidence and one
    line per claim (effect, interval, seeds, verdict, where measured)."""
    blocks = []
    for k, s in enumerate(statuses, 1):
        lines = [f"**{k}.** {s.advice.text}", "",
                 f"*Evidence in this build: {s.status}* - {_STATUS_TEXT[s.status]}:", ""]
        lines += [_row_line(r) for r in s.rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


COLOURS = {ev.SUPPORTED: "#009E73", ev.INCONCLUSIVE: "#E69F00", ev.CONTRADICTED: "#D55E00",
           ev.STAND_IN_FAILED: "#999999", ev.TOO_FEW_SEEDS: "#CC79A7",
           ev.NOT_COMPUTED: "#BBBBBB"}


def leaf_summary(status: AdviceStatus) -> str:
    """'2 of 3 claims supported' over the claims of one leaf."""
    n = sum(r.verdict == ev.SUPPORTED for r in status.rows)
    return f"{n} of {len(status.rows)} claims supported"


def plot_decision_chart(statuses, caption: str = ""):
    """The decision chart: one branch per piece of advice, each leaf coloured by its status."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Patch

    from helpers import plots

    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 2.0 * len(statuses) + 0.5)), 4.8))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    width = min(0.225, 0.9 / max(1, len(statuses)))

    def box(x, y, text, colour, w=width, height=0.17):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - height / 2), w, height,
                                    boxstyle="round,pad=0.01", fc=colour, ec="0.3", alpha=0.9))
        ax.text(x, y, text, ha="center", va="center", fontsize=7.5)

    box(0.5, 0.9, "Which representation do I use\nafter pre-training with a head?", "#DDEEFF",
        w=0.34, height=0.12)
    xs = np.linspace(0.5 / len(statuses), 1 - 0.5 / len(statuses), len(statuses))
    for x, s in zip(xs, statuses):
        ax.annotate("", (x, 0.64), (0.5, 0.84), arrowprops=dict(arrowstyle="->", color="0.4"))
        box(x, 0.58, s.advice.situation, "#F2F2F2", height=0.12)
        ax.annotate("", (x, 0.45), (x, 0.52), arrowprops=dict(arrowstyle="->", color="0.4"))
        box(x, 0.3, f"{s.advice.advice}\n\nevidence: {s.status}\n{leaf_summary(s)}",
            COLOURS[s.status], height=0.3)
    ax.text(0.5, 0.07, "Always: when it is cheap, probe several layers on a validation split "
            "and keep the best (Chapter 3).", ha="center", fontsize=9, style="italic")
    ax.set_ylim(0.03, 0.97)
    ax.legend(handles=[Patch(fc=COLOURS[v], ec="0.3", label=v) for v in COLOURS],
              loc="upper left", fontsize=8, title="evidence", title_fontsize=8, frameon=False,
              bbox_to_anchor=(0.0, 1.02))
    if caption:
        plots.add_caption(fig, caption)
    return fig
