"""Tables and figures of Chapter 7 from the payload of :func:`helpers.experiments.shortcuts.run`.

Every function reads the cached numbers only (no training), so the chapter's figures and its
explorer redraw instantly.
"""

from __future__ import annotations

import numpy as np

from helpers import evidence
from helpers.experiments import shortcuts
from helpers.experiments.shortcuts import METHOD_NAMES, POST, PRE, layer_names
from helpers.metrics import METRIC_LABELS, METRICS

# Li et al. 2023 on real UrbanCars (ResNet-50), in points, as /work/shared/PAPERS.md (3.6 b)
# lists them: quoted by later papers, NOT verified against the paper's own table.
PAPER = {"ERM": {"both_gap": -69.2},
         "LLE": {"id_acc": 96.7, "bg_gap": -2.1, "coobj_gap": -2.7, "both_gap": -5.9}}
PAPER_SOURCE = ("Li et al. 2023 on real UrbanCars (ResNet-50), as quoted by later papers "
                "(the book's fact sheet, PAPERS.md 3.6 b: not verified against the paper's table)")
EVALUATIONS = (("dfr", "DFR (L1)"), ("dfr_l2", "DFR (L2)"), ("lle", "LLE"),
               ("pooled", "one head, pooled swaps"))


def _stats(dicts: list, key: str) -> tuple[float, float]:
    vals = np.array([d[key] for d in dicts], dtype=float) * 100
    return float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0


def table_rows(payload: dict) -> list[dict]:
    """One row per (method, evaluation): {'method', 'evaluation', 'n_seeds', metric: (mean, std)}
    in points. Evaluations: the network's own classifier; DFR (L1 and L2), LLE and one head on
    the pooled swaps (:data:`EVALUATIONS`) at h (pre-projection) and z (post-projection)."""
    rows = []
    for method in payload["methods"]:
        runs = payload["runs"][method]
        if not runs:
            continue
        evals = []
        if "own" in runs[0]:
            evals.append(("own classifier", [r["own"] for r in runs]))
        for kind, label in EVALUATIONS:
            for layer in (PRE, POST):
                if layer in runs[0].get(kind, {}):
                    name = f"{label} at {layer} ({'pre' if layer == PRE else 'post'}-projection)"
                    evals.append((name, [r[kind][layer] for r in runs]))
        for name, dicts in evals:
            rows.append({"method": METHOD_NAMES[method], "evaluation": name, "n_seeds": len(dicts),
                         **{m: _stats(dicts, m) for m in METRICS}})
    return rows


def format_table(rows: list[dict]) -> str:
    """Rows as aligned text: mean ± std over seeds, in points."""
    head = f"{'method':<36}{'evaluation':<46}{'seeds':>5}" + "".join(
        f"{METRIC_LABELS[m]:>15}" for m in METRICS)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r[m][0]:>9.1f} ±{r[m][1]:>4.1f}" for m in METRICS)
        lines.append(f"{r['method']:<36}{r['evaluation']:<46}{r['n_seeds']:>5}{cells}")
    return "\n".join(lines)


def find_row(rows, method: str, evaluation_prefix: str) -> dict | None:
    for r in rows:
        if r["method"] == METHOD_NAMES[method] and r["evaluation"].startswith(evaluation_prefix):
            return r
    return None


def paper_comparison(payload: dict) -> list[str]:
    """The paper's numbers (as :data:`PAPER_SOURCE` says) next to the stand-in's seed means;
    numbers only: the verdicts are the declared claims' (:func:`findings`)."""
    rows = table_rows(payload)
    out = [f"paper: {PAPER_SOURCE}"]
    erm = find_row(rows, "erm", "own")
    if erm:
        out.append(f"ERM BG+CoObj gap: paper {PAPER['ERM']['both_gap']:+.1f}, stand-in "
                   f"{erm['both_gap'][0]:+.1f} (mean over {erm['n_seeds']} seed(s))")
    for name, lle in (("LLE at h (frozen ERM backbone)", find_row(rows, "erm", "LLE at h")),
                      ("LLE end to end", find_row(rows, "lle_e2e", "own"))):
        if lle and erm:
            for m in ("bg_gap", "coobj_gap", "both_gap"):
                out.append(f"{name}, {METRIC_LABELS[m]}: paper's LLE {PAPER['LLE'][m]:+.1f}, "
                           f"stand-in {lle[m][0]:+.1f} (ERM's own classifier {erm[m][0]:+.1f})")
    return out


