"""helpers.checks: right answers pass, wrong ones fail with a useful message.

The oracles below are small reference implementations written from the papers. The book's own
implementations agree with the checks' references, and are refused as answers; a function that
returns None, a string or a dict, raises, or never returns gets a message naming the case.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import checks
from helpers.checks import ExerciseNotImplementedError, ExerciseTimeoutError, core
from helpers.checks.puzzle import reference_nt_xent

ROOT = Path(__file__).resolve().parents[1]
CHECK_MODULES = sorted(p.stem for p in (ROOT / "helpers" / "checks").glob("*.py"))


def oracle_nt_xent(z1, z2, temperature=0.5):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    n = len(z1)
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def oracle_supcon(features, labels, temperature=0.5):
    b, v, _ = features.shape
    z = F.normalize(features.reshape(b * v, -1), dim=1)
    lab = labels.repeat_interleave(v)
    self_mask = torch.eye(b * v, dtype=torch.bool)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits.log_softmax(dim=1).masked_fill(self_mask, 0.0)
    pos = (lab[:, None] == lab[None, :]) & ~self_mask
    return -((log_prob * pos).sum(1) / pos.sum(1)).mean()


def oracle_spectral(z1, z2):
    n = len(z1)
    dots = z1 @ z2.T
    off = ~torch.eye(n, dtype=torch.bool)
    return -2 * dots.diagonal().mean() + (dots[off] ** 2).mean()


class OracleHead(torch.nn.Module):
    """A fixed head written from the paper: feature j scaled by kappa ** -j."""

    def __init__(self, dim, kappa):
        super().__init__()
        self.register_buffer("w", float(kappa) ** -torch.arange(dim, dtype=torch.float32))

    def forward(self, h):
        return h * self.w


def not_implemented(*args, **kwargs):
    raise NotImplementedError("Exercise ch01-ex-ntxent: implement my_nt_xent")


def test_right_answers_pass(capsys):
    assert checks.check_nt_xent(oracle_nt_xent, reference=oracle_nt_xent)
    assert checks.check_supcon(oracle_supcon, reference=oracle_supcon)
    assert checks.check_spectral(oracle_spectral, reference=oracle_spectral)
    assert checks.check_fixed_head(OracleHead, reference=OracleHead)
    assert checks.check_fixed_head(lambda h, kappa: OracleHead(h.shape[1], kappa)(h), reference=OracleHead)
    out = capsys.readouterr().out
    assert "✓ NT-Xent passed (5 cases)" in out and out.count("✓") == 5


def test_nt_xent_diagnoses_common_mistakes():
    def no_mask(z1, z2, temperature=0.5):
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        n = len(z1)
        return F.cross_entropy(z @ z.T / temperature, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    with pytest.raises(AssertionError, match="self-similarity") as err:
        checks.check_nt_xent(no_mask, reference=oracle_nt_xent)
    msg = str(err.value)
    assert "case 1/5" in msg and "shape (8, 16)" in msg and "expected" in msg and "got" in msg
    with pytest.raises(AssertionError, match="L2-normalise"):
        checks.check_nt_xent(lambda z1, z2, temperature=0.5:
                             reference_nt_xent(z1, z2, temperature, normalise=False),
                             reference=oracle_nt_xent)


def test_wrong_shape_and_nan_are_reported():
    with pytest.raises(AssertionError, match=r"shape: expected \(\), got \(16,\)"):
        checks.check_nt_xent(lambda z1, z2, temperature=0.5: torch.zeros(2 * len(z1)),
                             reference=oracle_nt_xent)
    with pytest.raises(AssertionError, match="non-finite"):
        checks.check_spectral(lambda z1, z2: torch.tensor(float("nan")), reference=oracle_spectral)


def test_wrong_supcon_and_head_fail_with_case_and_hint():
    with pytest.raises(AssertionError, match=r"SupCon failed on case \d/5.*\nHint: each anchor"):
        checks.check_supcon(lambda f, l, temperature=0.5: oracle_supcon(f, l, 2 * temperature),
                            reference=oracle_supcon)
    with pytest.raises(AssertionError, match="fixed re-weighting head failed"):
        checks.check_fixed_head(lambda h, kappa: h, reference=OracleHead)


def test_unimplemented_exercise_says_so():
    with pytest.raises(ExerciseNotImplementedError, match="not implemented yet.*ch01-ex-ntxent"):
        checks.check_nt_xent(not_implemented, reference=oracle_nt_xent)
    # it is both: a notebook stops with a NotImplementedError, a grader sees an AssertionError
    assert issubclass(ExerciseNotImplementedError, NotImplementedError)
    assert issubclass(ExerciseNotImplementedError, AssertionError)
    with pytest.raises(ExerciseNotImplementedError, match="still None"):
        checks.check_close("uniform_loss", None, 1.0)


def test_check_close_and_check_function(capsys):
    assert checks.check_close("x", np.float32(1.0 + 1e-7), 1.0)
    with pytest.raises(AssertionError, match=r"x is not right.*\nHint: add one"):
        checks.check_close("x", torch.tensor([1.0, 2.0]), [1.0, 3.0], hint="add one")
    cases = [("ints", (np.arange(4),)), ("empty", (np.zeros(0),), {})]
    assert checks.check_function(np.square, lambda x: x * x, cases, name="square")
    with pytest.raises(AssertionError, match=r"square failed on case 1/2 \(ints; inputs: shape \(4,\)\)"):
        checks.check_function(lambda x: x + x, lambda x: x * x, cases, name="square")
    assert "✓ square passed (2 cases)" in capsys.readouterr().out


def test_inputs_are_not_shared_with_the_student():
    def mutating(z1, z2, temperature=0.5):
        loss = oracle_nt_xent(z1, z2, temperature)
        z1.zero_()
        return loss

    assert checks.check_nt_xent(mutating, reference=oracle_nt_xent)


# ------------------------------------------------------------------ the book's own answer


def test_the_books_implementations_agree_with_the_references():
    """Each check's independent reference against the book's function, on the check's cases."""
    from helpers.heads import FixedReweightingHead
    from helpers.losses import nt_xent, spectral_contrastive, supcon
    from helpers.checks.reweighting import reference_fixed_head

    assert checks.check_function(nt_xent, reference_nt_xent, [
        ("N=8", (torch.randn(8, 16), torch.randn(8, 16)), {"temperature": 0.5}),
        ("N=2, tau=0.1", (torch.randn(2, 4), torch.randn(2, 4)), {"temperature": 0.1})], "nt_xent")
    assert checks.check_function(nt_xent, oracle_nt_xent, [
        ("N=5", (torch.randn(5, 3), torch.randn(5, 3)))], "nt_xent vs the test's oracle")
    assert checks.check_function(supcon, oracle_supcon, [
        ("b=6", (torch.randn(6, 2, 8), torch.tensor([0, 1, 0, 2, 1, 0])))], "supcon")
    assert checks.check_function(spectral_contrastive, oracle_spectral, [
        ("N=9", (torch.randn(9, 4), torch.randn(9, 4)))], "spectral")
    h = torch.randn(4, 16)
    for kappa in (1.0, 1.05, 2.0):
        torch.testing.assert_close(FixedReweightingHead(16, kappa)(h), reference_fixed_head(h, kappa))
        torch.testing.assert_close(OracleHead(16, kappa)(h), reference_fixed_head(h, kappa))


