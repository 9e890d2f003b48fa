"""The practitioner's guide: advice conditioned on computed verdicts, read from stored results."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import evidence as ev
from helpers import guide
from helpers.results import load_or_compute

BOOK = Path(__file__).resolve().parents[1] / "book"


def _claim(cid, figure="ch01-fig-layers"):
    return ev.Claim(id=cid, chapter="01-the-puzzle", paper="Xue2024", statement=f"claim {cid}",
                    compared="h minus z", direction=+1, min_effect=1.0, figure=figure)


def _row(cid, a, b, profile="cpu", data="shapes"):
    return ev.Row(_claim(cid), ev.paired_effect(a, b), profile, data)


SUPPORTED = ([80, 81, 82, 83, 84], [60, 61, 59, 62, 60])
INCONCLUSIVE = ([80, 70, 90, 75, 85], [79, 72, 85, 80, 82])
CONTRADICTED = ([60, 61, 59, 62, 60], [80, 81, 82, 83, 84])


def _advice(*claims):
    return guide.Advice("a", "situation", "leaf", "Some advice.", tuple(claims))


def test_advice_status_is_supported_only_when_every_claim_is():
    rows = [_row("x", *SUPPORTED), _row("y", *INCONCLUSIVE), _row("w", *CONTRADICTED)]
    (both,) = guide.advice_status(rows, [_advice("x", "y")])
    assert [r.verdict for r in both.rows] == [ev.SUPPORTED, ev.INCONCLUSIVE]
    assert both.status == ev.INCONCLUSIVE  # no "within one SD counts as agreeing"
    assert guide.advice_status(rows, [_advice("x")])[0].status == ev.SUPPORTED
    assert guide.advice_status(rows, [_advice("x", "w")])[0].status == ev.CONTRADICTED
    assert guide.leaf_summary(both) == "1 of 2 claims supported"
    missing = ev.Row(_claim("m"), None, "cpu", None)
    assert guide.advice_status([missing], [_advice("m")])[0].status == ev.NOT_COMPUTED


def test_advice_text_says_when_its_evidence_does_not_hold():
    rows = [_row("x", *SUPPORTED), _row("y", *CONTRADICTED)]
    good = guide.advice_markdown(guide.advice_status(rows, [_advice("x")]))
    bad = guide.advice_markdown(guide.advice_status(rows, [_advice("x", "y")]))
    assert "Evidence in this build: supported" in good and "contradict" not in good
    assert "Evidence in this build: contradicted" in bad and "does not hold as stated" in bad
    assert "`y`" in bad and "**contradicted**" in bad and "(stand-in)" in bad


def test_an_advice_naming_an_undeclared_claim_is_an_error():
    with pytest.raises(ValueError, match="no experiment declares"):
        guide.advice_status([_row("x", *SUPPORTED)], [_advice("x", "typo")])


def test_every_advice_claim_is_declared_and_every_claim_is_in_the_ledger():
    declared = {c.id for _, c in ev.declared_claims(ev.experiment_modules())}
    used = {c for a in guide.ADVICE for c in a.claims}
    assert used <= declared, sorted(used - declared)
    assert len({a.key for a in guide.ADVICE}) == len(guide.ADVICE)


def test_collect_reads_stored_results_and_never_computes(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    module = SimpleNamespace(__name__="toy", EXPERIMENT="puzzle", CLAIMS=[_claim("toy-h-z")],
                             claim_values=lambda p: {"toy-h-z": (np.array(p["h"]), np.array(p["z"]))})
    (row,) = guide.collect("smoke", modules=[module])
    assert row.verdict == ev.NOT_COMPUTED
    load_or_compute("puzzle", lambda cfg, seed: {"h": [90, 80, 85], "z": [50, 60, 55]},
                    profile="smoke", verbose=False)
    (row,) = guide.collect("smoke", modules=[module])
    assert row.profile == "smoke" and row.evidence.effect == pytest.approx(30.0)


def test_every_claims_figure_target_exists_in_its_chapter():
    for _, claim in ev.declared_claims(ev.experiment_modules()):
        if claim.figure:
            text = (BOOK / f"{claim.chapter}.ipynb").read_text()
            assert f"({claim.figure})=" in text, f"{claim.figure} is not a target in {claim.chapter}"


def test_every_reference_on_the_guide_page_exists():
    targets = {t for nb in BOOK.glob("[0-9]*.ipynb") for t in re.findall(r"\((ch\d\d-fig-[\w-]+)\)=", nb.read_text())}
    page = (BOOK / "back" / "guide.ipynb").read_text()
    refs = set(re.findall(r"\{ref\}`[^`<]+<([\w-]+)>`", page))
    assert refs <= targets, f"unknown targets: {sorted(refs - targets)}"
    # a bare {ref}`label` to a target without a caption does not resolve
    assert not re.findall(r"\{ref\}`[\w-]+`", page)
    assert set(guide.figure_titles()) <= targets and guide.figure_link("ch01-fig-layers").endswith(
        "<ch01-fig-layers>`")


def test_decision_chart_draws():
    import matplotlib

    matplotlib.use("Agg")
    rows = [ev.Row(_claim(c), None, "cpu", None) for a in guide.ADVICE for c in a.claims]
    fig = guide.plot_decision_chart(guide.advice_status(rows), "caption")
    assert len(fig.axes) == 1


def test_a_committed_result_of_older_code_is_marked_in_the_guide(tmp_path, monkeypatch):
    """Issue 20: a stale result is never shown as current, in the guide's table either."""
    import helpers

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    module = SimpleNamespace(__name__="toy", EXPERIMENT="puzzle", CLAIMS=[_claim("toy-h-z")],
                             claim_values=lambda p: {"toy-h-z": (np.array(p["h"]), np.array(p["z"]))})
    with monkeypatch.context() as old_code:
        old_code.setattr(helpers, "__version__", "0.0.1-old")
        load_or_compute("puzzle", lambda cfg, seed: {"h": [90, 80, 85], "z": [50, 60, 55]},
                        profile="paper", verbose=False)
    (row,) = guide.collect("cpu", modules=[module])
    assert row.stale and "older code" in guide.evidence_table([row])
