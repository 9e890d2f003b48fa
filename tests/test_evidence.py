"""Claims, paired effects, verdicts and the ledger (helpers/evidence.py).

Oracles: a hand computation of the t-interval, scipy's paired t-test, a naive loop for the
standard deviation. The CLI runs on a temporary results folder holding a stored payload.
"""

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from helpers import evidence as ev
from helpers import results
from helpers.evidence import Claim, paired_effect, verdict

ROOT = Path(__file__).resolve().parent.parent

H_BEATS_Z = Claim(id="ch1-h-beats-z", chapter="01-the-puzzle", paper="Xue2024",
                  statement="the pre-projection layer h holds more class information than z",
                  compared="probe accuracy at h minus at z, same network, same test set",
                  direction=+1, min_effect=1.0, units="points")

# A worked example of how an experiment module declares its claims (Chapter 1's payload:
# payload['layers'] names the layers, payload['accuracy'] is (n_seeds, n_layers), fractions).
FAKE_MODULE = '''
import numpy as np
from helpers.evidence import Claim

EXPERIMENT = "puzzle"
CLAIMS = [Claim(id="ch1-h-beats-z", chapter="01-the-puzzle", paper="Xue2024",
                statement="the pre-projection layer h holds more class information than z",
                compared="probe accuracy at h minus at z, same network, same test set",
                direction=+1, min_effect=1.0, units="points")]


def claim_values(payload):
    acc = np.asarray(payload["accuracy"])  # (n_seeds, n_layers), fractions
    h, z = payload["layers"].index("h"), payload["layers"].index("z")
    return {"ch1-h-beats-z": (100 * acc[:, h], 100 * acc[:, z])}  # points, paired by seed
'''

# h - z per seed, in points: 1, 2, 3, 4, 5 (mean 3; interval worked out by hand below).
FAKE_PAYLOAD = {"layers": ["stage1", "h", "z"],
                "accuracy": [[0.30, 0.51, 0.50], [0.30, 0.52, 0.50], [0.30, 0.53, 0.50],
                             [0.30, 0.54, 0.50], [0.30, 0.55, 0.50]]}


# ---------------------------------------------------------------- the interval

