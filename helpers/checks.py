"""Auto-checks for the exercises: compare a student's function with the book's reference.

Used from the chapters, e.g. ``checks.check_nt_xent(my_nt_xent)``. Each check runs the
student's function and the reference (``helpers.losses`` / ``helpers.heads``, imported lazily)
on several seeded random inputs, including edge sizes. Success prints ``✓ ... passed (n cases)``
and returns True; a wrong answer raises ``AssertionError`` naming the case, the shapes, expected
and obtained numbers and a hint. An exercise still raising ``NotImplementedError`` raises
``ExerciseNotImplementedError`` (both a NotImplementedError and an AssertionError).
"""

from __future__ import annotations

import inspect

import numpy as np

__all__ = [
    "ExerciseNotImplementedError", "check_close", "check_function",
    "check_nt_xent", "check_supcon", "check_spectral", "check_fixed_head",
]


class ExerciseNotImplementedError(NotImplementedError, AssertionError):
    """The exercise's stub has not been filled in yet."""


def _not_done(name: str, detail: str = "") -> ExerciseNotImplementedError:
    return ExerciseNotImplementedError(
        f"{name}: exercise not implemented yet{': ' + detail if detail else ''}. "
        "Fill in your code in the cell above, run it, then run this check again.")


def _numpy(x):
    """Tensor / array / number -> float64 numpy array (None stays None)."""
    if x is None:
        return None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _few(a: np.ndarray, k: int = 4) -> str:
    flat = a.ravel()
    more = f", ... ({flat.size} values)" if flat.size > k else ""
    return np.array2string(flat[:k], precision=5, separator=", ")[:-1] + more + "]"


def _mismatch(got, expected, atol: float, rtol: float) -> str | None:
    """Why ``got`` differs from ``expected`` (None when they agree)."""
    try:
        g = _numpy(got)
    except (TypeError, ValueError):
        return f"expected a number or tensor, got {type(got).__name__}"
    e = _numpy(expected)
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
    """Check one value (number, array or tensor) against the expected one."""
    if got is None:
        raise _not_done(name, f"`{name}` is still None")
    why = _mismatch(got, expected, atol, rtol)
    if why:
        raise AssertionError(f"{name} is not right: {why}." + (f"\nHint: {hint}" if hint else ""))
    print(f"✓ {name} passed")
    return True


def _clone(x):
    if hasattr(x, "clone"):
        return x.clone()
    return x.copy() if hasattr(x, "copy") else x


def _describe(args, kwargs) -> str:
    parts = [f"shape {tuple(a.shape)}" if hasattr(a, "shape") else repr(a) for a in args]
    parts += [f"{k}={v!r}" if not hasattr(v, "shape") else f"{k}: shape {tuple(v.shape)}"
              for k, v in kwargs.items()]
    return ", ".join(parts)


