r"""Chapter 2's reading of the feature-weighting payload: balance, the two spectra, the data model.

The training lives in :mod:`helpers.experiments.feature_weighting`; this module only reads its
payload (and the closed forms of :mod:`helpers.theory.linear`), so every number the chapter's
prose quotes is printed from here.

Two notions of "more normalised" are kept apart:

* the **gains** :math:`g_i^{\,l/L}` the first ``l`` layers apply to each feature (the network's
  weighting). Their effective rank falls with ``l`` for *any* gains: it restates the exponent
  rule (:func:`gains_rank_is_monotone` says why);
* the **representation's spectrum**, the standard deviation :math:`\phi_i g_i^{\,l/L}` of
  feature ``i`` in layer ``l``'s output for a clean input. This is what a probe sees, and its
  effective rank need not be monotone in ``l``.
"""

from __future__ import annotations

import numpy as np

from helpers.theory import linear as theory

# The exponent-rule checks of tests/test_theory_linear.py, (depth, init scale, steps, relative
# tolerance): defined here so that the chapter prints the tolerances the test uses.
EXPONENT_RULE_TESTS = ((2, 0.01, 20_000, 0.01), (3, 0.07, 60_000, 0.03))


def balance_report(payload: dict, lr: float) -> list[dict]:
    r"""Per depth: how much the weights grew, how balanced they ended, and the finite-step drift.

    From the recorded history of each run (``imbalance`` and ``weight_scale``, both (T, L - 1)):

    * ``growth`` (L - 1,): :math:`\|W_l W_l^\top\|_F` at the end over its value at the start;
    * ``final_imbalance``: :math:`\max_l \|D_l\|_F / \|W_l W_l^\top\|_F` at the end;
    * ``rule_error``: the exponent rule's largest relative error (the run's ``max_rel_error``);
    * ``drift``: :math:`\max_{l,t} \big|\|D_l(t)\|_F - \|D_l(0)\|_F\big|`, how far the recorded
      imbalance moved; ``drift_bound`` = ``lr`` times the loss decrease over the run, the
      leading-order bound on :math:`\|D_l(T) - D_l(0)\|_F` for gradient descent (the chapter's
      first exercise), which bounds ``drift`` too.

    Raises:
        ValueError: ``lr`` not > 0, or a run with fewer than two layers (no imbalance).
    """
    if not lr > 0:
        raise ValueError(f"lr must be the run's step size (> 0); got {lr}")
    rows = []
    for r in payload["runs"]:
        imb, scale = np.asarray(r["imbalance"], float), np.asarray(r["weight_scale"], float)
        if imb.ndim != 2 or imb.shape[1] == 0:
            raise ValueError(f"depth {r['depth']}: no imbalance recorded (needs L >= 2)")
        loss = np.asarray(r["loss"], float)
        rows.append({"depth": r["depth"], "init_scale": r["init_scale"],
                     "growth": scale[-1] / scale[0],
                     "final_imbalance": float(np.max(imb[-1] / scale[-1])),
                     "rule_error": float(r["max_rel_error"]),
                     "drift": float(np.max(np.abs(imb - imb[0]))),
                     "drift_bound": float(lr * (loss[0] - loss.min()))})
    return rows


def format_balance(rows: list[dict]) -> str:
    """The rows of :func:`balance_report` as a text table, one line per depth."""
    lines = ["depth | init scale | ||W_l W_l^T||_F grew by (l = 1, ...) | final imbalance "
             "| exponent-rule error | drift of ||D_l|| (bound lr x loss decrease)"]
    for r in rows:
        growth = ", ".join(f"x{g:.3g}" for g in r["growth"])
        lines.append(f"L = {r['depth']} | {r['init_scale']:g} | {growth} | "
                     f"{100 * r['final_imbalance']:.1f} % | {100 * r['rule_error']:.2f} % | "
                     f"{r['drift']:.2g} (<= {r['drift_bound']:.2g})")
    return "\n".join(lines)


