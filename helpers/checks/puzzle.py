"""Chapter 1's auto-check (the puzzle): ``check_nt_xent``.

The reference is written here from the equation (Chen et al. 2020, eq. 1), independently of
``helpers.losses.nt_xent``, and the book's own function is refused: the exercise is to write it.
"""

from __future__ import annotations

from helpers.checks.core import check_function, randn


def reference_nt_xent(z1, z2, temperature=0.5, normalise=True, mask_self=True):
    """NT-Xent from the equation; ``normalise=False`` / ``mask_self=False`` switch on a known
    mistake (for diagnosing wrong answers). z1, z2: (N, p) -> scalar."""
    import torch
    import torch.nn.functional as F
    z = torch.cat([z1, z2])  # (2N, p)
    z = F.normalize(z, dim=1) if normalise else z
    sim = z @ z.T / temperature  # (2N, 2N)
    if mask_self:
        sim = sim.masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, partner)


_nt_xent_variant = reference_nt_xent  # the name the diagnoses and tests use


def check_nt_xent(fn, reference=None) -> bool:
    """Check ``fn(z1, z2, temperature)`` against :func:`reference_nt_xent` (or ``reference``);
    ``helpers.losses.nt_xent`` itself is refused."""
    from helpers.losses import batched_nt_xent, nt_xent
    reference = reference or reference_nt_xent
    same = randn(5, 1, 8).repeat(6, 1)
    cases = [
        ("N=8, p=16, tau=0.5", (randn(0, 8, 16), randn(1, 8, 16)), {"temperature": 0.5}),
        ("N=32, p=64, tau=0.1", (randn(2, 32, 64), randn(3, 32, 64)), {"temperature": 0.1}),
        ("smallest batch N=2", (randn(4, 2, 4), randn(6, 2, 4)), {"temperature": 0.5}),
        ("N=2, unnormalised large inputs, tau=1", (10 * randn(7, 2, 3), randn(8, 2, 3)),
         {"temperature": 1.0}),
        ("all projections equal, N=6", (same, same.clone()), {"temperature": 0.5}),
    ]
    return check_function(
        fn, reference, cases, "NT-Xent", forbid=(nt_xent, batched_nt_xent),
        hint="normalise the rows, divide the cosine similarities by the temperature, exclude "
             "self-similarity from the denominator, and average over all 2N anchors.",
        diagnose={
            "did you exclude self-similarity from the denominator (mask the diagonal)?":
                lambda *a, **k: reference_nt_xent(*a, **k, mask_self=False),
            "did you L2-normalise the projections before the dot products?":
                lambda *a, **k: reference_nt_xent(*a, **k, normalise=False),
        })
