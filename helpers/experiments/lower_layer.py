"""Chapter "When the layer before the head wins": sweeps of the two-layer linear model.

A feature model with one *target* feature (index 0, the one the downstream task needs) and
``n_features - 1`` others. An encoder ``W_1`` and a linear head ``W_2`` are pre-trained together
by gradient descent on the population spectral contrastive loss (``helpers.deep_linear``);
then a ridge probe with ``n_labels`` labelled clean inputs reads the target's latent value from
the input (layer 0), the pre-projection layer ``W_1 x`` (layer 1) and the output ``W_2 W_1 x``
(layer 2). Every simulated number sits next to the theory's (``helpers.theory.linear``).

Each layer is rescaled to the same total variance before probing, so only the *relative* scales
of the features matter (an overall scale would just change the ridge penalty's meaning).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from helpers.deep_linear import population_gd
from helpers.theory import linear as theory

from dataclasses import dataclass, replace


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class LowerLayerConfig:
    """Part I, when the layer before the head wins: a two-layer linear net (encoder + linear
    head) per sweep point, then ridge probes for one target feature at every layer."""

    data: str
    n_features: int  # the target plus n_features - 1 others
    phi_others: tuple  # (low, high): the others' strengths, geometrically spaced
    p_others: float  # the others' drop probability
    sigma: float  # augmentation noise
    target_phi: float  # the target's strength in sweeps (a) and (c)
    sweep_p: tuple  # (a) target drop probabilities
    sweep_phi: tuple  # (b) target strengths
    sweep_wd: tuple  # (c) weight decays
    wd_target_p: float  # (c) the target's drop probability
    grid_p: tuple  # summary map: drop probabilities ...
    grid_phi: tuple  # ... times strengths
    width: int
    init_scale: float  # small: the implicit-bias regime
    steps: int
    lr: float  # largest step size; lowered per problem for stability (lower_layer.stable_lr)
    wd_init_scale: float  # (c) starts at a standard scale: weight decay balances the layers
    wd_steps: int
    n_labels: int  # labelled examples of the downstream probe
    probe_ridge: float
    probe_reps: int  # draws of the labelled set averaged per point
    theory_points: int  # resolution of the theory curves


_LOWER = dict(data="synthetic-features", n_features=20, phi_others=(0.5, 1.5), p_others=0.2,
              sigma=0.5, target_phi=1.0, wd_target_p=0.8, lr=0.05, wd_init_scale=1.0,
              n_labels=40, probe_ridge=0.3)
CONFIGS = {
    "smoke": LowerLayerConfig(**_LOWER, sweep_p=(0.0, 0.8), sweep_phi=(0.3, 3.0),
                              sweep_wd=(0.0, 0.03), grid_p=(0.0, 0.8), grid_phi=(0.5, 2.0),
                              width=40, init_scale=0.15, steps=3000, wd_steps=3000, probe_reps=5,
                              theory_points=12),
    "cpu": LowerLayerConfig(**_LOWER, sweep_p=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
                            sweep_phi=(0.15, 0.25, 0.4, 0.7, 1.2, 2.0, 3.0),
                            sweep_wd=(0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06),
                            grid_p=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
                            grid_phi=(0.3, 0.5, 0.8, 1.2, 2.0, 3.0),
                            width=40, init_scale=0.15, steps=15_000, wd_steps=20_000,
                            probe_reps=40, theory_points=60),
}
CONFIGS["gpu"] = CONFIGS["cpu"]  # numpy on the CPU: a GPU does not help these nets
CONFIGS["paper"] = replace(CONFIGS["cpu"], init_scale=0.05, steps=200_000,
                                probe_reps=200)


# --- what the practitioner's guide (helpers.guide) reads from this result --------------------

FIGURES = {"ch03-fig-probes": "Ch. 3, probes by layer, theory and simulation",
           "ch03-fig-regions": "Ch. 3, where each layer wins"}


# --- the experiment -------------------------------------------------------------------------------

LAYER_NAMES = ("input", "pre-projection", "post-projection")
TARGET = 0


def feature_model(cfg, target_phi: float, target_p: float) -> tuple[np.ndarray, np.ndarray]:
    """``(phi, p)`` of the whole model, (n_features,) each; the target feature first."""
    others = np.geomspace(cfg.phi_others[0], cfg.phi_others[1], cfg.n_features - 1)
    phi = np.r_[target_phi, others]
    p = np.r_[target_p, np.full(cfg.n_features - 1, cfg.p_others)]
    return phi, p


def stable_lr(m: np.ndarray, s: np.ndarray, lr_max: float, init_scale: float) -> np.ndarray:
    """A step size per problem below the loss's largest curvature on the way, (B,).

    For one balanced feature of a two-layer net the loss is ``f(w) = -2 m w^4 + s^2 w^8`` in the
    per-layer gain ``w``, with ``f''(w) = -24 m w^2 + 56 s^2 w^6``: ``32 m^1.5 / s`` at the minimum,
    larger at a start above it. Gradient descent is stable below 2 / curvature; we take 1.5 /."""
    at_min = 32 * m**1.5 / np.maximum(s, 1e-12)
    at_start = 56 * s**2 * init_scale**6
    return np.minimum(lr_max, 1.5 / np.max(np.maximum(at_min, at_start), axis=-1))


def train_two_layer(cfg, phis, ps, *, weight_decay: float = 0.0, init_scale: float | None = None,
                    steps: int | None = None, seed: int = 0, desc: str = "pre-training",
                    progress: bool = True):
    """Pre-train one encoder + linear head per model; returns ``(maps, final_loss)``.

    ``maps``: (B, 2, width, d) - the partial maps W_1 and W_2 W_1 of each model."""
    m, s = zip(*(theory.feature_moments(f, p, cfg.sigma) for f, p in zip(phis, ps)))
    m, s = np.array(m), np.array(s)
    init_scale = init_scale or cfg.init_scale
    gd = population_gd(m, s, 2, cfg.width, init_scale=init_scale,
                       lr=stable_lr(m, s, cfg.lr, init_scale), steps=steps or cfg.steps,
                       weight_decay=weight_decay, seed=seed, n_records=2, desc=desc,
                       progress=progress)
    W1, W2 = gd.layers
    return np.stack([W1, W2 @ W1], axis=1), gd.loss[-1]


def probe_r2(P: np.ndarray, phi: np.ndarray, n: int, ridge: float, reps: int,
             rng: np.random.Generator) -> float:
    """Mean test R^2 of a ridge probe for the target's latent, read from ``h = P (phi * z)``.

    ``P`` (k, d) a layer's map (the identity for the input). The layer is rescaled to mean
    squared feature strength 1. The test R^2 is exact (population), so only the ``reps`` draws
    of the n labelled inputs are random."""
    A = P * phi[None, :]  # (k, d): h = A z
    A = A / np.sqrt(np.sum(A**2) / A.shape[1])  # total variance d, as theory.normalise_layer
    out = []
    for _ in range(reps):
        Z = rng.standard_normal((n, A.shape[1]))
        H, y = Z @ A.T, Z[:, TARGET]
        if ridge > 0:
            beta = np.linalg.solve(H.T @ H + n * ridge * np.eye(H.shape[1]), H.T @ y)
        else:  # least squares / minimum-norm interpolation
            beta = np.linalg.lstsq(H, y, rcond=None)[0]
        coef = beta @ A  # prediction = coef . z
        coef[TARGET] -= 1
        out.append(1 - np.sum(coef**2))
    return float(np.mean(out))


def theory_r2(cfg, target_phi, target_p, weight_decay=0.0, n=None, ridge=None) -> list[float]:
    """Theory's probe R^2 at [input, pre-projection, post-projection]."""
    phi, p = feature_model(cfg, target_phi, target_p)
    gains = theory.optimal_gains(phi, p, cfg.sigma, weight_decay=weight_decay, depth=2)
    strengths = theory.normalise_layer(theory.layer_strengths(phi, gains, 2))
    n = cfg.n_labels if n is None else n
    ridge = cfg.probe_ridge if ridge is None else ridge
    return [theory.ridge_probe_r2(r, TARGET, n, ridge) for r in strengths]