def plateaus(payload: dict, tol: float = 1e-3) -> list[dict]:
    r"""Per depth: the loss's plateaus, each matched to the set of features learned by then.

    With feature i's gain either 0 (not learned) or at its optimum, the loss is the minimum plus
    :math:`\sum_{i \notin K} m_i^2 / s_i^2` over the features K not learned yet. A plateau is a
    run of at least two consecutive records whose gap to the minimum changes by < ``tol``; it is
    matched to the set K whose predicted gap is nearest. Returns per depth ``{"depth", "plateaus":
    [{"step", "gap", "learned" (1-based feature numbers), "residual"}]}``: a small residual
    against the spacing of the candidate levels is what supports "one feature at a time"."""
    import itertools

    m, s = theory.feature_moments(payload["phi"], payload["p"], payload["sigma"])
    share = m**2 / s**2  # what learning feature i takes off the loss
    d = share.size
    subsets = [frozenset(c) for k in range(d + 1) for c in itertools.combinations(range(d), k)]
    levels = np.array([share[sorted(set(range(d)) - k)].sum() for k in subsets])
    out = []
    for r in payload["runs"]:
        gap = np.asarray(r["loss"], float) - payload["optimal_loss"]
        steps = np.asarray(r["history_steps"])
        flat = np.abs(np.diff(gap)) < tol
        found, t = [], 0
        while t < flat.size:
            if not flat[t]:
                t += 1
                continue
            end = t
            while end < flat.size and flat[end]:
                end += 1
            level = float(np.mean(gap[t:end + 1]))
            best = int(np.argmin(np.abs(levels - level)))
            if not found or found[-1]["learned"] != sorted(i + 1 for i in subsets[best]):
                found.append({"step": int(steps[t]), "gap": level,
                              "learned": sorted(i + 1 for i in subsets[best]),
                              "residual": float(abs(levels[best] - level))})
            t = end
        out.append({"depth": r["depth"], "plateaus": found})
    return out


def format_plateaus(rows: list[dict], payload: dict) -> str:
    """The rows of :func:`plateaus` as text, with the features ranked by m_i for comparison."""
    m, _ = theory.feature_moments(payload["phi"], payload["p"], payload["sigma"])
    lines = ["features ranked by m_i (largest first): "
             + ", ".join(str(i + 1) for i in np.argsort(-m, kind="stable"))]
    for r in rows:
        lines.append(f"L = {r['depth']}:")
        for pl in r["plateaus"]:
            learned = ", ".join(map(str, pl["learned"])) or "none"
            lines.append(f"  from step {pl['step']:>7}: gap {pl['gap']:.4f}, learned {{{learned}}}"
                         f" (predicted gap off by {pl['residual']:.1e})")
    return "\n".join(lines)


def gains_rank_is_monotone(gains, depth: int) -> bool:
    r"""Whether the effective rank of :math:`g^{\,l/L}` is non-increasing in l (it always is).

    With :math:`u_i = \log g_i^2` and :math:`q_i \propto e^{t u_i}`, :math:`t = l/L`, the entropy
    :math:`H(t)` of q has :math:`H'(t) = -t\,\mathrm{Var}_q(u) \le 0`: a larger exponent can only
    concentrate the weights. So this measure cannot disagree with the exponent rule; it is a
    summary of it, not extra evidence. ``gains`` (d,) positive."""
    ranks = theory.effective_rank(theory.layer_gains(gains, depth))
    return bool(np.all(np.diff(ranks) <= 1e-12 * ranks[:-1]))


def representation_spectrum(phi, gains_by_layer) -> np.ndarray:
    r"""Standard deviation of each feature in each layer's output for a clean input, (L + 1, d).

    Row 0 is the input (:math:`\phi_i`), row l the layer-l output :math:`\phi_i\,\|W_l\cdots W_1
    e_i\|`. Balanced layers make the columns of :math:`W_l\cdots W_1` orthogonal (its Gram matrix
    is the diagonal :math:`(W^\top W)^{l/L}`), so these are the square roots of the eigenvalues of
    the layer's covariance. ``phi`` (d,), ``gains_by_layer`` (L, d) for layers 1..L."""
    phi = np.asarray(phi, dtype=float)
    gains = np.asarray(gains_by_layer, dtype=float)
    if gains.ndim != 2 or gains.shape[1] != phi.size:
        raise ValueError(f"gains_by_layer must be (L, d) with d = len(phi) = {phi.size}; "
                         f"got shape {gains.shape}")
    return phi[None, :] * np.vstack([np.ones(phi.size), gains])