def claim_rows(payload: dict, provenance: dict) -> dict:
    """``{claim id: helpers.evidence.Row}`` of the chapter's declared claims, from the payload."""
    return {r.claim.id: r for r in evidence.module_rows(shortcuts, payload, provenance)}


def findings(payload: dict, provenance: dict, ids=None) -> list[str]:
    """The "what we found" sentences of the claims ``ids`` (default all), from the verdicts."""
    rows = claim_rows(payload, provenance)
    return [evidence.finding(r.claim, r.evidence, r.profile, r.data, r.n_seeds, r.status)
            for cid, r in rows.items() if ids is None or cid in ids]


def whac_a_mole(payload: dict) -> dict:
    """Own-classifier gaps (points, seed means) of ERM and the two swap mitigations, and the
    mean changes. ``{'erm': {metric: mean}, 'erm_bgaug': ..., 'erm_coaug': ...,
    'bg_gap_change', 'coobj_gap_change'}`` (changes of the background mitigation)."""
    rows = table_rows(payload)
    res = {m: {k: r[k][0] for k in METRICS} for m in ("erm", "erm_bgaug", "erm_coaug")
           if (r := find_row(rows, m, "own"))}
    if "erm" in res and "erm_bgaug" in res:
        res["bg_gap_change"] = res["erm_bgaug"]["bg_gap"] - res["erm"]["bg_gap"]
        res["coobj_gap_change"] = res["erm_bgaug"]["coobj_gap"] - res["erm"]["coobj_gap"]
    return res


WAM_CLAIMS = ("ch7-wam-bg-raises-coobj", "ch7-wam-coobj-raises-bg")


def whac_a_mole_lines(payload: dict, provenance: dict) -> list[str]:
    """Per seed, the gap each mitigation should raise; then the two claims' computed verdicts
    and what they say together (Whac-A-Mole in both directions only if both are supported)."""
    runs = payload["runs"]
    lines = []
    for method, gap, other in (("erm_bgaug", "coobj_gap", "background"),
                               ("erm_coaug", "bg_gap", "co-object")):
        if not runs.get(method):
            continue
        per_seed = ", ".join(f"{100 * a['own'][gap]:+.1f} vs {100 * b['own'][gap]:+.1f}"
                             for a, b in zip(runs[method], runs["erm"]))
        lines.append(f"{METRIC_LABELS[gap]} with the {other} mitigated vs plain ERM, seed by "
                     f"seed: {per_seed}")
    rows = claim_rows(payload, provenance)
    verdicts = [rows[c].verdict for c in WAM_CLAIMS]
    for c in WAM_CLAIMS:
        lines.append(f"{c}: {rows[c].verdict}")
    lines.append(f"Whac-A-Mole in both directions (both claims supported): "
                 f"{evidence.combined_verdict(verdicts)}")
    return lines


def dfr_layer_lines(payload: dict) -> list[str]:
    """Per seed of the head methods: DFR's worst group and BG+CoObj gap at h and at z."""
    lines = []
    for method in ("erm_head", "supcon_head"):
        for r_seed, run in enumerate(payload["runs"].get(method, [])):
            pre, post = run["dfr"][PRE], run["dfr"][POST]
            lines.append(f"{METHOD_NAMES[method]:<20} seed {r_seed}: worst group h "
                         f"{100 * pre['worst_group']:.1f} vs z {100 * post['worst_group']:.1f} "
                         f"(h - z {100 * (pre['worst_group'] - post['worst_group']):+.1f}); "
                         f"BG+CoObj gap h {100 * pre['both_gap']:+.1f} vs z "
                         f"{100 * post['both_gap']:+.1f}")
    return lines