def test_interval_by_hand():
    # differences 1..5: mean 3, sd = sqrt(10 / 4), t(0.975, 4) = 2.7764451...
    e = paired_effect([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert e.n_seeds == 5 and e.differences == (1, 2, 3, 4, 5)
    assert e.effect == pytest.approx(3.0)
    assert (e.ci_low, e.ci_high) == pytest.approx((3 - half, 3 + half), abs=1e-12)
    assert (e.ci_low, e.ci_high) == pytest.approx((1.036757, 4.963243), abs=1e-6)


def test_two_seeds_exact():
    # differences 1 and 3: mean 2, sd sqrt(2), se 1, t(0.975, 1) = 12.7062047...
    e = paired_effect([1.0, 3.0], [0.0, 0.0])
    assert (e.ci_low, e.ci_high) == pytest.approx((2 - 12.706204736174, 2 + 12.706204736174))


@pytest.mark.parametrize("n", [2, 3, 5, 10, 40])
def test_interval_matches_scipy_paired_t_test(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(1, 2, n), rng.normal(0, 2, n)
    e = paired_effect(a, b)
    ci = stats.ttest_rel(a, b).confidence_interval(confidence_level=0.95)
    assert (e.ci_low, e.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))  # naive loop, ddof = 1
    assert e.ci_high - e.effect == pytest.approx(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n))


def test_constant_differences_give_zero_width():
    e = paired_effect([3.0, 4.0, 5.0], [2.0, 3.0, 4.0])
    assert (e.effect, e.ci_low, e.ci_high) == pytest.approx((1.0, 1.0, 1.0))


def test_convention_is_stated():
    assert ev.CONFIDENCE == 0.95
    assert "t-interval" in ev.INTERVAL_CONVENTION and "ddof=1" in ev.INTERVAL_CONVENTION


# ---------------------------------------------------------------- verdicts

def test_supported():
    e = paired_effect([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert verdict(H_BEATS_Z, e) == "supported"
    assert ev.reaches_min_effect(H_BEATS_Z, e)


def test_contradicted():
    # z beats h on every seed, clearly: the paper's direction is wrong here.
    e = paired_effect([50, 51, 49, 50, 52], [52.0, 53.5, 51.5, 53.0, 54.0])
    assert e.ci_high < 0
    assert verdict(H_BEATS_Z, e) == "contradicted"
    assert not ev.reaches_min_effect(H_BEATS_Z, e)


def test_inconclusive():
    e = paired_effect([1.0, -2.0, 3.0, 0.5, -1.0], [0.0] * 5)
    assert e.ci_low < 0 < e.ci_high
    assert verdict(H_BEATS_Z, e) == "inconclusive"


def test_two_seeds_with_a_clear_mean_are_still_inconclusive():
    e = paired_effect([1.0, 3.0], [0.0, 0.0])
    assert verdict(H_BEATS_Z, e) == "inconclusive" and ev.reaches_min_effect(H_BEATS_Z, e)


def test_all_zero_differences_are_inconclusive():
    assert verdict(H_BEATS_Z, paired_effect([1, 2, 3], [1, 2, 3])) == "inconclusive"


def test_negative_direction_flips_the_verdict():
    lower = Claim(**{**H_BEATS_Z.__dict__, "id": "lower", "direction": -1})
    e = paired_effect([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert verdict(lower, e) == "contradicted"
    assert verdict(lower, paired_effect([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])) == "supported"


def test_supported_but_smaller_than_what_matters():
    big = Claim(**{**H_BEATS_Z.__dict__, "min_effect": 5.0})
    e = paired_effect([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])  # mean 3 < 5
    assert verdict(big, e) == "supported" and not ev.reaches_min_effect(big, e)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("a, b, error, match", [
    ([1.0], [0.0], ValueError, "at least 2 seeds"),
    ([], [], ValueError, "at least 2 seeds"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], ValueError, "paired by seed"),
    ([1.0, float("nan"), 3.0], [0.0, 0.0, 0.0], ValueError, r"NaN .* seeds \[1\]"),
    ([1.0, float("inf")], [0.0, 0.0], ValueError, "NaN or infinite"),
    ([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], ValueError, r"shape \(n_seeds,\)"),
    (["1", "2"], [0.0, 0.0], TypeError, "must be numbers"),
    ([1.0, None], [0.0, 0.0], TypeError, "None in a stored payload"),
    ([True, False], [0.0, 0.0], TypeError, "must be numbers"),
    (3.0, 2.0, ValueError, r"shape \(n_seeds,\)"),
])
def test_bad_input(a, b, error, match):
    with pytest.raises(error, match=match):
        paired_effect(a, b)


@pytest.mark.parametrize("field, value, match", [
    ("direction", 0, "direction"), ("direction", 2, "direction"), ("direction", True, "direction"),
    ("min_effect", -1.0, "min_effect"), ("min_effect", float("nan"), "min_effect"),
    ("id", "", "Claim.id"), ("statement", "  ", "Claim.statement"), ("paper", None, "Claim.paper"),
])
def test_bad_claim(field, value, match):
    with pytest.raises(ValueError, match=match):
        Claim(**{**H_BEATS_Z.__dict__, field: value})


# ---------------------------------------------------------------- what the page prints

CASES = {"supported": ([2, 4, 6, 8, 10], [1, 2, 3, 4, 5]),
         "contradicted": ([50, 51, 49, 50, 52], [52.0, 53.5, 51.5, 53.0, 54.0]),
         "inconclusive": ([1.0, -2.0, 3.0, 0.5, -1.0], [0.0] * 5)}
VERDICT_WORDS = {"supported": "support the claim", "contradicted": "contradict the claim",
                 "inconclusive": "inconclusive"}


@pytest.mark.parametrize("expected", list(CASES))
def test_finding_sentence_follows_the_verdict(expected):
    e = paired_effect(*CASES[expected])
    assert verdict(H_BEATS_Z, e) == expected
    text = ev.finding(H_BEATS_Z, e, "cpu", "shapes")
    assert text.startswith("Probe accuracy at h minus at z, same network, same test set: ")
    assert f"{e.effect:+.1f} points" in text
    assert f"95 % CI over seeds {e.ci_low:+.1f} to {e.ci_high:+.1f}, 5 seeds" in text
    assert "profile cpu, data shapes" in text
    assert VERDICT_WORDS[expected] in text
    for other, words in VERDICT_WORDS.items():  # never two verdicts in one sentence
        if other != expected:
            assert words not in text
    reaches = "is at least" if ev.reaches_min_effect(H_BEATS_Z, e) else "is short of"
    assert f"mean effect {reaches} the smallest effect that would matter (+1.0 points)" in text


def test_finding_when_not_computed():
    text = ev.finding(H_BEATS_Z, None, "cpu", "shapes")
    assert "not computed" in text and "profile cpu, data shapes" in text
    assert not any(w in text for w in VERDICT_WORDS.values())


def test_reproduction_box():
    e = paired_effect(*CASES["supported"])
    box = ev.reproduction_box(H_BEATS_Z, e, "cpu", "shapes",
                              "Table 1: 70.1 % at h, 66.0 % at z (CIFAR-10)",
                              "a width-8 ResNet-18 on 2,048 procedural shapes, 30 epochs")
    assert box.startswith("**Reproduction: ch1-h-beats-z**")
    assert "- **Paper (Xue2024)**: Table 1: 70.1 % at h, 66.0 % at z (CIFAR-10)" in box
    assert ("- **This book**: +3.0 points (95 % CI over seeds +1.0 to +5.0, 5 seeds); "
            "profile cpu, data shapes; verdict: supported") in box
    assert "- **Where we differ and why**: a width-8 ResNet-18" in box
    plain = ev.reproduction_box(H_BEATS_Z, e, "cpu", "shapes", None, "scale", markdown=False)
    assert "**" not in plain and "the paper gives no number" in plain
    assert "not computed" in ev.reproduction_box(H_BEATS_Z, None, "cpu", "shapes", None, "scale")
    with pytest.raises(ValueError, match="where we differ"):
        ev.reproduction_box(H_BEATS_Z, e, "cpu", "shapes", None, " ")


# ---------------------------------------------------------------- the ledger

@pytest.fixture
def stored(tmp_path, monkeypatch):
    """A results folder holding one stored cpu result of 'puzzle' (the fake payload)."""
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("BOOK_RECOMPUTE", raising=False)
    results.load_or_compute("puzzle", lambda cfg, seed: FAKE_PAYLOAD, profile="cpu",
                            verbose=False)
    (tmp_path / "fake_claims.py").write_text(FAKE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_claims", None)
    return tmp_path


def fake_module(claim_values, claims=(H_BEATS_Z,), name="fake"):
    return SimpleNamespace(__name__=name, EXPERIMENT="puzzle", CLAIMS=list(claims),
                           claim_values=claim_values)


def test_collect_from_a_stored_payload(stored):
    import fake_claims

    (row,) = ev.collect("cpu", [fake_claims])
    assert (row.profile, row.data, row.verdict) == ("cpu", "shapes", "supported")
    assert row.evidence.effect == pytest.approx(3.0)
    assert row.evidence.differences == pytest.approx((1, 2, 3, 4, 5))


def test_not_computed_when_nothing_is_stored(stored):
    import fake_claims

    (row,) = ev.collect("smoke", [fake_claims])  # only a cpu result is stored
    assert row.verdict == "not computed" and row.evidence is None
    assert row.as_json() == {"chapter": "01-the-puzzle", "claim": "ch1-h-beats-z",
                             "effect": None, "ci_low": None, "ci_high": None, "n_seeds": 0,
                             "verdict": "not computed", "profile": "smoke", "data": None}


def test_cli_table_and_json_in_process(stored, capsys):
    assert ev.main(["--profile", "cpu", "--module", "fake_claims"]) == 0
    out = capsys.readouterr().out
    header, rule, line = out.splitlines()[:3]
    assert header.split() == ["chapter", "claim", "effect", "ci_low", "ci_high", "n_seeds",
                              "verdict", "profile", "data", "matters"]
    assert set(rule) <= {"-", " "}
    assert line.split() == ["01-the-puzzle", "ch1-h-beats-z", "+3.0", "+1.0", "+5.0", "5",
                            "supported", "cpu", "shapes", "yes"]
    assert ev.main(["--profile", "cpu", "--module", "fake_claims", "--json"]) == 0
    (obj,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert tuple(obj) == ev.JSON_KEYS
    assert obj["effect"] == pytest.approx(3.0) and obj["n_seeds"] == 5


def test_cli_as_a_command(stored):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(stored)]),
           "BOOK_PROFILE": "cpu"}

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "helpers.evidence", *args], env=env,
                              capture_output=True, text=True, cwd=stored)
        assert done.returncode == 0, done.stderr
        return done.stdout

    (obj,) = [json.loads(x) for x in run("--json", "--module", "fake_claims").splitlines()]
    assert set(obj) == {"chapter", "claim", "effect", "ci_low", "ci_high", "n_seeds", "verdict",
                        "profile", "data"}
    assert (obj["claim"], obj["verdict"], obj["n_seeds"], obj["profile"], obj["data"]) == \
        ("ch1-h-beats-z", "supported", 5, "cpu", "shapes")
    assert (obj["ci_low"], obj["ci_high"]) == pytest.approx((1.036757, 4.963243), abs=1e-6)
    table = run("--module", "fake_claims")
    assert re.search(r"ch1-h-beats-z\s+\+3\.0\s+\+1\.0\s+\+5\.0\s+5\s+supported\s+cpu\s+shapes",
                     table)
    assert "t-interval" in table


def test_stale_payload_gives_a_clear_error(stored):
    def needs_a_field_the_payload_lacks(payload):
        return {"ch1-h-beats-z": (payload["h_accuracy"], payload["z_accuracy"])}

    with pytest.raises(ValueError, match=r"cannot read the stored result .*python -m helpers.run"
                                         r" puzzle"):
        ev.collect("cpu", [fake_module(needs_a_field_the_payload_lacks)])


def test_extractor_must_return_exactly_the_declared_claims(stored):
    with pytest.raises(ValueError, match="declares"):
        ev.collect("cpu", [fake_module(lambda p: {})])


def test_bad_stored_values_name_the_claim(stored):
    bad = {"ch1-h-beats-z": ([1.0, float("nan")], [0.0, 0.0])}
    with pytest.raises(ValueError, match="claim ch1-h-beats-z .*NaN"):
        ev.collect("cpu", [fake_module(lambda p: bad)])


def test_one_seed_is_shown_but_not_graded(stored, capsys):
    one = fake_module(lambda p: {"ch1-h-beats-z": ([51.0], [50.0])})
    (row,) = ev.collect("cpu", [one])
    assert (row.verdict, row.n_seeds, row.evidence) == ("too few seeds", 1, None)
    assert row.as_json()["n_seeds"] == 1 and row.as_json()["effect"] is None
    text = ev.finding(row.claim, row.evidence, row.profile, row.data, row.n_seeds)
    assert "measured on 1 seed only (profile cpu, data shapes)" in text and "no verdict" in text
    assert "too few seeds (1), no verdict" in ev.reproduction_box(
        row.claim, None, "cpu", "shapes", None, "scale", n_seeds=1)
    with pytest.raises(ev.TooFewSeedsError, match="claim ch1-h-beats-z .*at least 2 seeds"):
        ev.evaluate(one, {})


def test_stale_result_is_marked_in_the_table():
    e = paired_effect(*CASES["supported"])
    rows = [ev.Row(H_BEATS_Z, e, "gpu", "cifar10", stale="computed by helpers 0.1, puzzle v0")]
    lines = ev.table_text(rows).splitlines()
    assert lines[2].split()[7] == "gpu*"
    assert lines[3] == "* ch1-h-beats-z: computed by helpers 0.1, puzzle v0"
    assert ev.table_text([ev.Row(H_BEATS_Z, e, "gpu", "cifar10")]).count("*") == 0


def test_module_rows_for_a_chapter(stored):
    import fake_claims

    (row,) = ev.module_rows(fake_claims, FAKE_PAYLOAD, {"profile": "gpu", "data_source": "cifar10"})
    assert (row.verdict, row.profile, row.data, row.n_seeds) == ("supported", "gpu", "cifar10", 5)


def test_duplicate_claim_ids_are_refused():
    one, two = fake_module(None, name="one"), fake_module(None, name="two")
    one.claim_values = two.claim_values = lambda p: {}
    with pytest.raises(ValueError, match="declared by both one and two"):
        ev.declared_claims([one, two])


def test_registry_list_is_honoured(monkeypatch):
    import helpers.experiments as package

    entry = lambda name, module, seed=0: SimpleNamespace(name=name, module=module, seed=seed)
    monkeypatch.setattr(package, "EXPERIMENTS", (
        entry("puzzle", "helpers.experiments.puzzle"),
        entry("chapter_in_progress", "helpers.experiments.not_written_yet"),
        entry("nonlinear", "helpers.experiments.nonlinear:run", seed=3),
        "digit_overlay"), raising=False)
    sources = ev.experiment_sources()
    assert [(s.name, s.module.__name__, s.seed) for s in sources] == [
        ("puzzle", "helpers.experiments.puzzle", 0),
        ("nonlinear", "helpers.experiments.nonlinear", 3),
        ("digit_overlay", "helpers.experiments.digit_overlay", 0)]
    assert [m.__name__ for m in ev.experiment_modules()] == [s.module.__name__ for s in sources]


def test_without_a_registry_list_every_experiment_module_is_read(monkeypatch):
    import helpers.experiments as package

    monkeypatch.delattr(package, "EXPERIMENTS", raising=False)
    names = [s.name for s in ev.experiment_sources()]
    assert {"puzzle", "digit_overlay", "reweighting"} <= set(names)


def test_declared_claims_of_the_book_are_well_formed():
    """Every claim the experiments declare cites a bibliography key and names a chapter."""
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.M))
    chapters = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
    for module, claim in ev.declared_claims(ev.experiment_modules()):
        assert claim.paper in keys, f"{module.__name__}: {claim.id} cites unknown {claim.paper}"
        assert claim.chapter in chapters, f"{module.__name__}: {claim.id} names no notebook"
    assert "Xue2024" in keys and H_BEATS_Z.chapter in chapters  # the example above is real