def test_the_books_own_function_fails_the_check():
    """`my_nt_xent = nt_xent` (what a student could do when the notebook imports it) fails."""
    from helpers.heads import FixedReweightingHead, make_head
    from helpers.losses import nt_xent, spectral_contrastive, supcon

    my_nt_xent = nt_xent
    with pytest.raises(AssertionError, match=r"NT-Xent: your answer is the book's own "
                                             r"`helpers\.losses\.nt_xent`.*Write it yourself"):
        checks.check_nt_xent(my_nt_xent)
    for wrapper in (lambda z1, z2, temperature=0.5: nt_xent(z1, z2, temperature),
                    lambda z1, z2, temperature=0.5: 1.0 * nt_xent(z1, z2, temperature=temperature)):
        with pytest.raises(AssertionError, match="your answer calls the book's own"):
            checks.check_nt_xent(wrapper)
    with pytest.raises(AssertionError, match="book's own"):
        checks.check_supcon(supcon)
    with pytest.raises(AssertionError, match="book's own"):
        checks.check_spectral(spectral_contrastive)
    for head in (FixedReweightingHead, lambda h, kappa: FixedReweightingHead(h.shape[1], kappa)(h),
                 lambda h, kappa: make_head("fixed", h.shape[1], kappa=kappa)(h)):
        with pytest.raises(AssertionError, match="book's own `helpers.heads"):
            checks.check_fixed_head(head)
    assert checks.check_nt_xent(oracle_nt_xent)  # a student's own code passes


