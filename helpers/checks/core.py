"""The checking machinery every chapter's auto-checks share.

A check runs the student's function on seeded cases and compares each result with a reference
(:func:`check_function`, :func:`check_close`). What the student gets back is always a sentence
that names the case:

* the stub still raises ``NotImplementedError`` -> :class:`ExerciseNotImplementedError`;
* the function returns ``None``, a string (``"3.32"``), a dict where numbers are expected, or
  anything that is not numbers -> ``AssertionError`` saying what it returned;
* it raises -> ``AssertionError`` naming the case and the error (the student's traceback is
  chained below it);
* it runs longer than :data:`TIME_LIMIT_S` seconds on one case -> :class:`ExerciseTimeoutError`;
* it is, wraps or calls the book's own implementation of the exercise (``forbid=``) ->
  ``AssertionError``: the exercise asks for the student's own code.

**The time limit** (:func:`run_with_time_limit`). In the main thread on Linux and macOS (where
Jupyter runs a cell) it is a ``SIGALRM`` timer (``signal.setitimer``) whose handler raises inside
the student's code, so an endless loop (or a long ``time.sleep``) stops. Elsewhere (another
thread, Windows) a watchdog thread raises the exception asynchronously in the calling thread
(``PyThreadState_SetAsyncExc``), which stops a Python loop but not a single long C call (a huge
matrix product finishes first). Raise :data:`TIME_LIMIT_S` on a slow machine.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import signal
import sys
import threading

import numpy as np

__all__ = ["CheckFailed", "ExerciseNotImplementedError", "ExerciseTimeoutError", "TIME_LIMIT_S", "check_close",
           "check_function", "run_with_time_limit", "student_call", "as_numbers",
           "check_scalar", "refuse_book_answer", "randn"]

#: Seconds one call of a student's function may take before the check stops it.
TIME_LIMIT_S = 20.0


class CheckFailed(AssertionError):
    """An auto-check's verdict: the message says what is wrong and, where it can, how to fix it."""


class ExerciseNotImplementedError(NotImplementedError, CheckFailed):
    """The exercise's stub has not been filled in yet."""


class ExerciseTimeoutError(TimeoutError, CheckFailed):
    """The student's function ran past the time limit and was stopped."""


class _TimeLimitHit(BaseException):
    """Raised inside the student's code when the limit passes (a BaseException, so that a bare
    ``except Exception`` in the student's code cannot swallow it)."""


def _not_done(name: str, detail: str = "") -> ExerciseNotImplementedError:
    return ExerciseNotImplementedError(
        f"{name}: exercise not implemented yet{': ' + detail if detail else ''}. "
        "Fill in your code in the cell above, run it, then run this check again.")


# ------------------------------------------------------------------------------- time limit

def run_with_time_limit(fn, seconds: float | None):
    """``fn()``, stopped after ``seconds`` (None or <= 0: no limit) with :class:`_TimeLimitHit`."""
    if seconds is None or seconds <= 0:
        return fn()
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        return _with_alarm(fn, seconds)
    return _with_watchdog(fn, seconds)


def _with_alarm(fn, seconds):
    def on_alarm(signum, frame):
        raise _TimeLimitHit

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _with_watchdog(fn, seconds):
    tid, lock, done = threading.get_ident(), threading.Lock(), threading.Event()
    state = {"running": True, "fired": False}
    set_async = ctypes.pythonapi.PyThreadState_SetAsyncExc

    def watchdog():
        if done.wait(seconds):
            return
        with lock:  # inject only while fn still runs
            if state["running"]:
                state["fired"] = True
                set_async(ctypes.c_ulong(tid), ctypes.py_object(_TimeLimitHit))

    threading.Thread(target=watchdog, daemon=True).start()
    delivered = False
    try:
        return fn()
    except _TimeLimitHit:
        delivered = True
        raise
    finally:
        with lock:
            state["running"] = False
        done.set()
        if state["fired"] and not delivered:
            _absorb_injection()


def _absorb_injection():
    """Receive an injected _TimeLimitHit that was sent just as ``fn`` returned: it arrives at
    the interpreter's next check, within a few bytecodes. (Cancelling it with
    ``PyThreadState_SetAsyncExc(tid, NULL)`` instead leaves CPython 3.11's eval breaker set
    for good, which slows every thread to a crawl.)"""
    try:
        for _ in range(10_000_000):
            pass
    except _TimeLimitHit:
        pass


# ---------------------------------------------------------------------- the book's own answer

def _codes(obj) -> set:
    """Code objects of a function, or of every function defined in a class."""
    obj = inspect.unwrap(obj) if callable(obj) else obj
    if inspect.isclass(obj):
        out = set()
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)
            out |= {value.__code__} if hasattr(value, "__code__") else set()
        return out
    return {obj.__code__} if hasattr(obj, "__code__") else set()