def test_empty_results_folder_lists_every_declared_claim_as_not_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    rows = ev.collect("cpu")
    assert len(rows) == len(ev.declared_claims(ev.experiment_modules()))
    assert all(r.verdict == "not computed" for r in rows)


def test_evaluate_a_payload_the_chapter_holds():
    import importlib.util

    spec = importlib.util.spec_from_loader("example_claims", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(FAKE_MODULE, module.__dict__)
    found = ev.evaluate(module, FAKE_PAYLOAD)
    assert list(found) == ["ch1-h-beats-z"]
    assert found["ch1-h-beats-z"].effect == pytest.approx(3.0)
    one_seed = {"layers": ["h", "z"], "accuracy": [[0.5, 0.4]]}
    with pytest.raises(ValueError, match="claim ch1-h-beats-z .*at least 2 seeds"):
        ev.evaluate(module, one_seed)


@pytest.mark.parametrize("verdicts, expected", [
    (["supported", "supported"], "supported"),
    (["supported", "inconclusive"], "inconclusive"),
    (["inconclusive", "contradicted", "supported"], "contradicted"),
    (["supported", "not computed"], "not computed"),
    (["not computed", "inconclusive"], "inconclusive"),
    (["supported", "too few seeds", "not computed"], "too few seeds"),
    ([], "not computed"),
])
def test_combined_verdict(verdicts, expected):
    assert ev.combined_verdict(verdicts) == expected


def test_combined_verdict_refuses_unknown_words():
    with pytest.raises(ValueError, match="unknown verdicts"):
        ev.combined_verdict(["supported", "clear"])


def test_table_markdown():
    claim = Claim(**{**H_BEATS_Z.__dict__, "figure": "ch01-fig-layers"})
    rows = [ev.Row(claim, paired_effect(*CASES["contradicted"]), "cpu", "shapes"),
            ev.Row(claim, None, "cpu", None)]
    text = ev.table_markdown(rows, link=lambda label: f"[fig]({label})")
    lines = text.splitlines()
    assert len(lines) == 4 and all(x.count("|") == lines[0].count("|") for x in lines)
    assert "| -2.4 points (-2.9 to -1.9) | 5 | **contradicted** | no (>= 1 points) | cpu, shapes " \
           "| [fig](ch01-fig-layers) |" in lines[2]
    assert ("| - | 0 | **not computed** | - (>= 1 points) | cpu | [fig](ch01-fig-layers) |"
            in lines[3])


def test_claims_text_and_findings_markdown_print_every_claim():
    claims = [H_BEATS_Z]
    text = ev.claims_text(claims)
    assert text.startswith("ch1-h-beats-z: ") and "predicted: positive" in text
    assert ev.INTERVAL_CONVENTION in text
    rows = [ev.Row(H_BEATS_Z, ev.paired_effect([3, 4, 2, 3, 3], [0, 0, 0, 0, 0]), "cpu", "shapes"),
            ev.Row(H_BEATS_Z, None, "smoke", "shapes", status=ev.TOO_FEW_SEEDS, seeds=1)]
    md = ev.findings_markdown(rows)
    assert md.count("* **ch1-h-beats-z**") == 2
    assert "support the claim" in md and "measured on 1 seed only" in md


def test_a_failed_structure_check_turns_the_claims_into_not_tested():
    from helpers.experiments import puzzle

    acc = [[0.2, 0.3, 0.4, h, 0.5, h - 0.1] for h in (0.40, 0.38, 0.41, 0.39, 0.40)]
    payload = {"layers": list(puzzle.LAYERS), "accuracy": acc,
               "no_head_layers": list(puzzle.NO_HEAD_LAYERS),
               "no_head_accuracy": [[0.2, 0.3, 0.4, 0.3]] * 5,
               "untrained": [[0.3, 0.3, 0.3, 0.39, 0.3, 0.3]] * 5}  # trained h ~ untrained h
    assert ev.structure_failures(puzzle, payload) == ["ch1-pretraining-learns"]
    rows = ev.module_rows(puzzle, payload, {"profile": "cpu", "data_source": "shapes"})
    assert {r.verdict for r in rows} == {ev.STAND_IN_FAILED} and rows[0].n_seeds == 5
    assert "**not tested**" in ev.findings_markdown(rows)
    assert ev.combined_verdict([ev.SUPPORTED, ev.STAND_IN_FAILED]) == ev.STAND_IN_FAILED
    box = ev.reproduction_box(rows[0].claim, None, "cpu", "shapes", None, "scale",
                              status=rows[0].status)
    assert "stand-in failed" in box