def spectra(payload: dict) -> list[dict]:
    """Per depth, effective ranks by layer (index 0 = input, (L + 1,) each):

    ``gains`` (theory; the input row is all ones, so rank d), ``representation`` (theory and
    ``representation_gd`` from the trained gains), and ``representation_sigma0``: the theory's
    representation of the same features with no augmentation noise."""
    phi, p = np.asarray(payload["phi"], float), np.asarray(payload["p"], float)
    g, g0 = np.asarray(payload["end_to_end_gains"], float), theory.optimal_gains(phi, p, 0.0)
    out = []
    for r in payload["runs"]:
        depth = r["depth"]
        out.append({
            "depth": depth,
            "gains": theory.effective_rank(theory.layer_gains(g, depth)),
            "representation": theory.effective_rank(theory.layer_strengths(phi, g, depth)),
            "representation_gd": theory.effective_rank(
                representation_spectrum(phi, r["sim_gains"])),
            "representation_sigma0": theory.effective_rank(
                theory.layer_strengths(phi, g0, depth)),
        })
    return out


def format_spectra(rows: list[dict]) -> str:
    """The rows of :func:`spectra` as text: one block per depth, layers 0 (input) .. L."""
    def fmt(v):
        return " -> ".join(f"{x:.2f}" for x in v)

    lines = []
    for r in rows:
        lines += [f"L = {r['depth']}, layers 0 (input) .. {r['depth']}:",
                  f"  effective rank of the gains          {fmt(r['gains'])}",
                  f"  ... of the representation (theory)   {fmt(r['representation'])}",
                  f"  ... of the representation (GD)       {fmt(r['representation_gd'])}",
                  f"  ... of the representation, sigma = 0 {fmt(r['representation_sigma0'])}"]
    return "\n".join(lines)


