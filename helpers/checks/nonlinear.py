"""Chapter 5's auto-checks (nonlinear features): ``check_sign_keeping_net``,
``check_null_fraction``, ``check_gap_map``."""

from __future__ import annotations

import numpy as np

from helpers.checks.core import _NotNumbers, _not_done, as_numbers, check_function, randn


def check_sign_keeping_net(W1, W2) -> bool:
    """Check a hand-built ReLU net z = W2 relu(W1 x) on 6 inputs: the output must not change
    when the sign of x_0 flips, the hidden layer must still reveal that sign to a linear probe,
    and the output must keep the ordinary feature x_1."""
    import torch
    from helpers.experiments.nonlinear import sign_keeping_report
    name = "sign-keeping network"
    if W1 is None or W2 is None:
        raise _not_done(name, "return the two weight matrices")
    try:
        W1, W2 = (torch.as_tensor(as_numbers(w, f"W{i}"), dtype=torch.float32)
                  for i, w in ((1, W1), (2, W2)))
    except _NotNumbers as err:
        raise AssertionError(f"{name}: {str(err).replace('returned', 'is')}.") from None
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
    """Check ``fn(W1, W2)`` = ||P W1 e_0|| / ||W1 e_0||, P the projector onto the null space of W2
    (``helpers.experiments.nonlinear.null_fraction`` is refused as an answer)."""
    import torch
    from helpers.experiments.nonlinear import null_fraction
    reference = reference or null_fraction
    W1, W2 = randn(0, 8, 6).double(), randn(1, 3, 8).double()
    inside = W1.clone()
    inside[:, 0] = torch.linalg.svd(W2).Vh[-1]  # a null vector of W2: expect 1
    seen = W1.clone()
    seen[:, 0] = W2[1]  # in the row space: expect 0
    square = randn(2, 8, 8).double()
    cases = [("random W1 (8, 6), wide null space of W2 (3, 8)", (W1, W2)),
             ("W1 e_0 is a null vector of W2: expect 1", (inside, W2)),
             ("W1 e_0 lies in the row space of W2: expect 0", (seen, W2)),
             ("invertible W2 (8, 8): no null space, expect 0", (W1, square))]
    return check_function(
        fn, lambda a, b: float(reference(a, b)), cases, "null-space fraction",
        atol=1e-6, rtol=1e-6, forbid=(null_fraction,),
        hint="project v = W1[:, 0] onto the row space of W2 (e.g. with an orthonormal basis from "
             "torch.linalg.qr(W2.T) or the SVD), subtract, and divide the norm of what is left by ||v||.")


def _gap_map_loops(acc, layers):
    """Reference for check_gap_map, written as plain loops."""
    acc = np.asarray(acc, dtype=float)
    h, z = layers.index("h"), layers.index("z")
    n_s, n_p, n_seeds, _ = acc.shape
    out = np.zeros((n_s, n_p))
    for i in range(n_s):
        for j in range(n_p):
            out[i, j] = sum(acc[i, j, k, h] - acc[i, j, k, z] for k in range(n_seeds)) / n_seeds
    return out


def check_gap_map(fn) -> bool:
    """Check ``fn(acc, layers)`` -> (n_s, n_p): the seed-mean digit accuracy at h
    (pre-projection) minus that at z (head output)."""
    layers = ["stage1", "stage2", "stage3", "h", "head1", "z"]
    rng = np.random.default_rng(0)
    cases = [("3 strengths x 4 p_drops x 2 seeds", (rng.uniform(0, 1, (3, 4, 2, 6)), layers)),
             ("one seed", (rng.uniform(0, 1, (2, 3, 1, 6)), layers)),
             ("layers in another order", (rng.uniform(0, 1, (2, 2, 3, 6)), layers[::-1]))]
    return check_function(
        fn, _gap_map_loops, cases, "gap map", atol=1e-9,
        hint="average over the seed axis (axis 2) first, and look the layers up by name with "
             "layers.index(...) rather than by position.")
