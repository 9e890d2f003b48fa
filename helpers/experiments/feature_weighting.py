"""Chapter "Linear contrastive learning and progressive feature weighting".

``run(cfg, seed)`` trains one deep linear net per depth in ``cfg.depths`` by gradient descent
from a small random initialisation on the population spectral contrastive loss, and returns the
gain each layer puts on each feature next to the theory's ``g_i ** (l / L)``, the layers'
imbalance over training, and per-layer measures of how unequal the weighting is.
"""

from __future__ import annotations

import numpy as np

from helpers.deep_linear import population_gd
from helpers.theory import linear as theory

from dataclasses import dataclass


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class FeatureWeightingConfig:
    """Part I, progressive feature weighting: deep linear nets trained by gradient descent on the
    population spectral contrastive loss of a feature model (``helpers.data.features``).

    ``depths[i]`` is trained with ``init_scales[i]`` for ``steps[i]`` steps: deeper nets leave the
    origin's saddle more slowly (escape time ~ init_scale^-(2L-2)), so they start less small,
    which costs agreement: the exponent rule's error grows like init_scale^2.
    """

    data: str  # provenance label of the synthetic data
    phi: tuple  # feature strengths
    p: tuple  # probability that augmentation redraws each feature
    sigma: float  # augmentation noise (std, each view)
    width: int  # hidden width (wide layers make small random inits well conditioned)
    depths: tuple
    init_scales: tuple  # typical per-layer gain at initialisation, one per depth
    steps: tuple  # gradient steps, one per depth
    lr: float


_FEATURES_6 = dict(data="synthetic-features", phi=(1.6, 1.3, 1.0, 1.0, 0.8, 0.7),
                   p=(0.8, 0.2, 0.0, 0.5, 0.0, 0.0), sigma=0.5, width=32, depths=(2, 3, 4),
                   lr=0.05)
CONFIGS = {
    # Not converged for L = 3, 4 (the code path is what smoke checks).
    "smoke": FeatureWeightingConfig(**_FEATURES_6, init_scales=(0.03, 0.1, 0.15),
                                    steps=(4000, 4000, 4000)),
    # Converged on every depth (loss at its minimum to 4 digits); about 25 s on 2 CPU cores.
    "cpu": FeatureWeightingConfig(**_FEATURES_6, init_scales=(0.01, 0.05, 0.15),
                                  steps=(30_000, 300_000, 300_000)),
    # numpy on the CPU either way: the nets are tiny, a GPU does not help; gpu = cpu.
    "gpu": FeatureWeightingConfig(**_FEATURES_6, init_scales=(0.01, 0.05, 0.15),
                                  steps=(30_000, 300_000, 300_000)),
    # Smaller initialisation, tighter agreement, longer runs.
    "paper": FeatureWeightingConfig(**_FEATURES_6, init_scales=(0.005, 0.03, 0.08),
                                    steps=(60_000, 800_000, 1_500_000)),
}


# --- the experiment -------------------------------------------------------------------------------


def run(cfg, seed: int, progress: bool = True) -> dict:
    """Train every depth; JSON-able payload (lists), one entry per depth in ``"runs"``."""
    m, s = theory.feature_moments(cfg.phi, cfg.p, cfg.sigma)
    gains = theory.optimal_gains(cfg.phi, cfg.p, cfg.sigma)
    runs = []
    for depth, init_scale, steps in zip(cfg.depths, cfg.init_scales, cfg.steps):
        gd = population_gd(m, s, depth, cfg.width, init_scale=init_scale, lr=cfg.lr,
                           steps=steps, seed=seed + depth, progress=progress,
                           desc=f"gradient descent, L = {depth}")
        sim = gd.layer_gains()[0]  # (L, d): layers 1..L
        pred = theory.layer_gains(gains, depth)[1:]
        runs.append({
            "depth": depth, "init_scale": init_scale, "steps": steps,
            "history_steps": gd.steps, "loss": gd.loss[:, 0],
            "imbalance": gd.imbalance[:, 0, :],  # (T, L - 1), ||W_{l+1}^T W_{l+1} - W_l W_l^T||_F
            "weight_scale": gd.weight_scale[:, 0, :],  # (T, L - 1), ||W_l W_l^T||_F
            "sim_gains": sim, "theory_gains": pred,
            "max_rel_error": float(np.max(np.abs(sim / pred - 1))),
            "final_loss": float(gd.loss[-1, 0]),
        })
    return {"phi": list(cfg.phi), "p": list(cfg.p), "sigma": cfg.sigma, "width": cfg.width,
            "optimal_loss": theory.optimal_loss(m, s), "end_to_end_gains": gains, "runs": runs}


