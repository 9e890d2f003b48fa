"""The practitioner's guide: grades, verdicts, loading only stored results, and links that exist."""

import re
from pathlib import Path

import numpy as np
import pytest

from helpers import guide
from helpers.results import load_or_compute

BOOK = Path(__file__).resolve().parents[1] / "book"


def _prov(profile="cpu", data="shapes"):
    return {"profile": profile, "data_source": data, "device": "CPU", "seed": 0}


def _finding(below, top, **prov):
    return guide.Finding(key="k", question="q", chapter="01-the-puzzle", figure="ch01-fig-layers",
                         measure="m", below_name="h", below=np.asarray(below, float),
                         top=np.asarray(top, float), provenance=_prov(**prov))


def test_grades_follow_the_rules():
    assert _finding([80, 81, 82], [60, 61, 59]).strength == "clear"
    assert _finding([80, 70, 90], [79, 72, 85]).strength == "mixed"  # within the seed spread
    # paired: seeds differ in level, but h - z is the same in every seed
    assert _finding([50, 70, 90], [48, 68, 88.5]).strength == "clear"
    assert _finding([80, 81], [60, 61]).strength == "weak"  # two seeds
    assert _finding([80, 81, 82], [60, 61, 59], profile="smoke").strength == "weak"
    missing = guide.Finding(key="k", question="q", chapter="05-x", figure="f", measure="m",
                            below_name="h")
    assert missing.strength == "not computed" and missing.supports is None
    assert "05-x" in missing.verdict()


def test_verdict_support_and_stand_in():
    f = _finding([80, 82, 84], [70, 70, 70])
    assert f.difference == pytest.approx(12.0)
    assert f.verdict().startswith("h better by 12.0 points") and f.supports
    assert _finding([70, 70, 70], [80, 80, 80]).supports is False
    assert _finding([70.0], [70.0]).verdict().startswith("no difference")
    assert _finding([70.0], [70.0]).supports  # a tie does not go against the advice
    assert _finding([1], [0]).stand_in and not _finding([1], [0], data="cifar10").stand_in
    assert "(stand-in)" in _finding([1], [0]).where()


def test_leaf_takes_the_weakest_grade():
    clear = _finding([80, 81, 82], [60, 61, 59])
    weak = guide.Finding(**{**clear.__dict__, "key": "w", "provenance": _prov(profile="smoke")})
    assert guide.leaf_strength([clear, weak], ("k",)) == "clear"
    assert guide.leaf_strength([clear, weak], ("k", "w")) == "weak"
    assert guide.leaf_support([clear, weak], ("k", "w")) == "2 of 2 runs agree"


def test_collect_reads_stored_results_and_never_computes(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    spec = guide.Spec("toy", "q?", "puzzle", "01-the-puzzle", "ch01-fig-layers", "class probe",
                      "h", lambda p: (np.array(p["h"]), np.array(p["z"])))
    assert guide.collect("smoke", specs=(spec,))[0].strength == "not computed"
    load_or_compute("puzzle", lambda cfg, seed: {"h": [0.9, 0.8, 0.85], "z": [0.5, 0.6, 0.55]},
                    profile="smoke", verbose=False)
    (found,) = guide.collect("smoke", specs=(spec,))
    assert found.computed and found.provenance["profile"] == "smoke"
    assert found.difference == pytest.approx(np.mean([0.4, 0.2, 0.3]))
    bad = guide.Spec(**{**spec.__dict__, "extract": lambda p: (np.zeros(3), np.zeros(2))})
    with pytest.raises(ValueError, match="two equal"):
        guide.collect("smoke", specs=(bad,))


def test_every_specs_figure_target_exists_in_its_chapter():
    for spec in guide.registered_specs():
        text = (BOOK / f"{spec.chapter}.ipynb").read_text()
        assert f"({spec.figure})=" in text, f"{spec.figure} is not a target in {spec.chapter}"


def test_specs_and_figures_come_from_their_experiments_modules():
    """Each experiment module declares its own findings and figure titles, in book order."""
    from helpers import experiments

    order = experiments.names()
    specs = guide.registered_specs()
    for entry in experiments.EXPERIMENTS:
        module = entry.load()
        for spec in getattr(module, "GUIDE", ()):
            assert spec.experiment == entry.name, f"{entry.module} declares a spec of {spec.experiment}"
            assert spec.figure in getattr(module, "FIGURES", {}), f"{spec.key}: {spec.figure}"
    assert [order.index(s.experiment) for s in specs] == sorted(order.index(s.experiment) for s in specs)
    assert len({s.key for s in specs}) == len(specs)  # keys unique
    assert len(guide.figure_titles()) == sum(len(getattr(e.load(), "FIGURES", {}))
                                             for e in experiments.EXPERIMENTS)  # labels unique


def test_every_reference_on_the_guide_page_exists():
    targets = {t for nb in BOOK.glob("[0-9]*.ipynb") for t in re.findall(r"\((ch\d\d-fig-[\w-]+)\)=", nb.read_text())}
    page = (BOOK / "back" / "guide.ipynb").read_text()
    refs = set(re.findall(r"\{ref\}`[^`<]+<([\w-]+)>`", page))
    assert refs and refs <= targets, f"unknown targets: {sorted(refs - targets)}"
    # a bare {ref}`label` to a target without a caption does not resolve
    assert not re.findall(r"\{ref\}`[\w-]+`", page)
    assert set(guide.figure_titles()) <= targets and guide.figure_link("ch01-fig-layers").endswith(
        "<ch01-fig-layers>`")
    chart_keys = {k for _, keys, _ in guide.CHART for k in keys}
    assert chart_keys == {s.key for s in guide.registered_specs()}


def test_decision_chart_draws(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    findings = [_finding([80, 81, 82], [60, 61, 59])]
    findings = [guide.Finding(**{**findings[0].__dict__, "key": s.key}) for s in guide.registered_specs()]
    fig = guide.plot_decision_chart(findings, "caption")
    assert len(fig.axes) == 1


def test_a_committed_result_of_older_code_is_marked_in_the_guide(tmp_path, monkeypatch):
    """Issue 20: a stale result is never shown as current, in the guide's table either."""
    import helpers

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    spec = guide.Spec("toy", "q?", "puzzle", "01-the-puzzle", "ch01-fig-layers", "class probe",
                      "h", lambda p: (np.array(p["h"]), np.array(p["z"])))
    with monkeypatch.context() as old_code:
        old_code.setattr(helpers, "__version__", "0.0.1-old")
        load_or_compute("puzzle", lambda cfg, seed: {"h": [0.9, 0.8, 0.85], "z": [0.5, 0.6, 0.55]},
                        profile="paper", verbose=False)
    (found,) = guide.collect("cpu", specs=(spec,))
    assert found.computed and "older version of the code" in found.where()
    assert "older version of the code" in guide.table_markdown([found])