def _label(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _is_book_answer(fn, forbid) -> object | None:
    """The forbidden object that ``fn`` is (or a partial / subclass of), else None."""
    inner = fn.func if isinstance(fn, functools.partial) else fn
    for obj in forbid:
        if inner is obj or (_codes(inner) & _codes(obj) and not inspect.isclass(inner)):
            return obj
        if inspect.isclass(obj) and inspect.isclass(inner) and issubclass(inner, obj):
            return obj
    return None


def refuse_book_answer(fn, forbid, name: str) -> None:
    """Raise AssertionError when ``fn`` is (a partial or subclass of) an object in ``forbid``."""
    own = _is_book_answer(fn, forbid)
    if own is not None:
        raise CheckFailed(_book_answer_message(name, own, calls=False))


def _book_answer_message(name: str, obj, calls: bool) -> str:
    how = "calls" if calls else "is"
    return (f"{name}: your answer {how} the book's own `{_label(obj)}`, the code this exercise "
            "asks you to write. Write it yourself (the check compares it with a reference); the "
            "book's version is there for the cells after the exercise.")


def _traced(fn, forbid):
    """Run ``fn()``; return (result, the forbidden object it called or None)."""
    codes = {code: obj for obj in forbid for code in _codes(obj)}
    if not codes:
        return fn(), None
    hit = []
    previous = sys.getprofile()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes and not hit:
            hit.append(codes[frame.f_code])

    sys.setprofile(profile)
    try:
        result = fn()
    finally:
        sys.setprofile(previous)
    return result, (hit[0] if hit else None)


# --------------------------------------------------------------------------- calling the student

def _clone(x):
    if hasattr(x, "clone"):
        return x.clone()
    return x.copy() if hasattr(x, "copy") else x


def _describe(args, kwargs) -> str:
    parts = [f"shape {tuple(a.shape)}" if hasattr(a, "shape") else _short(a) for a in args]
    parts += [f"{k}={_short(v)}" if not hasattr(v, "shape") else f"{k}: shape {tuple(v.shape)}"
              for k, v in kwargs.items()]
    return ", ".join(parts)


def _short(x, n: int = 40) -> str:
    text = repr(x)
    return text if len(text) <= n else text[: n - 3] + "..."


def student_call(fn, args=(), kwargs=None, *, name: str, case: str = "",
                 forbid=(), time_limit: float | None = None):
    """Call the student's ``fn(*args, **kwargs)`` (on copies of the inputs) under the time limit.

    Raises:
        ExerciseNotImplementedError: ``fn`` is None or still raises NotImplementedError.
        ExerciseTimeoutError: it ran past ``time_limit`` (default :data:`TIME_LIMIT_S`) seconds.
        CheckFailed (an AssertionError): ``fn`` is not callable, is or calls an object in
            ``forbid``, or raised.
    """
    kwargs = kwargs or {}
    where = f" on {case}" if case else ""
    if fn is None:
        raise _not_done(name, "your function is still None")
    if not callable(fn):
        raise CheckFailed(f"{name}: expected a function, got {type(fn).__name__} "
                             f"{_short(fn)}. Pass the function itself, without calling it.")
    refuse_book_answer(fn, forbid, name)
    limit = TIME_LIMIT_S if time_limit is None else time_limit

    def run():
        return fn(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})

    try:
        result, called = run_with_time_limit(lambda: _traced(run, forbid), limit)
    except _TimeLimitHit:
        raise ExerciseTimeoutError(
            f"{name}: your function was stopped after {limit:g} s{where} (inputs: "
            f"{_describe(args, kwargs)}). Look for a loop that never ends; on a slow computer "
            "raise helpers.checks.core.TIME_LIMIT_S.") from None
    except CheckFailed:
        raise
    except NotImplementedError as err:
        raise _not_done(name, str(err)) from None
    except Exception as err:  # the student's bug: name the case, keep their traceback below
        raise CheckFailed(
            f"{name}: your function raised {type(err).__name__}{where} (inputs: "
            f"{_describe(args, kwargs)}): {err}") from err
    if called is not None:
        raise CheckFailed(_book_answer_message(name, called, calls=True))
    return result


# ------------------------------------------------------------------------------- comparing

class _NotNumbers(ValueError):
    """A result that is not numbers; the message says what it is."""


def as_numbers(x, what: str = "your function") -> np.ndarray:
    """Tensor / array / number / list of numbers -> float64 array.

    Raises:
        _NotNumbers (a ValueError): None, a string, a dict, complex or non-numeric values.
    """
    if x is None:
        raise _NotNumbers(f"{what} returned None (a missing `return`?)")
    if isinstance(x, (str, bytes)):
        raise _NotNumbers(f"{what} returned the string {_short(x)}, not a number: return the "
                          "number itself (no formatting)")
    if isinstance(x, dict):
        raise _NotNumbers(f"{what} returned a dict (keys {sorted(map(str, x))[:5]}), expected "
                          "a number or a tensor")
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        x = x.double() if x.is_floating_point() else x
    try:
        a = np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise _NotNumbers(f"{what} returned {type(x).__name__}, which is not an array of "
                          f"numbers ({err})") from None
    if a.dtype.kind not in "biuf":
        kind = {"U": "text", "S": "text", "O": "object", "c": "complex"}.get(a.dtype.kind, str(a.dtype))
        raise _NotNumbers(f"{what} returned {type(x).__name__} holding {kind} values, "
                          "expected real numbers (a float, an array or a tensor)")
    return a.astype(np.float64)