def test_against_the_checks_own_references(capsys):
    assert checks.check_nt_xent(oracle_nt_xent)
    assert checks.check_fixed_head(OracleHead)
    assert checks.check_fixed_head(lambda h, kappa: OracleHead(h.shape[1], kappa)(h))
    with pytest.raises(AssertionError, match="fixed re-weighting head failed"):
        checks.check_fixed_head(lambda h, kappa: 2 * h + 1)
    with pytest.raises(AssertionError):
        checks.check_nt_xent(lambda z1, z2, temperature=0.5: oracle_nt_xent(z1, z2, 2 * temperature))
    with pytest.raises(ExerciseNotImplementedError):
        checks.check_supcon(not_implemented)
    assert capsys.readouterr().out.count("✓") == 3


# ------------------------------------------------------- what the student's function gives back


@pytest.mark.parametrize("result, says", [
    (None, r"returned None \(a missing `return`\?\)"),
    ("3.32", r"returned the string '3.32', not a number"),
    ({"loss": 1.0}, r"returned a dict"),
    (object(), r"returned object holding object values"),
    ([1.0, "a"], r"returned list holding text values, expected real numbers"),
    (torch.tensor(1 + 2j), r"returned Tensor holding complex values"),
])
def test_results_that_are_not_numbers_name_the_case(result, says):
    with pytest.raises(AssertionError, match=r"NT-Xent failed on case 1/5 \(N=8, p=16, tau=0.5\): your function "
                                             + says) as err:
        checks.check_nt_xent(lambda z1, z2, temperature=0.5: result)
    assert "Hint" not in str(err.value)  # the form is wrong, not the maths


def test_a_string_scalar_is_rejected_everywhere():
    with pytest.raises(AssertionError, match="string '3.32'"):
        checks.check_close("uniform_loss", "3.32", 3.32)
    with pytest.raises(AssertionError, match=r"coarse accuracy, case 1/4 .*string '1.0'"):
        checks.check_coarse_accuracy(lambda K, snr: "1.0")
    with pytest.raises(AssertionError, match=r"null-space fraction failed on case 1/4.*string"):
        checks.check_null_fraction(lambda W1, W2: "0.5")
    with pytest.raises(AssertionError, match="the value of 'id_acc'.*string"):
        checks.check_shortcut_metrics(lambda *a: dict(id_acc="0.9", bg_gap=0, coobj_gap=0, both_gap=0))
    with pytest.raises(AssertionError, match="sign-keeping network: W1 is the string"):
        checks.check_sign_keeping_net("W1", np.eye(6))


def test_an_exception_names_the_case_and_keeps_the_cause():
    def buggy(z1, z2, temperature=0.5):
        return z1.nonexistent_method()

    with pytest.raises(AssertionError, match=r"NT-Xent: your function raised AttributeError on "
                                             r"case 1/5 \(N=8, p=16, tau=0.5\).*nonexistent_method") as err:
        checks.check_nt_xent(buggy)
    assert isinstance(err.value.__cause__, AttributeError)  # the student's traceback is kept
    with pytest.raises(AssertionError, match=r"expected a function, got str"):
        checks.check_nt_xent("my_nt_xent")
    with pytest.raises(ExerciseNotImplementedError, match="still None"):
        checks.check_nt_xent(None)
    with pytest.raises(AssertionError, match="return a dict with keys id_acc.*got None"):
        checks.check_shortcut_metrics(lambda *a: None)
    with pytest.raises(AssertionError, match=r"ridge probe simulation: your function raised ZeroDivisionError"):
        checks.check_ridge_simulation(lambda *a: 1 / 0)


