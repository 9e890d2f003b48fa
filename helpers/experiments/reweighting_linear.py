"""Chapter 8, the fixed reweighting head in Part I's linear model: closed form against gradient
descent, swept over the head strength k.

A two-layer linear network (encoder W, fixed diagonal head z = W x * k^-j) on the feature model
of Part I (:mod:`helpers.data.features`), trained by gradient descent on the spectral loss with
weight decay on the encoder (:func:`helpers.theory.reweighting.fixed_head_gd`), against its
closed-form optimum (:func:`helpers.theory.reweighting.fixed_head_optimum`); a ridge probe reads
the most disrupted feature at h and z. The image experiments of the chapter are
:mod:`helpers.experiments.reweighting`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from helpers.experiments.lower_layer import probe_r2
from helpers.theory import reweighting as rw


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class ReweightingLinearConfig:
    """Part V's linear model: features, augmentation, gradient descent and probe. Units: steps,
    labelled examples; lr for plain gradient descent."""

    data: str  # provenance label of the synthetic feature model
    kappas: tuple  # fixed-head strengths trained by gradient descent; 1.0 = no head
    phi: tuple  # feature strengths
    p: tuple  # drop probabilities (feature 0, the downstream target, is disrupted most)
    sigma: float  # augmentation noise
    weight_decay: float  # on the encoder (it is what makes k cost something)
    init_scale: float  # typical gain of W at initialisation
    lr: float
    steps: int
    n_labels: int  # labelled examples of the ridge probe
    ridge: float
    probe_reps: int  # labelled sets averaged per point


_KAPPAS = (1.0, 1.01, 1.05, 1.1, 1.2, 1.5, 2.0)
# the target (feature 0) is the one augmentation disrupts most
# (gains well apart, so gradient descent settles on the optimal order within 60k steps)
_LINEAR = ReweightingLinearConfig(data="synthetic-features", kappas=_KAPPAS, phi=(1.0,) * 6,
                                  p=(0.75, 0.6, 0.45, 0.3, 0.15, 0.0), sigma=0.5,
                                  weight_decay=0.02, init_scale=0.01, lr=0.05, steps=60_000,
                                  n_labels=20, ridge=0.1, probe_reps=200)
# numpy on a CPU at every size (a GPU does not help); smoke sweeps three k only.
CONFIGS = {"smoke": replace(_LINEAR, kappas=(1.0, 1.2, 2.0)), "cpu": _LINEAR, "gpu": _LINEAR,
           "paper": _LINEAR}


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: its own experiment (was computed inside reweighting_report, issue 15).
CODE_VERSION = 1
KAPPA_EPS = 1e-3  # k is drawn at log(k - 1 + KAPPA_EPS): spreads 1, 1.01, 1.05, ..., 2 evenly enough to read


def run(cfg, seed: int, progress: bool = True) -> dict:
    """Theory (fine grid of k) and gradient descent (``cfg.kappas``) for the linear model.

    Features ``cfg.phi`` / ``cfg.p``; the downstream target is feature 0 (the config puts
    the one augmentation disrupts most there; ``lower_layer.probe_r2`` reads feature 0). Returns per k: encoder and head-output gains (theory and GD) and
    the ridge probe's R^2 for the target at h and z (theory; GD weights + Monte Carlo probe)."""
    phi, p = np.asarray(cfg.phi, float), np.asarray(cfg.p, float)
    target = 0  # lower_layer.probe_r2's target
    rng = np.random.default_rng(seed)
    fine = np.maximum(1.0, 1 + np.geomspace(KAPPA_EPS, max(cfg.kappas) - 1 + KAPPA_EPS, 80) - KAPPA_EPS)  # dense near 1
    args = (phi, p, cfg.sigma)
    theory = rw.probe_r2_by_kappa(*args, fine, cfg.weight_decay, target, cfg.n_labels,
                                  cfg.ridge)
    sim, gains_th, gains_sim = [], [], []
    for kappa in tqdm(cfg.kappas, desc="linear model: k", disable=not progress):
        opt = rw.fixed_head_optimum(*args, kappa, cfg.weight_decay)
        gd = rw.fixed_head_gd(*args, kappa, weight_decay=cfg.weight_decay,
                              init_scale=cfg.init_scale,
                              lr=cfg.lr, steps=cfg.steps, seed=seed)
        gains_th.append([opt["h_gain"], opt["z_gain"]])
        gains_sim.append([gd["h_gain"], gd["z_gain"]])
        sim.append([probe_r2(P, phi, cfg.n_labels, cfg.ridge, cfg.probe_reps, rng)
                    for P in (gd["W"], gd["V"])])
    return {"kappas": list(cfg.kappas), "kappa_fine": fine, "theory_r2": theory,
            "sim_r2": sim, "gains_theory": gains_th, "gains_sim": gains_sim, "target": target,
            "phi": list(phi), "p": list(p)}



def kappa_axis(ax, kappas) -> None:
    """Label the x axis (in log(k - 1 + KAPPA_EPS) units) at the swept k."""
    kappas = np.asarray(kappas, dtype=float)
    ax.set_xticks(np.log(kappas - 1 + KAPPA_EPS), [f"{k:g}" for k in kappas], fontsize=8)
    ax.set_xlabel("head strength k")


LAYER_LABELS = {"h": "h (before the head)", "z": "z (after the head)"}


def plot_linear(lin: dict, provenance: dict):
    """Left: each feature's encoder gain by k (theory lines, GD dots). Right: target R^2 at h, z."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    k = np.log(np.array(lin["kappas"]) - 1 + KAPPA_EPS)
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
        ax2.plot(np.log(np.asarray(lin["kappa_fine"]) - 1 + KAPPA_EPS),
                 np.array(lin["theory_r2"])[:, j], color=c,
                 label=f"{LAYER_LABELS[layer]}, theory")
        ax2.scatter(k, np.array(lin["sim_r2"])[:, j], color=c, s=20, zorder=3)
    for ax in (ax1, ax2):
        kappa_axis(ax, lin["kappas"])
    ax2.set_ylabel(f"probe $R^2$ for feature {lin['target']}")
    ax2.set_title("The most disrupted feature, read by a ridge probe", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "lines: closed form, dots: "
                                                    "gradient descent (+ Monte Carlo probe)"))
    return fig
