"""Chapter 8's analysis: the linear-model sweep over k, choosing k on validation, tables, figures.

The training lives in :mod:`helpers.experiments.reweighting`; this module only reads its payload
(plus the cheap linear-model sweep, :func:`linear_sweep`, which trains by gradient descent).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from helpers.experiments.lower_layer import probe_r2
from helpers.theory import reweighting as rw

LAYER_LABELS = {"h": "h (before the head)", "z": "z (after the head)"}
SETTING_NAMES = {"simclr": "SimCLR (digits on images)", "supcon": "SupCon on coarse labels",
                 "ce": "cross-entropy on coarse labels"}
_EPS = 1e-3  # k is drawn at log(k - 1 + _EPS): spreads 1, 1.01, 1.05, ..., 2 evenly enough to read


def _kappa_axis(ax, kappas) -> None:
    """Label the x axis (in log(k - 1 + _EPS) units) at the swept k."""
    kappas = np.asarray(kappas, dtype=float)
    ax.set_xticks(np.log(kappas - 1 + _EPS), [f"{k:g}" for k in kappas], fontsize=8)
    ax.set_xlabel("head strength k")


# --- Part I's linear model under the fixed head ----------------------------------------------

def linear_sweep(cfg, seed: int, progress: bool = True) -> dict:
    """Theory (fine grid of k) and gradient descent (``cfg.kappas``) for the linear model.

    Features ``cfg.lin_phi`` / ``cfg.lin_p``; the downstream target is feature 0 (the config puts
    the one augmentation disrupts most there; ``lower_layer.probe_r2`` reads feature 0). Returns per k: encoder and head-output gains (theory and GD) and
    the ridge probe's R^2 for the target at h and z (theory; GD weights + Monte Carlo probe)."""
    phi, p = np.asarray(cfg.lin_phi, float), np.asarray(cfg.lin_p, float)
    target = 0  # lower_layer.probe_r2's target
    rng = np.random.default_rng(seed)
    fine = np.maximum(1.0, 1 + np.geomspace(_EPS, max(cfg.kappas) - 1 + _EPS, 80) - _EPS)  # dense near 1
    args = (phi, p, cfg.lin_sigma)
    theory = rw.probe_r2_by_kappa(*args, fine, cfg.lin_weight_decay, target, cfg.lin_n_labels,
                                  cfg.lin_ridge)
    sim, gains_th, gains_sim = [], [], []
    for kappa in tqdm(cfg.kappas, desc="linear model: k", disable=not progress):
        opt = rw.fixed_head_optimum(*args, kappa, cfg.lin_weight_decay)
        gd = rw.fixed_head_gd(*args, kappa, weight_decay=cfg.lin_weight_decay,
                              init_scale=cfg.lin_init_scale,
                              lr=cfg.lin_lr, steps=cfg.lin_steps, seed=seed)
        gains_th.append([opt["h_gain"], opt["z_gain"]])
        gains_sim.append([gd["h_gain"], gd["z_gain"]])
        sim.append([probe_r2(P, phi, cfg.lin_n_labels, cfg.lin_ridge, cfg.lin_probe_reps, rng)
                    for P in (gd["W"], gd["V"])])
    return {"kappas": list(cfg.kappas), "kappa_fine": fine, "theory_r2": theory,
            "sim_r2": sim, "gains_theory": gains_th, "gains_sim": gains_sim, "target": target,
            "phi": list(phi), "p": list(p)}


def plot_linear(lin: dict, provenance: dict):
    """Left: each feature's encoder gain by k (theory lines, GD dots). Right: target R^2 at h, z."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    k = np.log(np.array(lin["kappas"]) - 1 + _EPS)
    th, sim = np.array(lin["gains_theory"]), np.array(lin["gains_sim"])  # (K, 2, d)
    for i in range(th.shape[-1]):
        c = plots.PALETTE[i % len(plots.PALETTE)]
        ax1.plot(k, th[:, 0, i], color=c, label=f"feature {i} (p = {lin['p'][i]:g})")
        ax1.scatter(k, sim[:, 0, i], color=c, s=18, zorder=3)
    ax1.set_ylabel(r"encoder gain $\|W e_i\|$ (in h)")
    ax1.set_title("What k does to the representation below the head", fontsize=10)
    ax1.legend(fontsize=7)
    for j, layer in enumerate(("h", "z")):
        c = plots.PALETTE[j]
        ax2.plot(np.log(np.asarray(lin["kappa_fine"]) - 1 + _EPS),
                 np.array(lin["theory_r2"])[:, j], color=c,
                 label=f"{LAYER_LABELS[layer]}, theory")
        ax2.scatter(k, np.array(lin["sim_r2"])[:, j], color=c, s=20, zorder=3)
    for ax in (ax1, ax2):
        _kappa_axis(ax, lin["kappas"])
    ax2.set_ylabel(f"probe $R^2$ for feature {lin['target']}")
    ax2.set_title("The most disrupted feature, read by a ridge probe", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "lines: closed form, dots: "
                                                    "gradient descent (+ Monte Carlo probe)"))
    return fig


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
    x = np.log(kappas - 1 + _EPS)
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
        _kappa_axis(ax, kappas)
        ax.set_ylabel(f"test accuracy, {task} (%)")
        ax.set_title(f"{SETTING_NAMES.get(setting, setting)}: probing the {task} label",
                     fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"{part['data_description']}; {payload['network']}; "
                    f"{acc.shape[1]} seed(s), band = ±1 std"))
    return fig