def _few(a: np.ndarray, k: int = 4) -> str:
    flat = a.ravel()
    more = f", ... ({flat.size} values)" if flat.size > k else ""
    return np.array2string(flat[:k], precision=5, separator=", ")[:-1] + more + "]"


def _mismatch(got, expected, atol: float, rtol: float) -> str | None:
    """Why ``got`` differs from ``expected`` (None when they agree)."""
    try:
        g = as_numbers(got)
    except _NotNumbers as err:
        return str(err)
    e = as_numbers(expected, "the reference")
    if e.shape == () and g.size == 1:  # a one-element tensor for a scalar is fine
        g = g.reshape(())
    if g.shape != e.shape:
        return f"shape: expected {e.shape}, got {g.shape}"
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        return f"got non-finite values {_few(g)} (expected {_few(e)})"
    if not np.allclose(g, e, atol=atol, rtol=rtol):
        err = np.abs(g - e).max()
        return f"expected {_few(e)}, got {_few(g)} (max abs difference {err:.3g})"
    return None


def check_close(name: str, got, expected, atol: float = 1e-5, hint: str | None = None,
                rtol: float = 1e-5) -> bool:
    """Check one value (number, array or tensor) against the expected one (None: not done)."""
    if got is None:
        raise _not_done(name, f"`{name}` is still None")
    why = _mismatch(got, expected, atol, rtol)
    if why:
        raise CheckFailed(f"{name} is not right: {why.replace('your function returned', 'it is')}."
                             + (f"\nHint: {hint}" if hint else ""))
    print(f"✓ {name} passed")
    return True


def check_function(fn, reference, input_cases, name: str, hint: str | None = None,
                   atol: float = 1e-5, rtol: float = 1e-4, diagnose=None, forbid=(),
                   time_limit: float | None = None, convert=None) -> bool:
    """Compare the student's ``fn`` with ``reference`` on every case.

    Args:
        input_cases: list of ``(label, args)`` or ``(label, args, kwargs)``.
        diagnose: optional ``{hint: wrong_variant_fn}``; when the student's output matches a
            known wrong variant, that variant's hint is shown instead of ``hint``.
        forbid: the book's own implementation(s) of the exercise: ``fn`` may not be, wrap or
            call them.
        time_limit: seconds per call of ``fn`` (default :data:`TIME_LIMIT_S`).
        convert: optional, applied to each result of ``fn`` before the comparison (outside the
            time limit); raises CheckFailed when the result has the wrong form.

    Raises:
        CheckFailed (an AssertionError; or its subclasses above) on the first case that fails.
    """
    cases = [c if len(c) == 3 else (c[0], c[1], {}) for c in input_cases]
    for i, (label, args, kwargs) in enumerate(cases, 1):
        case = f"case {i}/{len(cases)} ({label})"
        expected = reference(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        got = student_call(fn, args, kwargs, name=name, case=case, forbid=forbid,
                           time_limit=time_limit)
        got = convert(got) if convert else got
        try:
            as_numbers(got)
        except _NotNumbers as err:  # no hint: the form is wrong, not the maths
            raise CheckFailed(f"{name} failed on {case}: {err}.") from None
        why = _mismatch(got, expected, atol, rtol)
        if why is None:
            continue
        shown = hint
        for variant_hint, variant in (diagnose or {}).items():
            if _mismatch(got, variant(*map(_clone, args), **kwargs), atol, rtol) is None:
                shown = variant_hint
                break
        raise CheckFailed(
            f"{name} failed on case {i}/{len(cases)} ({label}; inputs: {_describe(args, kwargs)}): "
            f"{why}." + (f"\nHint: {shown}" if shown else ""))
    print(f"✓ {name} passed ({len(cases)} cases)")
    return True


def check_scalar(fn, cases, expected, name: str, tolerance: float, explain,
                 time_limit: float | None = None) -> bool:
    """Check a student's scalar ``fn(*args)`` against ``expected(*args)`` within ``tolerance``.

    ``cases``: list of (label, args). ``explain(label, got, want)``: the failure message body.
    """
    for i, (label, args) in enumerate(cases, 1):
        case = f"case {i}/{len(cases)} ({label})"
        got = student_call(fn, args, name=name, case=case, time_limit=time_limit)
        try:
            value = as_numbers(got)
        except _NotNumbers as err:
            raise CheckFailed(f"{name}, {case}: {err}.") from None
        if value.size != 1:
            raise CheckFailed(f"{name}, {case}: expected one number, got shape {value.shape}.")
        value, want = float(value.reshape(())), float(expected(*args))
        if not abs(value - want) <= tolerance:
            raise CheckFailed(f"{name}, {case}: " + explain(label, value, want))
    return True


def randn(seed: int, *shape):
    """A seeded standard normal tensor (the checks' inputs)."""
    import torch
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