def _simulated_r2(cfg, maps, phis, rng, n=None, ridge=None) -> list[list[float]]:
    n = cfg.n_labels if n is None else n
    ridge = cfg.probe_ridge if ridge is None else ridge
    eye = np.eye(cfg.n_features)
    return [[probe_r2(P, phi, n, ridge, cfg.probe_reps, rng) for P in (eye, *layer_maps)]
            for layer_maps, phi in zip(maps, phis)]


def _sweep(cfg, targets, rng, seed, desc, weight_decay=0.0, init_scale=None, steps=None,
           progress=True):
    """Train one model per (target_phi, target_p) pair and probe it: (B, 3) R^2."""
    models = [feature_model(cfg, f, p) for f, p in targets]
    phis, ps = [m[0] for m in models], [m[1] for m in models]
    maps, loss = train_two_layer(cfg, phis, ps, weight_decay=weight_decay, init_scale=init_scale,
                                 steps=steps, seed=seed, desc=desc, progress=progress)
    return _simulated_r2(cfg, maps, phis, rng), maps, phis, loss


def run(cfg, seed: int, progress: bool = True) -> dict:
    """All sweeps of the chapter. JSON-able; R^2 lists are (points, 3 layers)."""
    rng = np.random.default_rng(seed)
    out = {"layers": list(LAYER_NAMES), "target_phi": cfg.target_phi, "p_others": cfg.p_others}

    # (a) augmentation disrupts the target: sweep its drop probability
    sim, maps_a, phis_a, loss_a = _sweep(cfg, [(cfg.target_phi, p) for p in cfg.sweep_p], rng,
                                         seed, "(a) drop probability", progress=progress)
    fine_p = np.linspace(0, max(cfg.sweep_p), cfg.theory_points)
    out["a"] = {"x": list(cfg.sweep_p), "sim": sim, "x_theory": fine_p,
                "theory": [theory_r2(cfg, cfg.target_phi, p) for p in fine_p],
                "final_loss": loss_a}

    # (b) the target is much weaker or stronger than the others: sweep its strength
    sim, _, _, loss_b = _sweep(cfg, [(f, cfg.p_others) for f in cfg.sweep_phi], rng, seed + 1,
                               "(b) feature strength", progress=progress)
    fine_phi = np.geomspace(min(cfg.sweep_phi), max(cfg.sweep_phi), cfg.theory_points)
    out["b"] = {"x": list(cfg.sweep_phi), "sim": sim, "x_theory": fine_phi,
                "theory": [theory_r2(cfg, f, cfg.p_others) for f in fine_phi],
                "final_loss": loss_b}

    # (c) weight decay during pre-training. With decay, start at a standard scale: small inits
    # would be pulled back to 0 (0 is a local minimum once there is decay), and the decay itself
    # balances the layers. Without decay, the small init of (a) and (b).
    sims, losses = [], []
    for wd in tqdm(cfg.sweep_wd, desc="(c) weight decay", disable=not progress):
        sim, _, _, loss = _sweep(cfg, [(cfg.target_phi, cfg.wd_target_p)], rng, seed + 2, "",
                                 weight_decay=wd,
                                 init_scale=cfg.wd_init_scale if wd > 0 else cfg.init_scale,
                                 steps=cfg.wd_steps, progress=False)
        sims.append(sim[0])
        losses.append(float(loss[0]))
    fine_wd = np.linspace(0, max(cfg.sweep_wd), cfg.theory_points)
    out["c"] = {"x": list(cfg.sweep_wd), "sim": sims, "x_theory": fine_wd,
                "theory": [theory_r2(cfg, cfg.target_phi, cfg.wd_target_p, weight_decay=wd)
                           for wd in fine_wd],
                "target_p": cfg.wd_target_p, "final_loss": losses}

    # which probe sees the difference: the (a) model closest to wd_target_p
    k = int(np.argmin(np.abs(np.array(cfg.sweep_p) - cfg.wd_target_p)))
    probes = {"least squares, many labels": (4 * cfg.n_features, 0.0),
              f"ridge {cfg.probe_ridge}, {cfg.n_labels} labels": (cfg.n_labels, cfg.probe_ridge),
              f"least squares, {cfg.n_features // 2} labels": (cfg.n_features // 2, 0.0)}
    out["probes"] = {"target_p": cfg.sweep_p[k], "names": list(probes), "sim": [], "theory": []}
    for n, ridge in probes.values():
        out["probes"]["sim"].append(_simulated_r2(cfg, maps_a[k:k + 1], phis_a[k:k + 1], rng,
                                                  n=n, ridge=ridge)[0])
        out["probes"]["theory"].append(theory_r2(cfg, cfg.target_phi, cfg.sweep_p[k], n=n,
                                                 ridge=ridge))

    # summary: pre minus post over (drop probability, strength)
    grid = [(f, p) for f in cfg.grid_phi for p in cfg.grid_p]
    sim, _, _, loss_g = _sweep(cfg, grid, rng, seed + 3, "(grid) strength x drop probability",
                               progress=progress)
    sim = np.array(sim).reshape(len(cfg.grid_phi), len(cfg.grid_p), 3)
    fp = np.linspace(0, max(cfg.grid_p), cfg.theory_points)
    ff = np.geomspace(min(cfg.grid_phi), max(cfg.grid_phi), cfg.theory_points)
    th = np.array([[theory_r2(cfg, f, p) for p in fp] for f in ff])  # (phi, p, 3)
    out["grid"] = {"p": list(cfg.grid_p), "phi": list(cfg.grid_phi), "sim": sim,
                   "p_theory": fp, "phi_theory": ff, "theory": th, "final_loss": loss_g}
    return out


def agreement(payload: dict) -> dict:
    """Largest |simulated - theory| R^2 over each sweep's simulated points (theory interpolated)."""
    res = {}
    for key in ("a", "b", "c"):
        part = payload[key]
        sim = np.asarray(part["sim"])
        th = np.asarray(part["theory"])
        xs = np.asarray(part["x_theory"])
        interp = np.stack([np.interp(part["x"], xs, th[:, j]) for j in range(3)], axis=1)
        res[key] = float(np.max(np.abs(sim - interp)))
    return res


def plot_sweeps(payload: dict, provenance: dict):
    """Cases (a), (b), (c): probe R^2 at each layer, theory (lines) and simulation (dots)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    titles = {"a": "(a) augmentation disrupts the target",
              "b": "(b) the target is weak or strong",
              "c": f"(c) weight decay (target p = {payload['c']['target_p']})"}
    xlabels = {"a": "drop probability of the target, $p_t$",
               "b": r"strength of the target, $\phi_t$", "c": r"weight decay $\lambda$"}
    for ax, key in zip(axes, "abc"):
        part = payload[key]
        th, sim = np.asarray(part["theory"]), np.asarray(part["sim"])
        for j, name in enumerate(payload["layers"]):
            color = ["0.55", plots.PALETTE[0], plots.PALETTE[1]][j]
            ax.plot(part["x_theory"], th[:, j], color=color, label=f"{name} (theory)")
            ax.scatter(part["x"], sim[:, j], color=color, s=20, zorder=3)
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel(xlabels[key])
        if key == "b":
            from matplotlib.ticker import NullFormatter
            ax.set_xscale("log")
            ax.set_xticks([0.2, 0.5, 1, 2], ["0.2", "0.5", "1", "2"])
            ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylabel("probe test $R^2$ for the target")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance, "lines: theory, dots: gradient "
                                                    "descent + ridge probes"))
    return fig


def plot_probes(payload: dict, provenance: dict):
    """Pre vs post R^2 for three probes: only a scale-sensitive probe tells the layers apart."""
    import matplotlib.pyplot as plt

    from helpers import plots

    part = payload["probes"]
    sim, th = np.asarray(part["sim"]), np.asarray(part["theory"])
    x = np.arange(len(part["names"]))
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for j, name in enumerate(payload["layers"][1:], start=1):
        ax.bar(x + (j - 1.5) * 0.36, sim[:, j], width=0.34, label=f"{name} (simulated)",
               color=plots.PALETTE[j - 1])
        ax.scatter(x + (j - 1.5) * 0.36, th[:, j], marker="_", s=400, color="k",
                   label="theory" if j == 1 else None, zorder=3)
    ax.set_xticks(x, part["names"], fontsize=8)
    ax.set_ylabel("probe test $R^2$ for the target")
    ax.set_title(f"Which probe sees the difference? (target p = {part['target_p']})")
    ax.legend(fontsize=8, loc="lower left")
    plots.add_caption(fig, plots.provenance_caption(provenance))
    return fig


def plot_regions(payload: dict, provenance: dict):
    """Where pre-projection beats post-projection: theory map with simulated cells overlaid."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    from helpers import plots

    g = payload["grid"]
    th = np.asarray(g["theory"])
    sim = np.asarray(g["sim"])
    diff_th = th[..., 1] - th[..., 2]
    diff_sim = sim[..., 1] - sim[..., 2]
    lim = max(np.abs(diff_th).max(), np.abs(diff_sim).max(), 1e-6)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    mesh = ax.pcolormesh(g["p_theory"], g["phi_theory"], diff_th, cmap="RdBu_r", norm=norm,
                         shading="auto")
    ax.contour(g["p_theory"], g["phi_theory"], diff_th, levels=[0.0], colors="k", linewidths=1.2)
    P, F = np.meshgrid(g["p"], g["phi"])
    ax.scatter(P, F, c=diff_sim, cmap="RdBu_r", norm=norm, s=90, edgecolors="k", zorder=3)
    ax.set_yscale("log")
    ax.set_xlabel("drop probability of the target, $p_t$")
    ax.set_ylabel(r"strength of the target, $\phi_t$")
    ax.set_title("Pre-projection minus post-projection probe $R^2$\n"
                 "(background: theory, black line = tie; circles: simulation)", fontsize=10)
    fig.colorbar(mesh, ax=ax, label=r"$R^2_{pre} - R^2_{post}$")
    plots.add_caption(fig, plots.provenance_caption(provenance))
    return fig