def spread_measures(gains_by_layer) -> dict:
    """Per layer: effective rank of the gains and the ratio of largest to smallest gain.

    ``gains_by_layer`` (L, d) -> {'effective_rank': (L,), 'max_over_min': (L,)}."""
    g = np.asarray(gains_by_layer, dtype=float)
    return {"effective_rank": theory.effective_rank(g), "max_over_min": g.max(-1) / g.min(-1)}


def summarize(payload: dict) -> str:
    """One line per depth: agreement with the exponent rule, loss vs its minimum, imbalance."""
    lines = []
    for r in payload["runs"]:
        imb = np.asarray(r["imbalance"]) / np.asarray(r["weight_scale"])
        lines.append(
            f"L = {r['depth']}: max relative error of layer gains vs g^(l/L) = "
            f"{100 * r['max_rel_error']:.2f} %; final loss {r['final_loss']:.5f} "
            f"(minimum {payload['optimal_loss']:.5f}); largest relative imbalance at the end "
            f"{imb[-1].max():.4f} (init scale {r['init_scale']}, {r['steps']} steps)")
    return "\n".join(lines)


def plot_exponent_rule(payload: dict, provenance: dict):
    """One panel per depth: gain on each feature vs layer (log scale); lines = theory, dots = GD."""
    import matplotlib.pyplot as plt

    from helpers import plots

    runs = payload["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.4), sharey=True)
    for ax, r in zip(np.atleast_1d(axes), runs):
        depth = r["depth"]
        sim = np.vstack([np.ones(len(payload["phi"])), np.asarray(r["sim_gains"])])
        fine = np.linspace(0, depth, 50)
        for i, g_end in enumerate(payload["end_to_end_gains"]):
            color = plots.PALETTE[i % len(plots.PALETTE)]
            ax.plot(fine, g_end ** (fine / depth), color=color, lw=1.2,
                    label=rf"$\phi$={payload['phi'][i]}, p={payload['p'][i]}")
            ax.scatter(np.arange(depth + 1), sim[:, i], color=color, s=22, zorder=3)
        ax.set_yscale("log")
        ax.set_xticks(range(depth + 1))
        ax.set_xlabel("layer l")
        ax.set_title(f"L = {depth}: max error {100 * r['max_rel_error']:.2f} %")
    np.atleast_1d(axes)[0].set_ylabel(r"gain on feature i, $\|W_l\cdots W_1 e_i\|$")
    np.atleast_1d(axes)[-1].legend(fontsize=7, loc="lower left")
    fig.suptitle(r"Theory $g_i^{\,l/L}$ (lines) vs gradient descent (dots)", y=1.02)
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"population gradient descent, hidden width {payload['width']}"))
    return fig


def plot_balance(payload: dict, provenance: dict):
    """Loss gap to the minimum; imbalance of layers 1-2 next to the size of the weights, vs step."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, (ax_loss, ax_imb) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    for k, r in enumerate(payload["runs"]):
        color = plots.PALETTE[k]
        steps = np.asarray(r["history_steps"])
        gap = np.asarray(r["loss"]) - payload["optimal_loss"]
        ax_loss.plot(steps, np.maximum(gap, 1e-12), color=color, label=f"L = {r['depth']}")
        ax_imb.plot(steps, np.asarray(r["imbalance"])[:, 0], color=color,
                    label=rf"L = {r['depth']}: $\|W_2^\top W_2 - W_1 W_1^\top\|_F$")
        ax_imb.plot(steps, np.asarray(r["weight_scale"])[:, 0], color=color, ls=":",
                    label=rf"L = {r['depth']}: $\|W_1 W_1^\top\|_F$")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("gradient step")
    ax_loss.set_ylabel("loss minus its minimum")
    ax_loss.set_title("Plateaus: features are learned one by one")
    ax_loss.legend(fontsize=8)
    ax_imb.set_yscale("log")
    ax_imb.set_xlabel("gradient step")
    ax_imb.set_ylabel("Frobenius norm")
    ax_imb.set_title("The imbalance stays put while the weights grow")
    ax_imb.legend(fontsize=6.5, ncol=3, loc="upper center", bbox_to_anchor=(0.45, -0.2))
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance))
    return fig


def plot_spread(payload: dict, provenance: dict):
    """Per layer (as a fraction l / L of the depth): effective rank and max/min ratio of the gains."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, (ax_rank, ax_ratio) = plt.subplots(1, 2, figsize=(9.6, 3.3))
    d = len(payload["phi"])
    for k, r in enumerate(payload["runs"]):
        color, depth = plots.PALETTE[k], r["depth"]
        frac = np.arange(1, depth + 1) / depth
        sim = spread_measures(r["sim_gains"])
        pred = spread_measures(r["theory_gains"])
        for ax, key in ((ax_rank, "effective_rank"), (ax_ratio, "max_over_min")):
            ax.plot(frac, pred[key], color=color, lw=1.2, label=f"L = {depth} theory")
            ax.scatter(frac, sim[key], color=color, s=22, zorder=3)
    ax_rank.axhline(d, color="0.6", ls="--", lw=1)
    ax_rank.set_ylabel("effective rank of the gains")
    ax_ratio.set_ylabel("largest / smallest gain")
    for ax in (ax_rank, ax_ratio):
        ax.set_xlabel("relative depth l / L")
    ax_rank.legend(fontsize=8)
    ax_rank.set_title("Lower layers weigh features more equally")
    ax_ratio.set_title("... and specialise less")
    plots.add_caption(fig, plots.provenance_caption(provenance, "lines: theory, dots: GD"))
    return fig