def _call(fn, args, kwargs, name):
    try:
        return fn(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
    except NotImplementedError as err:
        raise _not_done(name, str(err)) from None


def check_function(fn, reference, input_cases, name: str, hint: str | None = None,
                   atol: float = 1e-5, rtol: float = 1e-4, diagnose=None) -> bool:
    """Compare ``fn`` with ``reference`` on every case.

    ``input_cases``: list of ``(label, args)`` or ``(label, args, kwargs)``. ``diagnose``
    (optional): ``{hint: wrong_variant_fn}``; if the student's output matches a known wrong
    variant, that variant's hint is shown instead of ``hint``.
    """
    cases = [c if len(c) == 3 else (c[0], c[1], {}) for c in input_cases]
    for i, (label, args, kwargs) in enumerate(cases, 1):
        expected = reference(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        got = _call(fn, args, kwargs, name)
        why = _mismatch(got, expected, atol, rtol)
        if why is None:
            continue
        shown = hint
        for variant_hint, variant in (diagnose or {}).items():
            if _mismatch(got, variant(*map(_clone, args), **kwargs), atol, rtol) is None:
                shown = variant_hint
                break
        raise AssertionError(
            f"{name} failed on case {i}/{len(cases)} ({label}; inputs: {_describe(args, kwargs)}): "
            f"{why}." + (f"\nHint: {shown}" if shown else ""))
    print(f"✓ {name} passed ({len(cases)} cases)")
    return True


# --- the book's exercises ------------------------------------------------------------------

def _randn(seed, *shape):
    import torch
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _nt_xent_variant(z1, z2, temperature=0.5, normalise=True, mask_self=True):
    """NT-Xent with a deliberate mistake switched on (for diagnosing wrong answers)."""
    import torch
    import torch.nn.functional as F
    z = torch.cat([z1, z2])
    z = F.normalize(z, dim=1) if normalise else z
    sim = z @ z.T / temperature
    if mask_self:
        sim = sim.masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(z1)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def check_nt_xent(fn, reference=None) -> bool:
    """Check ``fn(z1, z2, temperature)`` against ``helpers.losses.nt_xent``."""
    if reference is None:
        from helpers.losses import nt_xent as reference
    same = _randn(5, 1, 8).repeat(6, 1)
    cases = [
        ("N=8, p=16, tau=0.5", (_randn(0, 8, 16), _randn(1, 8, 16)), {"temperature": 0.5}),
        ("N=32, p=64, tau=0.1", (_randn(2, 32, 64), _randn(3, 32, 64)), {"temperature": 0.1}),
        ("smallest batch N=2", (_randn(4, 2, 4), _randn(6, 2, 4)), {"temperature": 0.5}),
        ("N=2, unnormalised large inputs, tau=1", (10 * _randn(7, 2, 3), _randn(8, 2, 3)),
         {"temperature": 1.0}),
        ("all projections equal, N=6", (same, same.clone()), {"temperature": 0.5}),
    ]
    return check_function(
        fn, reference, cases, "NT-Xent",
        hint="normalise the rows, divide the cosine similarities by the temperature, exclude "
             "self-similarity from the denominator, and average over all 2N anchors.",
        diagnose={
            "did you exclude self-similarity from the denominator (mask the diagonal)?":
                lambda *a, **k: _nt_xent_variant(*a, **k, mask_self=False),
            "did you L2-normalise the projections before the dot products?":
                lambda *a, **k: _nt_xent_variant(*a, **k, normalise=False),
        })


def check_supcon(fn, reference=None) -> bool:
    """Check ``fn(features, labels, temperature)`` (features: batch, n_views, dim)."""
    import torch
    if reference is None:
        from helpers.losses import supcon as reference
    cases = [
        ("batch 8, 2 views, 3 classes", (_randn(0, 8, 2, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])),
         {"temperature": 0.5}),
        ("batch 6, 3 views, tau=0.1", (_randn(1, 6, 3, 8), torch.tensor([0, 0, 1, 1, 2, 2])),
         {"temperature": 0.1}),
        ("all labels distinct (SimCLR case)", (_randn(2, 5, 2, 8), torch.arange(5)), {"temperature": 0.5}),
        ("all labels equal", (_randn(3, 4, 2, 8), torch.zeros(4, dtype=torch.long)), {"temperature": 0.5}),
        ("smallest batch: 1 image, 2 views", (_randn(4, 1, 2, 4), torch.tensor([3])), {"temperature": 0.5}),
    ]
    return check_function(
        fn, reference, cases, "SupCon",
        hint="each anchor's positives are all other views with its label (not itself); average "
             "the log-probabilities over the positives, then over anchors; exclude the anchor "
             "itself from the denominator.")


def check_spectral(fn, reference=None) -> bool:
    """Check ``fn(z1, z2)`` against ``helpers.losses.spectral_contrastive``."""
    if reference is None:
        from helpers.losses import spectral_contrastive as reference
    cases = [
        ("N=8, p=16", (_randn(0, 8, 16), _randn(1, 8, 16))),
        ("N=64, p=32", (_randn(2, 64, 32), _randn(3, 64, 32))),
        ("smallest batch N=2", (_randn(4, 2, 4), _randn(5, 2, 4))),
        ("large inputs", (5 * _randn(6, 16, 8), 5 * _randn(7, 16, 8))),
    ]
    return check_function(
        fn, reference, cases, "spectral contrastive loss",
        hint="-2 * mean of the positive pairs' dot products plus the mean of the squared dot "
             "products over the negative (off-diagonal) pairs; do not normalise the rows.")


def check_fixed_head(fn, reference=None) -> bool:
    """Check a fixed re-weighting head: ``fn`` is a class/factory ``fn(dim, kappa)`` returning a
    module (checked via ``forward(h)``) or a function ``fn(h, kappa)``."""
    import torch
    if reference is None:
        from helpers.heads import FixedReweightingHead as reference

    def apply(make, h, dim, kappa):
        torch.manual_seed(0)
        if make is reference or inspect.isclass(make) or _is_factory(make):
            return make(dim, kappa)(h)
        return make(h, kappa)

    def _is_factory(f):
        params = list(inspect.signature(f).parameters)
        return bool(params) and params[0] in ("dim", "d", "in_dim", "dimension")

    cases = [(f"dim={d}, kappa={k}, batch={b}", (_randn(s, b, d), d, k))
             for s, (d, k, b) in enumerate([(8, 1.0, 4), (16, 1.05, 10), (4, 1.5, 3), (32, 2.0, 1)])]
    with torch.no_grad():
        return check_function(
            lambda h, d, k: apply(fn, h, d, k), lambda h, d, k: apply(reference, h, d, k),
            cases, "fixed re-weighting head",
            hint="the head multiplies feature j by its fixed weight (built from kappa); check "
                 "the weights' order (kappa ** -j for j = 0, 1, ...) and kappa = 1 (identity).")


# --- Part I: linear theory ------------------------------------------------------------------

def check_optimal_gains(fn, reference=None) -> bool:
    """Check ``fn(phi, p, sigma)`` -> (d,) gains against ``helpers.theory.linear.optimal_gains``."""
    if reference is None:
        from helpers.theory.linear import optimal_gains as reference
    cases = [
        ("three features, sigma 0.5", (np.array([1.4, 1.0, 0.7]), np.array([0.6, 0.0, 0.2]), 0.5)),
        ("no augmentation noise", (np.array([2.0, 1.0, 0.5]), np.array([0.0, 0.5, 0.0]), 0.0)),
        ("a feature always redrawn (p = 1)", (np.array([1.0, 1.0]), np.array([1.0, 0.0]), 0.3)),
        ("one feature", (np.array([0.8]), np.array([0.1]), 1.0)),
    ]
    wrong = {  # common slips, each with the hint it deserves
        "the optimal A = W^T W is S^-1 M S^-1; the gain is its square root, sqrt(m) / s, "
        "not m / s^2": lambda phi, p, sigma: (1 - p) * phi**2 / (phi**2 + sigma**2) ** 2,
        "s_i is the variance of one view: phi_i^2 + sigma^2, with the noise squared":
            lambda phi, p, sigma: np.sqrt(1 - p) * phi / (phi**2 + sigma),
    }
    return check_function(
        fn, reference, cases, "optimal gains", atol=1e-8, rtol=1e-6, diagnose=wrong,
        hint="g_i = sqrt(m_i) / s_i with m_i = (1 - p_i) phi_i^2 and s_i = phi_i^2 + sigma^2.")


def check_ridge_simulation(fn, tolerance: float = 0.05) -> bool:
    """Check a Monte Carlo ridge probe ``fn(strengths, target, n, ridge, reps, seed)`` -> mean
    test R^2 against the high-dimensional formula ``helpers.theory.linear.ridge_probe_r2``.

    The two are different computations (simulation vs limit), so they agree only to within
    ``tolerance``; a wrong penalty scale or test error gives a much larger gap."""
    from helpers.theory.linear import ridge_probe_r2

    rng = np.random.default_rng(7)
    cases = [(np.exp(rng.normal(0, 0.5, 30)), 0, 20, 0.1), (np.exp(rng.normal(0, 0.5, 30)), 3, 60, 1.0),
             (np.linspace(0.2, 2.0, 30), 0, 60, 0.3)]
    for i, (r, target, n, ridge) in enumerate(cases, 1):
        try:
            got = float(fn(r, target, n, ridge, 200, i))
        except NotImplementedError as err:
            raise _not_done("ridge probe simulation", str(err)) from None
        expected = ridge_probe_r2(r, target, n, ridge)
        if not abs(got - expected) <= tolerance:
            raise AssertionError(
                f"ridge probe simulation, case {i}/{len(cases)} (d = {len(r)}, n = {n}, ridge = "
                f"{ridge}): your mean R^2 is {got:.3f}, the theory says {expected:.3f}.\nHint: "
                "minimise (1/n)||y - H b||^2 + ridge ||b||^2, i.e. b = (H^T H + n ridge I)^-1 H^T "
                "y; the test R^2 of b is 1 - sum_i (r_i b_i - [i == target])^2.")
    print(f"✓ ridge probe simulation agrees with the theory within {tolerance} "
          f"({len(cases)} cases)")
    return True


# --- Chapter "Expansion and shrinkage" ---------------------------------------------------------

def _expansion_variant(W, u, normalise=True, factor="k", squared=True):
    """The expansion measure with a deliberate mistake switched on (for diagnosing wrong answers)."""
    import torch
    W, u = torch.as_tensor(W, dtype=torch.float64), torch.as_tensor(u, dtype=torch.float64)
    u = u / u.norm() if normalise else u
    num, den = (W @ u).norm(), W.norm()
    if squared:
        num, den = num**2, den**2
    scale = {"k": W.shape[1], "p": W.shape[0], "none": 1}[factor]
    return scale * num / den


def check_expansion_measure(fn, reference=None) -> bool:
    """Check ``fn(W, u)`` = k ||W u||^2 / ||W||_F^2 (u normalised) against the book's version.

    W: (p, k) float64 tensor, u: (k,) tensor, not necessarily of unit length.
    """
    import torch
    if reference is None:
        from helpers.theory.expansion import expansion_measure as reference
    u4 = _randn(1, 4).double()
    q, _ = torch.linalg.qr(_randn(2, 5, 5).double())
    w_alpha = torch.eye(4, dtype=torch.float64) + 2.0 * torch.outer(u4, u4) / u4.norm() ** 2
    cases = [
        ("square W (4, 4), u not of unit length", (_randn(0, 4, 4).double(), 3 * u4)),
        ("an orthogonal W: expect exactly 1", (q, _randn(3, 5).double())),
        ("W_alpha with alpha = 3 along u", (w_alpha, u4)),
        ("rectangular W (3, 6): more inputs than outputs", (_randn(4, 3, 6).double(), _randn(5, 6).double())),
        ("rectangular W (7, 2)", (_randn(6, 7, 2).double(), _randn(7, 2).double())),
    ]
    return check_function(
        fn, lambda W, u: reference(W, u), cases, "expansion measure", atol=1e-8,
        hint="normalise u, then return k * ||W u||^2 / ||W||_F^2 with k = W.shape[1] (the input "
             "dimension) and squared norms.",
        diagnose={
            "did you normalise u to unit length first?": lambda W, u: _expansion_variant(W, u, normalise=False),
            "the factor is the INPUT dimension k = W.shape[1], not the output dimension p":
                lambda W, u: _expansion_variant(W, u, factor="p"),
            "multiply by k: ||W||_F^2 / k is the average squared gain, not ||W||_F^2":
                lambda W, u: _expansion_variant(W, u, factor="none"),
            "use squared norms: E compares energies ||W u||^2 and ||W||_F^2 / k":
                lambda W, u: _expansion_variant(W, u, squared=False),
        })


# --- Chapter 5 (Part III) --------------------------------------------------------------------

def check_sign_keeping_net(W1, W2) -> bool:
    """Check a hand-built ReLU net z = W2 relu(W1 x) on 6 inputs: the output must not change
    when the sign of x_0 flips, the hidden layer must still reveal that sign to a linear probe,
    and the output must keep the ordinary feature x_1."""
    import torch
    from helpers.experiments.nonlinear import sign_keeping_report
    name = "sign-keeping network"
    if W1 is None or W2 is None:
        raise _not_done(name, "return the two weight matrices")
    W1, W2 = torch.as_tensor(W1, dtype=torch.float32), torch.as_tensor(W2, dtype=torch.float32)
    if W1.ndim != 2 or W1.shape[1] != 6 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
        raise AssertionError(f"{name}: expected W1 of shape (width, 6) and W2 of shape (out, width); "
                             f"got {tuple(W1.shape)} and {tuple(W2.shape)}")
    r = sign_keeping_report(W1, W2)
    problems = []
    if r["output change"] > 1e-4:
        problems.append(f"the output changes when x_0 changes sign (by {r['output change']:.3g} of its "
                        "size): combine units so that z depends on x_0 only through an even function")
    if r["sign at h"] < 0.95:
        problems.append(f"a probe reads the sign of x_0 at h with only {100 * r['sign at h']:.1f} % accuracy: "
                        "some hidden unit must respond to x_0 differently for the two signs")
    if r["control at z"] < 0.95:
        problems.append(f"the output lost the ordinary feature x_1 (probe {100 * r['control at z']:.1f} %): "
                        "pass it through, e.g. with units relu(x_1) and relu(-x_1)")
    if problems:
        raise AssertionError(f"{name} is not right:\n- " + "\n- ".join(problems))
    print(f"✓ {name} passed: output unchanged under the flip, sign at h {100 * r['sign at h']:.1f} %, "
          f"x_1 at z {100 * r['control at z']:.1f} %")
    return True


def check_null_fraction(fn, reference=None) -> bool:
    """Check ``fn(W1, W2)`` = ||P W1 e_0|| / ||W1 e_0||, P the projector onto the null space of W2."""
    import torch
    if reference is None:
        from helpers.experiments.nonlinear import null_fraction as reference
    W1, W2 = _randn(0, 8, 6).double(), _randn(1, 3, 8).double()
    inside = W1.clone()
    inside[:, 0] = torch.linalg.svd(W2).Vh[-1]  # a null vector of W2: expect 1
    seen = W1.clone()
    seen[:, 0] = W2[1]  # in the row space: expect 0
    square = _randn(2, 8, 8).double()
    cases = [("random W1 (8, 6), wide null space of W2 (3, 8)", (W1, W2)),
             ("W1 e_0 is a null vector of W2: expect 1", (inside, W2)),
             ("W1 e_0 lies in the row space of W2: expect 0", (seen, W2)),
             ("invertible W2 (8, 8): no null space, expect 0", (W1, square))]
    return check_function(
        lambda a, b: float(fn(a, b)), lambda a, b: reference(a, b), cases, "null-space fraction",
        atol=1e-6, rtol=1e-6,
        hint="project v = W1[:, 0] onto the row space of W2 (e.g. with an orthonormal basis from "
             "torch.linalg.qr(W2.T) or the SVD), subtract, and divide the norm of what is left by ||v||.")


def _gap_map_loops(acc, layers):
    """Reference for check_gap_map, written as plain loops."""
    acc = np.asarray(acc, dtype=float)
    h, z = layers.index("stage4"), layers.index("head output z")
    n_s, n_p, n_seeds, _ = acc.shape
    out = np.zeros((n_s, n_p))
    for i in range(n_s):
        for j in range(n_p):
            out[i, j] = sum(acc[i, j, k, h] - acc[i, j, k, z] for k in range(n_seeds)) / n_seeds
    return out


def check_gap_map(fn) -> bool:
    """Check ``fn(acc, layers)`` -> (n_s, n_p) seed-mean digit accuracy at stage4 minus head output z."""
    layers = ["stage1", "stage2", "stage3", "stage4", "head hidden", "head output z"]
    rng = np.random.default_rng(0)
    cases = [("3 strengths x 4 p_drops x 2 seeds", (rng.uniform(0, 1, (3, 4, 2, 6)), layers)),
             ("one seed", (rng.uniform(0, 1, (2, 3, 1, 6)), layers)),
             ("layers in another order", (rng.uniform(0, 1, (2, 2, 3, 6)), layers[::-1]))]
    return check_function(
        fn, _gap_map_loops, cases, "gap map", atol=1e-9,
        hint="average over the seed axis (axis 2) first, and look the layers up by name with "
             "layers.index(...) rather than by position.")


# Chapter 6 (class collapse): its checks live in their own module.
from helpers.collapse_checks import check_coarse_accuracy, check_fine_gap, check_positive_mask  # noqa: E402,F401

# Chapter 8 (fixed reweighting): its checks live in their own module.
from helpers.reweighting_checks import check_choose_kappa, check_encoder_gains  # noqa: E402,F401

# Chapter 7 (shortcuts): its checks live in their own module.
from helpers.shortcut_checks import check_lle_mixture, check_shortcut_metrics  # noqa: E402,F401
