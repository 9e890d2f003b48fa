"""Chapter 8's analysis: choosing k on validation, tables, figures. Reads payloads only.

The training lives in :mod:`helpers.experiments.reweighting` (the image experiments) and
:mod:`helpers.experiments.reweighting_linear` (the linear model).
"""

from __future__ import annotations

import numpy as np

from helpers.experiments.reweighting_linear import LAYER_LABELS

SETTING_NAMES = {"simclr": "SimCLR (digits on images)", "supcon": "SupCon on coarse labels",
                 "ce": "cross-entropy on coarse labels"}


# --- the image experiments -------------------------------------------------------------------

def accuracy(part: dict) -> np.ndarray:
    """(heads, seeds, tasks, layers, splits) array of one setting's payload."""
    return np.asarray(part["acc"], dtype=float)


def choose_kappa(kappas, val_accuracy) -> float:
    """The k with the highest mean validation accuracy; ties go to the smaller k.

    Args:
        kappas: (K,) candidate k. val_accuracy: (K,) or (K, seeds) validation accuracies.
            Only validation numbers come in: the test split cannot influence the choice.

    Raises:
        ValueError: shapes disagree, no candidates, or non-finite accuracies.
    """
    kappas = np.asarray(kappas, dtype=float)
    val = np.asarray(val_accuracy, dtype=float)
    val = val.reshape(len(val), -1).mean(axis=1) if val.ndim else val
    if kappas.ndim != 1 or kappas.size == 0 or val.shape != kappas.shape:
        raise ValueError(f"need one validation score (or one row per seed) per k; got "
                         f"{kappas.size} k and accuracies of shape {np.shape(val_accuracy)}")
    if not np.all(np.isfinite(val)):
        raise ValueError(f"validation accuracies must be finite; got {val}")
    best = np.flatnonzero(val == val.max())
    return float(kappas[best][np.argmin(kappas[best])])


def fixed_heads(part: dict) -> list[int]:
    """Row indices of the fixed-head candidates: ``'k=...'`` with k > 1. Never the no-head
    reference ('none', k = 1) nor the MLP head."""
    return [i for i, name in enumerate(part["heads"])
            if name.startswith("k=") and float(name[2:]) > 1.0]


def select_kappa(part: dict, task: str, layer: str = "h") -> dict:
    """Choose k for ``task`` read at ``layer`` by mean VALIDATION accuracy over seeds.

    Only the fixed heads with k > 1 compete (:func:`fixed_heads`): no head (k = 1) is the
    reference row, and the 'mlp' row is not a k. Ties go to the smaller k (the weaker head).
    The test accuracy of the chosen k is reported, never used to choose.

    Returns ``{"kappa", "row", "val", "test", "test_std", "test_seeds"}`` (accuracies in
    [0, 1]; ``test_seeds`` (seeds,) the chosen row's test accuracy per seed).

    Raises:
        ValueError: unknown task or layer, or no fixed head with k > 1 in the results.
    """
    if task not in part["tasks"] or layer not in part["layers"]:
        raise ValueError(f"task must be one of {part['tasks']} and layer one of "
                         f"{part['layers']}; got {task!r}, {layer!r}")
    fixed = fixed_heads(part)
    if not fixed:
        raise ValueError(f"no fixed head with k > 1 among the heads {part['heads']}")
    acc = accuracy(part)
    t, l = part["tasks"].index(task), part["layers"].index(layer)
    v, s = part["splits"].index("val"), part["splits"].index("test")
    kappas = [float(part["heads"][i][2:]) for i in fixed]
    best = fixed[kappas.index(choose_kappa(kappas, acc[fixed, :, t, l, v]))]
    return {"kappa": float(part["heads"][best][2:]), "row": best,
            "val": float(acc[best, :, t, l, v].mean()),
            "test": float(acc[best, :, t, l, s].mean()),
            "test_std": float(acc[best, :, t, l, s].std()),
            "test_seeds": acc[best, :, t, l, s]}


def head_label(part: dict, i: int) -> str:
    """'no head (k = 1)', '2-layer MLP head', or 'k=1.16 (w=1e-02)' with the last weight."""
    name = part["heads"][i]
    if name == "none":
        return "no head (k = 1)"
    if name == "mlp":
        return "2-layer MLP head"
    w = part.get("last_weights", [None] * len(part["heads"]))[i]
    return name if w is None else f"{name} (w={w:.0e})"


def kappa_table(part: dict, key: str = "acc") -> list[list[str]]:
    """Rows: head; columns: test accuracy (%) mean +- std over seeds per task and layer.
    ``key='untrained_acc'``: the untrained networks (the control)."""
    acc = np.asarray(part[key], dtype=float)
    s = part["splits"].index("test")
    rows = [["head"] + [f"{task} @ {layer}" for task in part["tasks"] for layer in part["layers"]]]
    for i in range(len(part["heads"])):
        rows.append([head_label(part, i)] + [f"{100 * acc[i, :, t, l, s].mean():.1f} ± "
                                             f"{100 * acc[i, :, t, l, s].std():.1f}"
                                             for t in range(len(part["tasks"]))
                                             for l in range(len(part["layers"]))])
    return rows


def _print_rows(rows) -> None:
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def print_table(part: dict, provenance: dict | None = None) -> None:
    """:func:`kappa_table` as text, under a header naming the profile and data when given."""
    if provenance is not None:
        print(f"test accuracy (%), mean ± std over {len(part['acc'][0])} seed(s); profile "
              f"{provenance['profile']}, data: {part['data_description']}")
    _print_rows(kappa_table(part))


