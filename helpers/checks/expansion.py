"""Chapter 4's auto-check (expansion and shrinkage): ``check_expansion_measure``."""

from __future__ import annotations

from helpers.checks.core import check_function, randn


def _expansion_variant(W, u, normalise=True, factor="k", squared=True):
    """The expansion measure written here (defaults: the right one), or with a deliberate
    mistake switched on (for diagnosing wrong answers). W: (p, k), u: (k,) -> scalar."""
    import torch
    W, u = torch.as_tensor(W, dtype=torch.float64), torch.as_tensor(u, dtype=torch.float64)
    u = u / u.norm() if normalise else u
    num, den = (W @ u).norm(), W.norm()
    if squared:
        num, den = num**2, den**2
    scale = {"k": W.shape[1], "p": W.shape[0], "none": 1}[factor]
    return scale * num / den


def check_expansion_measure(fn, reference=None) -> bool:
    """Check ``fn(W, u)`` = k ||W u||^2 / ||W||_F^2 (u normalised) against the book's version
    (``helpers.theory.expansion.expansion_measure``, refused as an answer).

    W: (p, k) float64 tensor, u: (k,) tensor, not necessarily of unit length.
    """
    import torch
    from helpers.theory.expansion import expansion_measure
    reference = reference or expansion_measure
    u4 = randn(1, 4).double()
    q, _ = torch.linalg.qr(randn(2, 5, 5).double())
    w_alpha = torch.eye(4, dtype=torch.float64) + 2.0 * torch.outer(u4, u4) / u4.norm() ** 2
    cases = [
        ("square W (4, 4), u not of unit length", (randn(0, 4, 4).double(), 3 * u4)),
        ("an orthogonal W: expect exactly 1", (q, randn(3, 5).double())),
        ("W_alpha with alpha = 3 along u", (w_alpha, u4)),
        ("rectangular W (3, 6): more inputs than outputs", (randn(4, 3, 6).double(), randn(5, 6).double())),
        ("rectangular W (7, 2)", (randn(6, 7, 2).double(), randn(7, 2).double())),
    ]
    return check_function(
        fn, lambda W, u: reference(W, u), cases, "expansion measure", atol=1e-8,
        forbid=(expansion_measure,),
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