def plot_representation_spectrum(payload: dict, provenance: dict):
    """Left: each feature's std at the input, h and z of the two-layer net (normalised per layer).
    Right: effective rank vs relative depth, of the gains (dashed) and of the representation
    (solid: theory, dots: GD; grey: the same features with sigma = 0)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    phi = np.asarray(payload["phi"], float)
    runs = {r["depth"]: r for r in payload["runs"]}
    two = runs.get(2, payload["runs"][0])
    fig, (ax_bar, ax_rank) = plt.subplots(1, 2, figsize=(10.5, 3.5))
    spec = theory.normalise_layer(representation_spectrum(phi, two["sim_gains"]))
    names = ["input x"] + [f"layer {l}" for l in range(1, two["depth"] + 1)]
    if two["depth"] == 2:
        names = ["input x", "h (before the head)", "Wx (after the head)"]
    width = 0.8 / len(spec)
    for k, (row, name) in enumerate(zip(spec, names)):
        ax_bar.bar(np.arange(phi.size) + (k - (len(spec) - 1) / 2) * width, row, width,
                   color=plots.PALETTE[k], label=name)
    ax_bar.set_xticks(range(phi.size),
                      [rf"$\phi$={f:g}" + f"\np={q:g}" for f, q in zip(phi, payload["p"])],
                      fontsize=7)
    ax_bar.set_ylabel("feature std (layer normalised)")
    ax_bar.set_title(f"The representation's spectrum, L = {two['depth']} (GD)")
    ax_bar.legend(fontsize=7)
    for k, row in enumerate(spectra(payload)):
        color, frac = plots.PALETTE[k], np.arange(row["depth"] + 1) / row["depth"]
        ax_rank.plot(frac, row["gains"], color=color, ls="--", lw=1)
        ax_rank.plot(frac, row["representation"], color=color, lw=1.4,
                     label=f"L = {row['depth']}")
        ax_rank.scatter(frac, row["representation_gd"], color=color, s=20, zorder=3)
        ax_rank.plot(frac, row["representation_sigma0"], color="0.55", lw=1, ls=":")
    ax_rank.axhline(phi.size, color="0.6", lw=0.8)
    ax_rank.set_xlabel("relative depth l / L (0 = input)")
    ax_rank.set_ylabel("effective rank")
    ax_rank.set_title("Solid: representation; dashed: gains; dotted grey: sigma = 0", fontsize=9)
    ax_rank.legend(fontsize=8)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "dots: gradient descent"))
    return fig


def plot_data_model(model, n_pairs: int = 40, seed: int = 0):
    """The data model at a glance, for a :class:`helpers.data.features.FeatureModel`.

    Left: ``n_pairs`` inputs x (dots) joined to their second view x+ (segments), in the plane of
    features 1 and 2. Right: per feature, the variance of one view split into the part both views
    share (m_i), the part augmentation redraws (p_i phi_i^2) and the noise (sigma^2), with the
    trained map's gain g_i on a second axis."""
    import matplotlib.pyplot as plt
    import torch

    from helpers import plots

    phi, p = np.asarray(model.phi, float), np.asarray(model.p, float)
    if phi.size < 2:
        raise ValueError(f"the data-model figure needs at least 2 features; got {phi.size}")
    gen = torch.Generator().manual_seed(seed)
    x, x_plus = (t.numpy() for t in model.sample_pairs(n_pairs, gen))
    fig, (ax_pairs, ax_var) = plt.subplots(1, 2, figsize=(10.5, 3.7))
    for a, b in zip(x, x_plus):
        ax_pairs.plot([a[0], b[0]], [a[1], b[1]], color="0.6", lw=0.8)
    ax_pairs.scatter(x[:, 0], x[:, 1], s=14, color=plots.PALETTE[0], zorder=3, label="x")
    ax_pairs.scatter(x_plus[:, 0], x_plus[:, 1], s=14, facecolor="none",
                     edgecolor=plots.PALETTE[1], zorder=3, label=r"$x^+$")
    ax_pairs.set_aspect("equal", adjustable="datalim")
    ax_pairs.set_xlabel(rf"feature 1 ($\phi$={phi[0]:g}, p={p[0]:g})")
    ax_pairs.set_ylabel(rf"feature 2 ($\phi$={phi[1]:g}, p={p[1]:g})")
    ax_pairs.set_title(f"{n_pairs} inputs joined to their second view", fontsize=9)
    ax_pairs.legend(fontsize=8)
    m, s = theory.feature_moments(phi, p, model.sigma)
    idx = np.arange(phi.size)
    parts = [(m, r"shared by both views, $m_i$"), (p * phi**2, r"redrawn, $p_i\phi_i^2$"),
             (np.full(phi.size, model.sigma**2), r"noise, $\sigma^2$")]
    bottom = np.zeros(phi.size)
    for k, (part, label) in enumerate(parts):
        ax_var.bar(idx, part, 0.6, bottom=bottom, color=plots.PALETTE[k], label=label)
        bottom += part
    ax_var.set_xticks(idx, [f"feature {i + 1}" for i in idx])
    ax_var.set_ylabel(r"variance of one view, $s_i$")
    ax_gain = ax_var.twinx()
    ax_gain.plot(idx, np.sqrt(m) / s, "kD-", ms=6, lw=1, label=r"gain $g_i=\sqrt{m_i}/s_i$")
    ax_gain.set_ylabel(r"gain $g_i$")
    ax_gain.set_ylim(0, 1.6 * np.max(np.sqrt(m) / s))  # head room for the legend
    ax_var.set_ylim(0, 1.6 * np.max(s))
    handles = ax_var.get_legend_handles_labels()[0] + ax_gain.get_legend_handles_labels()[0]
    ax_var.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right")
    ax_var.set_title("What the loss sees of each feature", fontsize=9)
    fig.tight_layout()
    plots.add_caption(fig, f"illustration: {n_pairs} sampled pairs (seed {seed}); bars and gains "
                           "from the closed forms")
    return fig