def endless(*args, **kwargs):
    while True:
        pass


def sleepy(*args, **kwargs):
    time.sleep(60)


@pytest.mark.parametrize("fn", [endless, sleepy], ids=["busy loop", "sleep"])
def test_a_function_past_the_time_limit_is_stopped(fn, monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_S", 0.3)
    start = time.perf_counter()
    with pytest.raises(ExerciseTimeoutError, match=r"NT-Xent: your function was stopped after "
                                                   r"0.3 s on case 1/5"):
        checks.check_nt_xent(fn)
    assert time.perf_counter() - start < 5
    assert issubclass(ExerciseTimeoutError, AssertionError)
    # the alarm is switched off again: a slow computation afterwards is not interrupted
    time.sleep(0.5)


def test_the_time_limit_off_the_main_thread(monkeypatch):
    """Outside the main thread (no SIGALRM there) the watchdog stops a Python loop."""
    monkeypatch.setattr(core, "TIME_LIMIT_S", 0.3)
    caught = []

    def run():
        try:
            checks.check_nt_xent(endless)
        except BaseException as err:  # noqa: BLE001 - report whatever it was
            caught.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert not worker.is_alive() and len(caught) == 1
    assert isinstance(caught[0], ExerciseTimeoutError), caught
    assert core.run_with_time_limit(lambda: 7, 0.2) == 7  # a quick call returns its value
    # and afterwards a traced call in the main thread runs at full speed (cancelling the
    # delivered injection once left CPython's eval breaker set: every call crawled)
    start = time.perf_counter()
    with pytest.raises(ExerciseNotImplementedError):
        checks.check_nt_xent(not_implemented)
    assert time.perf_counter() - start < 30


def test_the_time_limit_cannot_be_swallowed_by_the_student():
    def stubborn(*args, **kwargs):
        while True:
            try:
                endless()
            except Exception:  # noqa: BLE001 - what a student might write
                pass

    with pytest.raises(ExerciseTimeoutError, match="stopped after 0.3 s"):
        core.check_function(stubborn, reference_nt_xent, [("a", (torch.ones(2, 2),) * 2)],
                            "NT-Xent", time_limit=0.3)


# ------------------------------------------------------------------------ the package's layout


def test_each_checks_module_imports_first():
    """Any module of helpers/checks/ can be the first one imported (no import cycle): one fresh
    interpreter per module, started together (each spends its time importing torch)."""
    names = ["helpers.checks" if m == "__init__" else f"helpers.checks.{m}" for m in CHECK_MODULES]
    procs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names}
    failed = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        if proc.returncode:
            failed[name] = err.strip().splitlines()[-1]
    assert len(names) >= 10 and not failed, failed


def test_every_check_is_exported_and_turns_a_stub_into_not_implemented():
    """Each public check_* of a chapter module is re-exported, and a stub that raises
    NotImplementedError gives ExerciseNotImplementedError (what a student edition stops at)."""
    import importlib
    import inspect

    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise ch00-ex-stub: write it")

    payload = {"methods": ["ce/mlp"], "fine": {"ce/mlp": [[0.1] * 6]}}
    extra = {"check_fine_gap": (payload,)}
    found = []
    for module in CHECK_MODULES:
        mod = importlib.import_module(f"helpers.checks.{module}" if module != "__init__" else "helpers.checks")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == mod.__name__ and module != "core":
                found.append(name)
                assert getattr(checks, name) is fn, f"helpers.checks does not re-export {name}"
                if name == "check_sign_keeping_net":
                    continue  # takes the matrices, the stub is called in the notebook cell
                with pytest.raises(ExerciseNotImplementedError, match="ch00-ex-stub"):
                    fn(stub, *extra.get(name, ()))
    assert len(found) >= 15