def lle_lines(payload: dict) -> list[str]:
    """LLE against DFR at the same layer and against one head on the pooled swaps, for every
    network that has them: BG+CoObj gap and worst group (points, mean ± std over seeds)."""
    rows = table_rows(payload)
    lines = []
    for method in ("erm", "erm_head"):
        for layer in (PRE, POST):
            cells = []
            for _, label in EVALUATIONS:
                r = find_row(rows, method, f"{label} at {layer} ")
                if r:
                    cells.append(f"{label} {r['both_gap'][0]:+.1f} ± {r['both_gap'][1]:.1f} "
                                 f"(worst {r['worst_group'][0]:.1f})")
            if cells:
                lines.append(f"{METHOD_NAMES[method]}, at {layer}: BG+CoObj gap " + "; ".join(cells))
    for method in ("erm", "lle_e2e"):  # the end-to-end LLE against ERM's own classifier
        r = find_row(rows, method, "own")
        if r and find_row(rows, "lle_e2e", "own"):
            lines.append(f"{METHOD_NAMES[method]}, own classifier: BG+CoObj gap "
                         f"{r['both_gap'][0]:+.1f} ± {r['both_gap'][1]:.1f} (worst "
                         f"{r['worst_group'][0]:.1f})")
    return lines


def reproduction(payload: dict, provenance: dict, cfg) -> list[str]:
    """The chapter's reproduction boxes (markdown), one per claim; ``cfg`` the run's config."""
    rows = claim_rows(payload, provenance)
    lle_paper = (f"BG+CoObj gap: ERM {PAPER['ERM']['both_gap']:+.1f}, LLE "
                 f"{PAPER['LLE']['both_gap']:+.1f} points ({PAPER_SOURCE})")
    paper = {"ch7-lle-beats-erm": lle_paper, "ch7-lle-e2e-beats-erm": lle_paper}
    data = "the procedural stand-in" if cfg.data == "urbancars-standin" else "real UrbanCars"
    differ = (f"{data} at {cfg.size} px, a {cfg.arch} trained from scratch for {cfg.epochs} "
              f"epochs (the end-to-end LLE {shortcuts.lle_epochs(cfg)} passes over its pooled "
              "set, as many images), model selection on worst-group validation accuracy; LLE "
              "both on the frozen ERM backbone and end to end (the authors train it end to end "
              "on UrbanCars, an ImageNet-pretrained ResNet-50, 300 epochs)")
    return [evidence.reproduction_box(r.claim, r.evidence, r.profile, r.data,
                                      paper.get(cid), differ, n_seeds=r.n_seeds,
                                      status=r.status)
            for cid, r in rows.items()]


def shift_lines(payload: dict) -> list[str]:
    """The in-distribution probe on shifted test sets, h against z (seed means), and the
    watermark model's three readouts."""
    lines = []
    for method in payload["methods"]:
        runs = payload["runs"][method]
        if runs and POST in runs[0]["shifts"]:
            lines.append(f"{METHOD_NAMES[method]} (mean over {len(runs)} seed(s)), h vs z:")
            for shift in runs[0]["shifts"][PRE]:
                pre, post = (100 * np.mean([r["shifts"][layer][shift] for r in runs])
                             for layer in (PRE, POST))
                lines.append(f"   {shift:>16}: {pre:5.1f} % vs {post:5.1f} %  (h - z = {pre - post:+.1f})")
    wm = payload["runs"]["erm_head_wm"][0]["shifts"] if payload["runs"].get("erm_head_wm") else None
    for layer in ("own", PRE, POST) if wm else ():
        lines.append(f"watermark model, {layer:>3}: removed {100 * wm[layer]['watermark_remove']:.1f} %, "
                     f"as trained {100 * wm[layer]['none']:.1f} %, added "
                     f"{100 * wm[layer]['watermark_add']:.1f} %")
    return lines


