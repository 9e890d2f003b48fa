"""Chapter 8's analysis: choosing k on validation, tables, figures. Reads payloads only.

The training lives in :mod:`helpers.experiments.reweighting` (the image experiments) and
:mod:`helpers.experiments.reweighting_linear` (the linear model).
"""

from __future__ import annotations

import numpy as np

from helpers.experiments.reweighting_linear import KAPPA_EPS, LAYER_LABELS, kappa_axis

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


def select_kappa(part: dict, task: str, layer: str = "h") -> dict:
    """Choose k for ``task`` read at ``layer`` by mean VALIDATION accuracy over seeds.

    Only the fixed heads compete (the 'mlp' row is not a k). Ties go to the smaller k (the
    weaker head). The test accuracy of the chosen k is reported, never used to choose.

    Returns ``{"kappa", "val", "test", "test_std"}`` (accuracies in [0, 1]).

    Raises:
        ValueError: unknown task or layer.
    """
    if task not in part["tasks"] or layer not in part["layers"]:
        raise ValueError(f"task must be one of {part['tasks']} and layer one of "
                         f"{part['layers']}; got {task!r}, {layer!r}")
    acc = accuracy(part)
    t, l = part["tasks"].index(task), part["layers"].index(layer)
    v, s = part["splits"].index("val"), part["splits"].index("test")
    fixed = [i for i, name in enumerate(part["heads"]) if name.startswith("k=")]
    kappas = [float(part["heads"][i][2:]) for i in fixed]
    best = fixed[kappas.index(choose_kappa(kappas, acc[fixed, :, t, l, v]))]
    return {"kappa": float(part["heads"][best][2:]), "val": float(acc[best, :, t, l, v].mean()),
            "test": float(acc[best, :, t, l, s].mean()),
            "test_std": float(acc[best, :, t, l, s].std())}


def kappa_table(part: dict) -> list[list[str]]:
    """Rows: head; columns: test accuracy (%) mean +- std over seeds per task and layer."""
    acc = accuracy(part)
    s = part["splits"].index("test")
    rows = [["head"] + [f"{task} @ {layer}" for task in part["tasks"] for layer in part["layers"]]]
    for i, name in enumerate(part["heads"]):
        label = {"k=1": "k=1 (no head)", "mlp": "2-layer MLP head"}.get(name, name)
        rows.append([label] + [f"{100 * acc[i, :, t, l, s].mean():.1f} ± "
                               f"{100 * acc[i, :, t, l, s].std():.1f}"
                               for t in range(len(part["tasks"]))
                               for l in range(len(part["layers"]))])
    return rows


def print_table(part: dict, provenance: dict | None = None) -> None:
    """:func:`kappa_table` as text, under a header naming the profile and data when given."""
    if provenance is not None:
        print(f"test accuracy (%), mean ± std over {len(part['acc'][0])} seed(s); profile "
              f"{provenance['profile']}, data: {part['data_description']}")
    rows = kappa_table(part)
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def compare_to_mlp(part: dict) -> list[str]:
    """Plain sentences, from the numbers: where the best fixed head (chosen on validation)
    matches the MLP head (test means within one pooled std) and where it does not."""
    acc = accuracy(part)
    s = part["splits"].index("test")
    mlp = part["heads"].index("mlp")
    lines = []
    for task in part["tasks"]:
        for layer in part["layers"]:
            pick = select_kappa(part, task, layer)
            t, l = part["tasks"].index(task), part["layers"].index(layer)
            m, m_sd = acc[mlp, :, t, l, s].mean(), acc[mlp, :, t, l, s].std()
            gap = 100 * (pick["test"] - m)
            spread = 100 * np.hypot(pick["test_std"], m_sd)
            head = (f"{task} at {layer}: k = {pick['kappa']:g} (chosen on validation) "
                    f"{100 * pick['test']:.1f} % vs MLP head {100 * m:.1f} % ({gap:+.1f} points)")
            if acc.shape[1] < 2:  # no spread to judge a difference against
                lines.append(f"{head}; one seed: not judged")
                continue
            verdict = ("matches" if abs(gap) <= spread else
                       "beats" if gap > 0 else "falls short of")
            lines.append(f"{head} -> {verdict} the MLP head (combined seed spread {spread:.1f})")
    return lines


def plot_sweep(payload: dict, provenance: dict, setting: str):
    """One panel per task: test accuracy at h and z against k (mean, band = +-1 std over seeds),
    with the MLP head (dashed) and no head (k = 1, dotted) as reference lines."""
    import matplotlib.pyplot as plt

    from helpers import plots

    part = payload[setting]
    acc = accuracy(part)
    s = part["splits"].index("test")
    fixed = [i for i, n in enumerate(part["heads"]) if n.startswith("k=")]
    kappas = np.array([float(part["heads"][i][2:]) for i in fixed])
    x = np.log(kappas - 1 + KAPPA_EPS)
    mlp = part["heads"].index("mlp")
    fig, axes = plt.subplots(1, len(part["tasks"]), figsize=(5.2 * len(part["tasks"]), 3.6))
    for ax, (t, task) in zip(np.atleast_1d(axes), enumerate(part["tasks"])):
        for l, layer in enumerate(part["layers"]):
            c = plots.PALETTE[l]
            a = 100 * acc[fixed, :, t, l, s]
            ax.plot(x, a.mean(1), "o-", color=c, label=f"fixed head, {LAYER_LABELS[layer]}")
            ax.fill_between(x, a.mean(1) - a.std(1), a.mean(1) + a.std(1), color=c, alpha=0.2)
            ax.axhline(100 * acc[mlp, :, t, l, s].mean(), color=c, ls="--", lw=1,
                       label=f"MLP head, {layer}")
        ax.axhline(100 * acc[fixed[0], :, t, 0, s].mean(), color="0.4", ls=":", lw=1,
                   label="no head (k = 1)")
        ax.axhline(100 * part["chance"][task], color="0.7", lw=0.8, label="chance")
        kappa_axis(ax, kappas)
        ax.set_ylabel(f"test accuracy, {task} (%)")
        ax.set_title(f"{SETTING_NAMES.get(setting, setting)}: probing the {task} label",
                     fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"{part['data_description']}; {payload['network']}; "
                    f"{acc.shape[1]} seed(s), band = ±1 std"))
    return fig