def plot_theory(phi, p, sigma: float, depth: int, ax=None):
    """Theory only (instant): the gain of each layer on each feature; the explorer's figure."""
    import matplotlib.pyplot as plt

    from helpers import plots

    gains = theory.optimal_gains(phi, p, sigma)
    fine = np.linspace(0, depth, 60)
    ax = ax or plt.subplots(figsize=(5.2, 3.4))[1]
    for i, g_end in enumerate(gains):
        color = plots.PALETTE[i % len(plots.PALETTE)]
        ax.plot(fine, np.maximum(g_end, 1e-12) ** (fine / depth), color=color,
                label=rf"$\phi$={phi[i]:.2g}, p={p[i]:.2g}")
        ax.scatter(np.arange(depth + 1), np.maximum(g_end, 1e-12) ** (np.arange(depth + 1) / depth),
                   color=color, s=16)
    ax.set_yscale("log")
    ax.set_xticks(range(depth + 1))
    ax.set_xlabel("layer l (0 = input)")
    ax.set_ylabel("gain on feature i")
    ax.legend(fontsize=7, loc="best")
    spread = theory.effective_rank(theory.layer_gains(gains, depth))
    ax.set_title(f"L = {depth}, sigma = {sigma:.2g}: the gains' effective rank {spread[1]:.2f} at "
                 f"layer 1, {spread[-1]:.2f} at the top", fontsize=9)
    return ax


EXPLORER_DEFAULTS = {"phi": (1.6, 1.0, 0.4), "p": (0.8, 0.0, 0.0), "sigma": 0.5, "depth": 3}


def explorer(defaults: dict = EXPLORER_DEFAULTS):
    """Sliders for three features' strength and drop probability, sigma and the depth, that
    redraw :func:`plot_theory` (via :func:`helpers.widgets.explorer`). Needs a live kernel; the
    rendered page shows the static figure instead."""
    from helpers import widgets

    strengths = [round(v, 2) for v in np.arange(0.05, 3.001, 0.05)]
    probs = [round(v, 2) for v in np.arange(0.0, 0.991, 0.01)]
    controls = {**{f"phi_{i + 1}": strengths for i in range(3)},
                **{f"p_{i + 1}": probs for i in range(3)},
                "sigma": [round(v, 2) for v in np.arange(0.0, 1.501, 0.05)],
                "depth": list(range(1, 7))}
    initial = {**{f"phi_{i + 1}": v for i, v in enumerate(defaults["phi"])},
               **{f"p_{i + 1}": v for i, v in enumerate(defaults["p"])},
               "sigma": defaults["sigma"], "depth": defaults["depth"]}

    def draw(ax, sigma, depth, **features):
        plot_theory([features[f"phi_{i + 1}"] for i in range(3)],
                    [features[f"p_{i + 1}"] for i in range(3)], sigma, depth, ax=ax)

    return widgets.explorer(draw, controls, initial=initial, panel_size=(5.6, 3.6),
                            description="Progressive feature weighting (theory)")