def plot_dfr_by_layer(payload: dict, provenance: dict):
    """DFR at every layer: worst-group accuracy and BG+CoObj gap, each method a line (mean, and
    every seed as a dot); the pre-projection layer h is shaded."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, method in enumerate(m for m in payload["methods"] if payload["runs"][m]
                               and "dfr" in payload["runs"][m][0]):
        runs = payload["runs"][method]
        layers = runs[0]["layers"]
        for ax, metric in zip(axes, ("worst_group", "both_gap")):
            vals = np.array([[r["dfr"][l][metric] for l in layers] for r in runs]) * 100
            x = np.arange(len(layers))
            ax.plot(x, vals.mean(0), marker="o", color=plots.PALETTE[i], label=METHOD_NAMES[method])
            for v in vals:
                ax.scatter(x, v, s=10, color=plots.PALETTE[i], alpha=0.45)
    for ax, metric in zip(axes, ("worst_group", "both_gap")):
        layers = layer_names("erm_head")
        names = [{PRE: f"{PRE} (pre)", POST: f"{POST} (post)"}.get(l, l) for l in layers]
        ax.set_xticks(range(len(names)), names, rotation=20)
        ax.axvline(layers.index(PRE), color="0.75", lw=8, alpha=0.35, zorder=0)
        ax.set_ylabel(f"DFR test {METRIC_LABELS[metric]} (points)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Last-layer retraining (DFR) at every layer", fontsize=11)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "mean over seeds, dots = seeds"))
    return fig


def plot_whac_a_mole(payload: dict, provenance: dict):
    """Gaps of ERM and of ERM with the background or the co-object swapped (own classifiers):
    Whac-A-Mole. Bars: mean ± std over seeds; dots: the seeds."""
    import matplotlib.pyplot as plt

    from helpers import plots

    rows = table_rows(payload)
    methods = [m for m in ("erm", "erm_bgaug", "erm_coaug") if find_row(rows, m, "own")]
    gaps = ("bg_gap", "coobj_gap", "both_gap")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = np.arange(len(gaps))
    w = 0.8 / len(methods)
    for i, m in enumerate(methods):
        r = find_row(rows, m, "own")
        at = x + (i - (len(methods) - 1) / 2) * w
        ax.bar(at, [r[g][0] for g in gaps], yerr=[r[g][1] for g in gaps],
               width=0.95 * w, color=plots.PALETTE[i], label=METHOD_NAMES[m], capsize=3)
        for run in payload["runs"][m]:
            ax.scatter(at, [100 * run["own"][g] for g in gaps], s=8, color="k", zorder=3)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [METRIC_LABELS[g] for g in gaps])
    ax.set_ylabel("gap (points; 0 = no reliance)")
    ax.set_title("Mitigating one shortcut: what happens to the other one?")
    ax.legend(fontsize=8)
    plots.add_caption(fig, plots.provenance_caption(provenance, "own classifiers, mean ± std over seeds"))
    return fig


def plot_lle(payload: dict, provenance: dict, method: str = "erm"):
    """LLE against its references on one network (default ERM): the own classifier, DFR (L1)
    at the same layer, and one head on the pooled swaps, at h; then the LLE trained end to end
    (its own networks, same seeds); BG+CoObj gap and worst group (bars: mean over seeds, dots:
    seeds)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    runs = payload["runs"][method]
    reads = [("own classifier", runs, lambda r: r["own"])] + [
        (f"{label} at h", runs, lambda r, k=kind: r[k][PRE]) for kind, label in EVALUATIONS
        if PRE in runs[0].get(kind, {})]
    if payload["runs"].get("lle_e2e"):  # its own network, same seeds
        reads.append(("LLE end to end", payload["runs"]["lle_e2e"], lambda r: r["own"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, metric in zip(axes, ("both_gap", "worst_group")):
        vals = np.array([[100 * get(r)[metric] for r in rs] for _, rs, get in reads])
        x = np.arange(len(reads))
        ax.bar(x, vals.mean(1), color=[plots.PALETTE[i % len(plots.PALETTE)] for i in x])
        for i, v in enumerate(vals):
            ax.scatter(np.full(len(v), i), v, s=10, color="k", zorder=3)
        ax.set_xticks(x, [name for name, _, _ in reads], rotation=20, fontsize=8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylabel(f"{METRIC_LABELS[metric]} (points)")
    fig.suptitle(f"Last Layer Ensemble on {METHOD_NAMES[method]}: against DFR and one pooled head; "
                 "and trained end to end", fontsize=10)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "bars = mean over seeds, dots = seeds"))
    return fig


def plot_shifts(payload: dict, provenance: dict):
    """In-distribution probe accuracy on each shifted test set, h vs z, for the head methods."""
    import matplotlib.pyplot as plt

    from helpers import plots

    methods = [m for m in payload["methods"] if payload["runs"][m]
               and POST in payload["runs"][m][0]["shifts"]]
    fig, axes = plt.subplots(1, len(methods), figsize=(4.6 * len(methods), 3.6), squeeze=False)
    for ax, m in zip(axes[0], methods):
        runs = payload["runs"][m]
        shifts = list(runs[0]["shifts"][PRE])
        x = np.arange(len(shifts))
        for j, layer in enumerate((PRE, POST)):
            vals = np.array([[r["shifts"][layer][s] for s in shifts] for r in runs]) * 100
            ax.bar(x + (j - 0.5) * 0.38, vals.mean(0), width=0.36, color=plots.PALETTE[j],
                   label=f"{layer} ({'pre' if layer == PRE else 'post'}-projection)")
        ax.set_xticks(x, shifts, rotation=30, fontsize=8)
        ax.set_ylim(0, 100)
        ax.axhline(50, ls="--", color="0.5", lw=1)
        ax.set_title(METHOD_NAMES[m], fontsize=9)
    axes[0, 0].set_ylabel("probe test accuracy (%)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "probe fit on in-distribution "
                                                    "training features; dashed = chance"))
    return fig


def plot_learnability(payload: dict, provenance: dict):
    """Test accuracy of networks trained on one cue alone, after each epoch: the mean over seeds
    (line) and each seed (faint). None when the payload has no learnability runs (real data)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    if not payload.get("learnability"):
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for i, (cue, curves) in enumerate(payload["learnability"].items()):
        acc = 100 * np.atleast_2d(np.asarray(curves, dtype=float))  # (seeds, epochs)
        epochs = np.arange(1, acc.shape[1] + 1)
        for row in acc:
            ax.plot(epochs, row, color=plots.PALETTE[i], alpha=0.25, lw=0.8)
        ax.plot(epochs, acc.mean(0), marker="o", color=plots.PALETTE[i],
                label=f"{cue} ({len(acc)} seed{'s' * (len(acc) > 1)})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy for that cue (%)")
    ax.set_title("How fast is each cue learned on its own?")
    ax.legend(fontsize=8)
    plots.add_caption(fig, plots.provenance_caption(
        provenance, "procedural stand-in: balanced images, cues independent"))
    return fig


def learnability_lines(payload: dict) -> list[str]:
    """Each cue's mean accuracy after the first and the last epoch and over all epochs (the area
    the structure check compares), mean over seeds; the order, fastest first."""
    learn = payload.get("learnability")
    if not learn:
        return ["no learnability runs in this result (its data is not the procedural stand-in)"]
    auc = {}
    lines = []
    for cue, curves in learn.items():
        acc = 100 * np.atleast_2d(np.asarray(curves, dtype=float))
        auc[cue] = acc.mean()
        lines.append(f"{cue:>12}: after epoch 1 {acc[:, 0].mean():.1f} %, after epoch "
                     f"{acc.shape[1]} {acc[:, -1].mean():.1f} %, mean over epochs {auc[cue]:.1f} % "
                     f"({len(acc)} seeds)")
    lines.append("learned fastest to slowest (mean over epochs): "
                 + " > ".join(sorted(auc, key=lambda c: -auc[c])))
    return lines


def metric_drawer(payload: dict):
    """``draw(ax, method, evaluation)`` for the explorer: the five metrics of one row."""
    rows = table_rows(payload)

    def draw(ax, method, evaluation):
        r = find_row(rows, method, evaluation)
        ax.clear()
        if r is None:
            ax.text(0.5, 0.5, "not computed for this method", ha="center", transform=ax.transAxes)
            return
        vals = [r[m][0] for m in METRICS]
        ax.bar(range(len(METRICS)), vals, yerr=[r[m][1] for m in METRICS], capsize=3,
               color=["0.5" if v >= 0 else "#D55E00" for v in vals])
        ax.set_xticks(range(len(METRICS)), [METRIC_LABELS[m] for m in METRICS], fontsize=7,
                      rotation=20)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylim(-100, 100)
        ax.set_title(f"{METHOD_NAMES[method]} | {r['evaluation']}", fontsize=8)

    return draw


def example_rows(size: int, seed: int = 0, n: int = 8) -> tuple[dict, list]:
    """Images for the chapter's example figure: one column per group (label, bg, co-object),
    one row per test shift, and the LLE's two swapped training distributions
    (:func:`helpers.data.urbancars.swap_cues`: the cue pasted from an image of the other class)."""
    import torch

    from helpers.data.urbancars import GROUP_NAMES, make_urbancars, swap_cues

    shifts = ("none", "bg_flip", "coobj_flip", "both_flip", "watermark_add", "style_edges",
              "style_colour")
    base = make_urbancars("test", size=size, seed=seed, n=64)
    first = [int((base.extra["group"] == g).nonzero()[0]) for g in range(8)][:n]
    rows = {}
    for s in shifts:
        d = make_urbancars("test", size=size, seed=seed, n=64, shift=s)
        rows[s] = d.images[torch.tensor(first)]
    masked = make_urbancars("test", size=size, seed=seed, n=64, return_masks=True)
    for mode in ("bg", "coobj"):
        rows[f"{mode}_swap"] = swap_cues(masked, mode, seed).images[torch.tensor(first)]
    return rows, [GROUP_NAMES[g].replace(", ", "\n") for g in range(8)][:n]


SWEEP_READOUTS = (("own", "own classifier (z)"), ("dfr_h", "DFR at h (pre)"),
                  ("dfr_z", "DFR at z (post)"))


def sweep_lines(payload: dict) -> list[str]:
    """The correlation sweep's BG+CoObj gaps per agreement, and whether the own classifier's
    gap grew with the shortcut."""
    sweep = payload["sweep"]
    lines = []
    for j, agree in enumerate(sweep["agreements"]):
        gaps = {key: 100 * sweep[key][j]["both_gap"] for key, _ in SWEEP_READOUTS}
        lines.append(f"agreement {100 * agree:4.0f} %: BG+CoObj gap own {gaps['own']:+6.1f}, "
                     f"DFR at h {gaps['dfr_h']:+6.1f}, DFR at z {gaps['dfr_z']:+6.1f} points")
    own = [100 * m["both_gap"] for m in sweep["own"]]
    lines.append("own classifier's BG+CoObj gap at the strongest vs the weakest agreement: "
                 f"{own[-1]:+.1f} vs {own[0]:+.1f} points -> "
                 + ("the gap grew with the shortcut" if own[-1] < own[0] else "no growth in this run"))
    return lines


def plot_correlation_sweep(payload: dict, provenance: dict):
    """BG, CoObj and BG+CoObj gaps against the training cue-label agreement, one line per
    read-out (own classifier, DFR at h, DFR at z) of the sweep's ERM + head networks."""
    import matplotlib.pyplot as plt

    from helpers import plots

    sweep = payload["sweep"]
    x = 100 * np.array(sweep["agreements"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, gap in zip(axes, ("bg_gap", "coobj_gap", "both_gap")):
        for i, (key, name) in enumerate(SWEEP_READOUTS):
            ax.plot(x, [100 * m[gap] for m in sweep[key]], marker="o", color=plots.PALETTE[i],
                    label=name)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("training cue-label agreement (%)")
        ax.set_title(METRIC_LABELS[gap], fontsize=10)
    axes[0].set_ylabel("gap (points; 0 = no reliance)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "ERM + MLP head, one network "
                                                    "per agreement (first seed)"))
    return fig


def sweep_drawer(payload: dict):
    """``draw(ax, agreement)`` for the explorer: the five metrics of each read-out at one
    training cue-label agreement of the sweep."""
    from helpers import plots

    sweep = payload["sweep"]

    def draw(ax, agreement):
        j = sweep["agreements"].index(agreement)
        ax.clear()
        x = np.arange(len(METRICS))
        for i, (key, name) in enumerate(SWEEP_READOUTS):
            ax.bar(x + (i - 1) * 0.27, [100 * sweep[key][j][m] for m in METRICS], width=0.26,
                   label=name, color=plots.PALETTE[i])  # the colours of plot_correlation_sweep
        ax.set_xticks(x, [METRIC_LABELS[m] for m in METRICS], fontsize=7, rotation=20)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylim(-100, 100)
        ax.set_title(f"cues agree with the label in {100 * agreement:.0f} % of training images",
                     fontsize=8)
        ax.legend(fontsize=6, loc="lower left")

    return draw