def control_rows(part: dict) -> list[list[str]]:
    """The untrained control next to the trained runs: per head and task, the test h - z gap
    (points, mean over seeds) of the trained networks and of the same networks untrained,
    through the same probe. A gap the untrained network shows too is the probe's, not
    learned."""
    s = part["splits"].index("test")
    h, z = part["layers"].index("h"), part["layers"].index("z")
    trained, untrained = accuracy(part), np.asarray(part["untrained_acc"], dtype=float)
    rows = [["head"] + [f"{task}: h - z trained | untrained" for task in part["tasks"]]]
    for i in range(len(part["heads"])):
        cells = []
        for t in range(len(part["tasks"])):
            gap = [100 * (a[i, :, t, h, s] - a[i, :, t, z, s]).mean() for a in (trained, untrained)]
            cells.append(f"{gap[0]:+.1f} | {gap[1]:+.1f}")
        rows.append([head_label(part, i)] + cells)
    return rows


def print_control(part: dict) -> None:
    """:func:`control_rows` as text."""
    print("test h - z (points, mean over seeds): trained networks | the same networks "
          "untrained, same probe")
    _print_rows(control_rows(part))


def h_comparison(part: dict, task: str) -> dict:
    """The paper's comparison, per seed, all read at h with the same probe (test, points):
    the fixed-head network (k chosen on validation at h), the MLP-head network and the no-head
    network. ``{"kappa", "fixed", "mlp", "none"}``; the last three (seeds,) arrays."""
    pick = select_kappa(part, task, "h")
    acc = 100 * accuracy(part)
    t, h, s = part["tasks"].index(task), part["layers"].index("h"), part["splits"].index("test")
    return {"kappa": pick["kappa"], "fixed": acc[pick["row"], :, t, h, s],
            "mlp": acc[part["heads"].index("mlp"), :, t, h, s],
            "none": acc[part["heads"].index("none"), :, t, h, s]}


def comparison_lines(part: dict) -> list[str]:
    """Per task, the three networks read at h (mean ± std over seeds, points): numbers only;
    the verdicts are the declared claims' (helpers.evidence)."""
    lines = []
    for task in part["tasks"]:
        c = h_comparison(part, task)
        lines.append(f"{task} at h: fixed head k = {c['kappa']:g} (chosen on validation) "
                     f"{c['fixed'].mean():.1f} ± {c['fixed'].std():.1f}, MLP head "
                     f"{c['mlp'].mean():.1f} ± {c['mlp'].std():.1f}, no head "
                     f"{c['none'].mean():.1f} ± {c['none'].std():.1f} %")
    return lines


def plot_sweep(payload: dict, provenance: dict, setting: str):
    """One panel per task: test accuracy at h and z against the fixed head's strength, read as
    -log10 of its last weight (so widths compare; mean, band = +-1 std over seeds), with the
    MLP head (dashed) and no head (dotted) as reference lines, and the untrained networks'
    accuracy at h and z (thin, grey) through the same probe."""
    import matplotlib.pyplot as plt

    from helpers import plots

    part = payload[setting]
    acc, untrained = accuracy(part), np.asarray(part["untrained_acc"], dtype=float)
    s = part["splits"].index("test")
    fixed = fixed_heads(part)
    x = -np.log10([part["last_weights"][i] for i in fixed])
    mlp, none = part["heads"].index("mlp"), part["heads"].index("none")
    fig, axes = plt.subplots(1, len(part["tasks"]), figsize=(5.2 * len(part["tasks"]), 3.8))
    for ax, (t, task) in zip(np.atleast_1d(axes), enumerate(part["tasks"])):
        for l, layer in enumerate(part["layers"]):
            c = plots.PALETTE[l]
            a = 100 * acc[fixed, :, t, l, s]
            ax.plot(x, a.mean(1), "o-", color=c, label=f"fixed head, {LAYER_LABELS[layer]}")
            ax.fill_between(x, a.mean(1) - a.std(1), a.mean(1) + a.std(1), color=c, alpha=0.2)
            ax.axhline(100 * acc[mlp, :, t, l, s].mean(), color=c, ls="--", lw=1,
                       label=f"MLP head, {layer}")
            ax.plot(x, 100 * untrained[fixed, :, t, l, s].mean(1), ls=("-", "--")[l], lw=0.8,
                    color="0.55", label=f"untrained network, {layer}")
        ax.axhline(100 * acc[none, :, t, 0, s].mean(), color="0.3", ls=":", lw=1.2,
                   label="no head (k = 1)")
        ax.axhline(100 * part["chance"][task], color="0.8", lw=0.8, label="chance")
        ax.set_xticks(x, [f"{part['last_weights'][i]:.0e}\nk={float(part['heads'][i][2:]):.3g}"
                          for i in fixed], fontsize=7)
        ax.set_xlabel("fixed head: weight of h's last coordinate (k at this width)")
        ax.set_ylabel(f"test accuracy, {task} (%)")
        ax.set_title(f"{SETTING_NAMES.get(setting, setting)}: probing the {task} label",
                     fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"{part['data_description']}; {payload['network']}; "
                    f"{acc.shape[1]} seed(s), band = ±1 std"))
    return fig
