"""Chapter "When the layer before the head wins": sweeps of the two-layer linear model.

A feature model with one *target* feature (index 0, the one the downstream task needs) and
``n_features - 1`` others. An encoder ``W_1`` and a linear head ``W_2`` are pre-trained together
by gradient descent on the population spectral contrastive loss (``helpers.deep_linear``);
then a ridge probe reads the target's latent value from ``n_labels`` labelled clean inputs with
noisy labels (``y = z_t + label_noise * N(0, 1)``) at the input (layer 0), the pre-projection
layer ``W_1 x`` (layer 1) and the output ``W_2 W_1 x`` (layer 2). The probe's penalty is chosen
*per layer* by leave-one-out cross-validation on the labelled examples
(:func:`helpers.ridge_cv.loo_ridge`), never on the test set; the theory next to it is the
oracle-tuned deterministic equivalent (``helpers.theory.linear.tuned_ridge_probe_r2``).

Each layer is rescaled to the same total variance before probing, so only the *relative* scales
of the features matter (an overall scale would just move the best penalty along the grid).
Every layer is probed on the same labelled draws (a paired comparison), and the chapter's claims
(pre - post at one point per case) are measured over ``n_seeds`` independent pre-trainings and
label draws, with a 95 % t-interval (:func:`claims_table`).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from helpers.deep_linear import population_gd
from helpers.evidence import Claim, paired_effect
from helpers.ridge_cv import loo_ridge
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
    n_labels: int  # labelled examples of the downstream probe (fewer than n_features)
    label_noise: float  # std of the noise on the probe's labels (the target has variance 1)
    ridge_grid: tuple  # (low, high, count): the probe's candidate penalties, log-spaced; one
    # is chosen per layer by leave-one-out cross-validation on the n_labels examples
    probe_ridge: float  # a fixed, untuned penalty: only the "which probe" comparison uses it
    probe_reps: int  # draws of the labelled set averaged per point
    claim_cases: tuple  # (name, target strength, target drop probability): one point per case
    n_seeds: int  # claims: independent pre-trainings and label draws (t-interval over them)
    theory_points: int  # resolution of the theory curves


_LOWER = dict(data="synthetic-features", n_features=20, phi_others=(0.5, 1.5), p_others=0.2,
              sigma=0.5, target_phi=1.0, wd_target_p=0.8, lr=0.05, wd_init_scale=1.0,
              n_labels=15, label_noise=0.3, ridge_grid=(1e-4, 100.0, 31), probe_ridge=0.3,
              claim_cases=(("(a) disrupted target", 1.0, 0.8), ("(b) strong target", 3.0, 0.2),
                           ("(b) moderate target", 0.5, 0.2)))
CONFIGS = {
    "smoke": LowerLayerConfig(**_LOWER, sweep_p=(0.0, 0.8), sweep_phi=(0.3, 3.0),
                              sweep_wd=(0.0, 0.03), grid_p=(0.0, 0.8), grid_phi=(0.5, 2.0),
                              width=40, init_scale=0.15, steps=3000, wd_steps=3000, probe_reps=5,
                              n_seeds=2, theory_points=12),
    "cpu": LowerLayerConfig(**_LOWER, sweep_p=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
                            sweep_phi=(0.15, 0.25, 0.4, 0.7, 1.2, 2.0, 3.0),
                            sweep_wd=(0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06),
                            grid_p=(0.0, 0.2, 0.4, 0.6, 0.8, 0.9),
                            grid_phi=(0.3, 0.5, 0.8, 1.2, 2.0, 3.0),
                            width=40, init_scale=0.15, steps=15_000, wd_steps=20_000,
                            probe_reps=100, n_seeds=8, theory_points=60),
}
CONFIGS["gpu"] = CONFIGS["cpu"]  # numpy on the CPU: a GPU does not help these nets
CONFIGS["paper"] = replace(CONFIGS["cpu"], init_scale=0.05, steps=200_000,
                                probe_reps=400, n_seeds=10)


# --- the claims, declared before they are measured (helpers.evidence) ------------------------

FIGURES = {"ch03-fig-probes": "Ch. 3, probes by layer, theory and simulation",
           "ch03-fig-regions": "Ch. 3, where each layer wins"}

# The cases of Corollary 3.7 as the reviews summarise it (PAPERS.md 1.4) and the book derives
# them: the lower layer wins when the augmentation disrupts the target or the target is strong
# in pre-training, the post-projection layer when it is moderate. One claim per claim case.
_PREDICTED = {"(a) disrupted target": +1, "(b) strong target": +1, "(b) moderate target": -1}
CLAIMS = [Claim(id=f"ch3-{name.split(') ')[1].replace(' target', '').replace(' ', '-')}-target",
                chapter="03-when-lower-layers-win", paper="Xue2024",
                statement=(f"with a {name.split(') ')[1]}, the layer before the head "
                           f"{'beats' if sign > 0 else 'loses to'} the head's output for a "
                           f"tuned linear probe"),
                compared="test R^2 of the leave-one-out-tuned ridge probe at the pre-projection "
                         "layer minus at the post-projection layer, same network, same label "
                         "draws", direction=sign, min_effect=0.02, units="R^2", decimals=3,
                figure="ch03-fig-regions")
          for name, sign in _PREDICTED.items()]


def claim_values(payload) -> dict:
    """Per-seed pre and post R^2 of each claim case (the cases of ``cfg.claim_cases``)."""
    part = payload["claims"]
    sim = np.asarray(part["sim"], dtype=float)  # (cases, seeds, 3 layers): input, pre, post
    by_name = {name: sim[c] for c, name in enumerate(part["names"])}
    return {claim.id: (by_name[name][:, 1], by_name[name][:, 2])
            for claim, name in zip(CLAIMS, _PREDICTED)}


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: the tuned probe (issue 18).
CODE_VERSION = 1

LAYER_NAMES = ("input", "pre-projection", "post-projection")
TARGET = 0


def feature_model(cfg, target_phi: float, target_p: float) -> tuple[np.ndarray, np.ndarray]:
    """``(phi, p)`` of the whole model, (n_features,) each; the target feature first."""
    others = np.geomspace(cfg.phi_others[0], cfg.phi_others[1], cfg.n_features - 1)
    phi = np.r_[target_phi, others]
    p = np.r_[target_p, np.full(cfg.n_features - 1, cfg.p_others)]
    return phi, p


def ridge_grid(cfg) -> np.ndarray:
    """The candidate penalties the probe chooses from, (G,): ``cfg.ridge_grid = (low, high, G)``
    log-spaced."""
    low, high, count = cfg.ridge_grid
    return np.geomspace(low, high, int(count))


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


def probe_layers(maps, phi: np.ndarray, n: int, ridge, reps: int, rng: np.random.Generator,
                 label_noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Test R^2 of a ridge probe for the target's latent at each layer, on shared label draws.

    ``maps`` (k_l, d) each: the layers' maps (the identity for the input); the representation of
    a clean input is ``h = P (phi * z)``, rescaled to mean squared feature strength 1. ``ridge``:
    a penalty (0 = least squares / minimum-norm interpolation), or a sequence of candidate
    penalties, one chosen per layer and draw by leave-one-out cross-validation on the n labels.
    Every layer sees the same ``reps`` draws of the n labelled inputs and label noise, so layer
    differences are paired. The test R^2 is exact (population): ``1 - E[(y_hat - z_t)^2]``.

    Returns ``(r2, chosen)``: (reps, layers) test R^2 and the (reps, layers) penalties used."""
    As = []
    for P in maps:
        A = P * phi[None, :]  # (k, d): h = A z
        As.append(A / np.sqrt(np.sum(A**2) / A.shape[1]))  # total variance d
    tuned = np.ndim(ridge) > 0
    d = len(phi)
    r2 = np.empty((reps, len(As)))
    chosen = np.empty((reps, len(As)))
    for i in range(reps):
        Z = rng.standard_normal((n, d))
        y = Z[:, TARGET] + label_noise * rng.standard_normal(n)
        for j, A in enumerate(As):
            H = Z @ A.T
            if tuned:
                beta, chosen[i, j], _ = loo_ridge(H, y, ridge)
            elif ridge > 0:
                beta = np.linalg.solve(H.T @ H + n * ridge * np.eye(H.shape[1]), H.T @ y)
                chosen[i, j] = ridge
            else:  # least squares / minimum-norm interpolation
                beta = np.linalg.lstsq(H, y, rcond=None)[0]
                chosen[i, j] = 0.0
            coef = beta @ A  # prediction = coef . z
            coef[TARGET] -= 1
            r2[i, j] = 1 - np.sum(coef**2)
    return r2, chosen


def probe_r2(P: np.ndarray, phi: np.ndarray, n: int, ridge, reps: int,
             rng: np.random.Generator, label_noise: float = 0.0) -> float:
    """Mean test R^2 of the ridge probe on one layer ``P`` (k, d); see :func:`probe_layers`."""
    return float(probe_layers([P], phi, n, ridge, reps, rng, label_noise)[0].mean())


def theory_r2(cfg, target_phi, target_p, weight_decay=0.0, n=None, ridge=None,
              label_noise=None) -> list[float]:
    """Theory's probe R^2 at [input, pre-projection, post-projection].

    ``ridge=None``: the chapter's probe, the penalty tuned per layer over :func:`ridge_grid`
    (oracle-tuned deterministic equivalent); a number: that fixed penalty."""
    return [r for r, _ in theory_r2_and_ridge(cfg, target_phi, target_p, weight_decay, n,
                                               ridge, label_noise)]


def theory_r2_and_ridge(cfg, target_phi, target_p, weight_decay=0.0, n=None, ridge=None,
                        label_noise=None) -> list[tuple[float, float]]:
    """Like :func:`theory_r2`, with each layer's penalty: [(R^2, penalty)] * 3."""
    phi, p = feature_model(cfg, target_phi, target_p)
    gains = theory.optimal_gains(phi, p, cfg.sigma, weight_decay=weight_decay, depth=2)
    strengths = theory.normalise_layer(theory.layer_strengths(phi, gains, 2))
    n = cfg.n_labels if n is None else n
    noise = cfg.label_noise if label_noise is None else label_noise
    if ridge is None:
        return [theory.tuned_ridge_probe_r2(r, TARGET, n, ridge_grid(cfg), noise)
                for r in strengths]
    return [(theory.ridge_probe_r2(r, TARGET, n, ridge, noise), float(ridge)) for r in strengths]


def _simulated(cfg, maps, phis, rng, n=None, ridge=None, label_noise=None):
    """Mean R^2 (points, 3) and median chosen penalty (points, 3) of the probe on each model."""
    n = cfg.n_labels if n is None else n
    ridge = ridge_grid(cfg) if ridge is None else ridge
    noise = cfg.label_noise if label_noise is None else label_noise
    eye = np.eye(cfg.n_features)
    out = [probe_layers((eye, *layer_maps), phi, n, ridge, cfg.probe_reps, rng, noise)
           for layer_maps, phi in zip(maps, phis)]
    return ([r2.mean(axis=0).tolist() for r2, _ in out],
            [np.median(ch, axis=0).tolist() for _, ch in out])


def _sweep(cfg, targets, rng, seed, desc, weight_decay=0.0, init_scale=None, steps=None,
           progress=True):
    """Train one model per (target_phi, target_p) pair and probe it: (B, 3) R^2."""
    models = [feature_model(cfg, f, p) for f, p in targets]
    phis, ps = [m[0] for m in models], [m[1] for m in models]
    maps, loss = train_two_layer(cfg, phis, ps, weight_decay=weight_decay, init_scale=init_scale,
                                 steps=steps, seed=seed, desc=desc, progress=progress)
    sim, chosen = _simulated(cfg, maps, phis, rng)
    return sim, chosen, maps, phis, loss


def t_interval(values) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` (k,) and its 95 % Student-t interval, the
    book's one convention (:func:`helpers.evidence.paired_effect` of ``values`` against 0).

    Raises:
        ValueError: fewer than 2 values (no spread to estimate), or non-finite values.
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"need at least 2 finite values for an interval; got {x.size}: {x}")
    e = paired_effect(x, np.zeros_like(x))
    return e.effect, e.ci_low, e.ci_high


def claims(cfg, seed: int, progress: bool = True) -> dict:
    """The chapter's claims: pre - post at one point per case, over ``cfg.n_seeds`` seeds.

    Each seed pre-trains its own networks (an independent random initialisation in one batch)
    and draws its own labelled sets. Returns per-seed mean R^2, (cases, seeds, 3), of the
    probe tuned by leave-one-out (``sim``) and, on the same draws, of the probe at the theory's
    best penalty per layer (``sim_oracle_ridge``: separates the limit's error from the price of
    tuning on n labels); the theory (cases, 3) and the penalties each layer chose (median over
    draws and seeds, (cases, 3))."""
    cases = [(name, float(f), float(p)) for name, f, p in cfg.claim_cases]
    targets = [(f, p) for _, f, p in cases for _ in range(cfg.n_seeds)]
    models = [feature_model(cfg, f, p) for f, p in targets]
    phis, ps = [m[0] for m in models], [m[1] for m in models]
    maps, _ = train_two_layer(cfg, phis, ps, seed=seed + 10, desc="claims over seeds",
                              progress=progress)
    th = [theory_r2_and_ridge(cfg, f, p) for _, f, p in cases]
    eye = np.eye(cfg.n_features)
    sim = np.empty((len(cases), cfg.n_seeds, 3))
    at_oracle = np.empty((len(cases), cfg.n_seeds, 3))
    chosen = np.empty((len(cases), cfg.n_seeds, cfg.probe_reps, 3))
    for k, (layer_maps, phi) in enumerate(zip(maps, phis)):
        c, s = divmod(k, cfg.n_seeds)
        layers = (eye, *layer_maps)
        draws = [seed, 10, s]  # seed s's label draws (the same for every probe of this seed)
        r2, ch = probe_layers(layers, phi, cfg.n_labels, ridge_grid(cfg), cfg.probe_reps,
                              np.random.default_rng(draws), cfg.label_noise)
        sim[c, s], chosen[c, s] = r2.mean(axis=0), ch
        for j, (P, (_, lam)) in enumerate(zip(layers, th[c])):  # same draws, oracle's penalty
            at_oracle[c, s, j] = probe_layers([P], phi, cfg.n_labels, lam, cfg.probe_reps,
                                              np.random.default_rng(draws),
                                              cfg.label_noise)[0].mean()
    return {"names": [c[0] for c in cases], "phi": [c[1] for c in cases],
            "p": [c[2] for c in cases], "n_seeds": cfg.n_seeds, "sim": sim.tolist(),
            "sim_oracle_ridge": at_oracle.tolist(),
            "ridge": np.median(chosen, axis=(1, 2)).tolist(),
            "theory": [[r for r, _ in row] for row in th],
            "theory_ridge": [[lam for _, lam in row] for row in th]}


def claims_table(payload: dict) -> list[dict]:
    """One row per case: pre - post (mean and t-interval over seeds), its theory, the penalties.

    Keys: ``case, phi_t, p_t, mean, low, high`` (the leave-one-out-tuned probe), ``oracle_mean,
    oracle_low, oracle_high`` (the same draws at the theory's penalties), ``theory, n_seeds,
    ridge_pre, ridge_post`` (median penalty chosen by leave-one-out)."""
    part = payload["claims"]
    sim, th = np.asarray(part["sim"]), np.asarray(part["theory"])
    orc = np.asarray(part["sim_oracle_ridge"])
    rows = []
    for c, name in enumerate(part["names"]):
        mean, low, high = t_interval(sim[c, :, 1] - sim[c, :, 2])
        o_mean, o_low, o_high = t_interval(orc[c, :, 1] - orc[c, :, 2])
        rows.append({"case": name, "phi_t": part["phi"][c], "p_t": part["p"][c], "mean": mean,
                     "low": low, "high": high, "oracle_mean": o_mean, "oracle_low": o_low,
                     "oracle_high": o_high, "theory": float(th[c, 1] - th[c, 2]),
                     "n_seeds": int(part["n_seeds"]), "ridge_pre": part["ridge"][c][1],
                     "ridge_post": part["ridge"][c][2]})
    return rows


def run(cfg, seed: int, progress: bool = True) -> dict:
    """All sweeps of the chapter. JSON-able; R^2 lists are (points, 3 layers)."""
    rng = np.random.default_rng(seed)
    out = {"layers": list(LAYER_NAMES), "target_phi": cfg.target_phi, "p_others": cfg.p_others,
           "n_labels": cfg.n_labels, "label_noise": cfg.label_noise,
           "ridge_grid": ridge_grid(cfg).tolist()}

    # (a) augmentation disrupts the target: sweep its drop probability
    sim, ridge, maps_a, phis_a, loss_a = _sweep(cfg, [(cfg.target_phi, p) for p in cfg.sweep_p],
                                                rng, seed, "(a) drop probability",
                                                progress=progress)
    fine_p = np.linspace(0, max(cfg.sweep_p), cfg.theory_points)
    out["a"] = {"x": list(cfg.sweep_p), "sim": sim, "ridge": ridge, "x_theory": fine_p,
                "theory": [theory_r2(cfg, cfg.target_phi, p) for p in fine_p],
                "final_loss": loss_a}

    # (b) the target is much weaker or stronger than the others: sweep its strength
    sim, ridge, _, _, loss_b = _sweep(cfg, [(f, cfg.p_others) for f in cfg.sweep_phi], rng,
                                      seed + 1, "(b) feature strength", progress=progress)
    fine_phi = np.geomspace(min(cfg.sweep_phi), max(cfg.sweep_phi), cfg.theory_points)
    out["b"] = {"x": list(cfg.sweep_phi), "sim": sim, "ridge": ridge, "x_theory": fine_phi,
                "theory": [theory_r2(cfg, f, cfg.p_others) for f in fine_phi],
                "final_loss": loss_b}

    # (c) weight decay during pre-training. With decay, start at a standard scale: small inits
    # would be pulled back to 0 (0 is a local minimum once there is decay), and the decay itself
    # balances the layers. Without decay, the small init of (a) and (b).
    sims, ridges, losses = [], [], []
    for wd in tqdm(cfg.sweep_wd, desc="(c) weight decay", disable=not progress):
        sim, ridge, _, _, loss = _sweep(cfg, [(cfg.target_phi, cfg.wd_target_p)], rng, seed + 2,
                                        "", weight_decay=wd,
                                        init_scale=cfg.wd_init_scale if wd > 0 else cfg.init_scale,
                                        steps=cfg.wd_steps, progress=False)
        sims.append(sim[0])
        ridges.append(ridge[0])
        losses.append(float(loss[0]))
    fine_wd = np.linspace(0, max(cfg.sweep_wd), cfg.theory_points)
    phi_t, p_t = feature_model(cfg, cfg.target_phi, cfg.wd_target_p)
    out["c"] = {"x": list(cfg.sweep_wd), "sim": sims, "ridge": ridges, "x_theory": fine_wd,
                "theory": [theory_r2(cfg, cfg.target_phi, cfg.wd_target_p, weight_decay=wd)
                           for wd in fine_wd],
                "target_p": cfg.wd_target_p, "final_loss": losses,
                "threshold": float(theory.decay_threshold(phi_t, p_t, cfg.sigma)[TARGET])}

    # which probe sees the difference: the (a) model closest to wd_target_p
    k = int(np.argmin(np.abs(np.array(cfg.sweep_p) - cfg.wd_target_p)))
    many = 4 * cfg.n_features
    probes = {f"least squares, {many} labels": (many, 0.0),
              f"ridge {cfg.probe_ridge} (fixed), {many} labels": (many, cfg.probe_ridge),
              f"ridge tuned, {many} labels": (many, None),
              f"ridge tuned, {cfg.n_labels} labels": (cfg.n_labels, None)}
    out["probes"] = {"target_p": cfg.sweep_p[k], "names": list(probes), "sim": [], "theory": []}
    for n, ridge in probes.values():
        out["probes"]["sim"].append(_simulated(cfg, maps_a[k:k + 1], phis_a[k:k + 1], rng,
                                               n=n, ridge=ridge)[0][0])
        out["probes"]["theory"].append(theory_r2(cfg, cfg.target_phi, cfg.sweep_p[k], n=n,
                                                 ridge=ridge))

    # summary: pre minus post over (drop probability, strength)
    grid = [(f, p) for f in cfg.grid_phi for p in cfg.grid_p]
    sim, _, _, _, loss_g = _sweep(cfg, grid, rng, seed + 3, "(grid) strength x drop probability",
                                  progress=progress)
    sim = np.array(sim).reshape(len(cfg.grid_phi), len(cfg.grid_p), 3)
    fp = np.linspace(0, max(cfg.grid_p), cfg.theory_points)
    ff = np.geomspace(min(cfg.grid_phi), max(cfg.grid_phi), cfg.theory_points)
    th = np.array([[theory_r2(cfg, f, p) for p in fp] for f in ff])  # (phi, p, 3)
    out["grid"] = {"p": list(cfg.grid_p), "phi": list(cfg.grid_phi), "sim": sim,
                   "p_theory": fp, "phi_theory": ff, "theory": th, "final_loss": loss_g}

    # the claims: one point per case, over seeds
    out["claims"] = claims(cfg, seed, progress=progress)
    return out


def agreement(payload: dict) -> dict:
    """Per sweep, over its simulated points (theory interpolated):

    ``diff``: the largest |simulated - theory| of pre - post (what the claims are about);
    ``shortfall``: the largest theory - simulated R^2 of any layer, the price of choosing the
    penalty on n labels instead of by the oracle (and of the finite size)."""
    res = {}
    for key in ("a", "b", "c"):
        part = payload[key]
        sim = np.asarray(part["sim"])
        th = np.asarray(part["theory"])
        xs = np.asarray(part["x_theory"])
        interp = np.stack([np.interp(part["x"], xs, th[:, j]) for j in range(3)], axis=1)
        gap = (sim[:, 1] - sim[:, 2]) - (interp[:, 1] - interp[:, 2])
        res[key] = {"diff": float(np.max(np.abs(gap))),
                    "shortfall": float(np.max(interp - sim))}
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
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"lines: theory with the best penalty per layer; dots: gradient descent + "
        f"ridge probes on {payload['n_labels']} labels, penalty chosen per layer by "
        "leave-one-out"))
    return fig


def plot_probes(payload: dict, provenance: dict):
    """Pre vs post R^2 for four probes: a fixed penalty makes a difference that tuning removes
    with many labels; with few noisy labels it survives tuning."""
    import matplotlib.pyplot as plt

    from helpers import plots

    part = payload["probes"]
    sim, th = np.asarray(part["sim"]), np.asarray(part["theory"])
    x = np.arange(len(part["names"]))
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    for j, name in enumerate(payload["layers"][1:], start=1):
        ax.bar(x + (j - 1.5) * 0.36, sim[:, j], width=0.34, label=f"{name} (simulated)",
               color=plots.PALETTE[j - 1])
        ax.scatter(x + (j - 1.5) * 0.36, th[:, j], marker="_", s=400, color="k",
                   label="theory" if j == 1 else None, zorder=3)
    ax.set_xticks(x, [name.replace(", ", ",\n") for name in part["names"]], fontsize=8)
    ax.axhline(0, color="0.6", lw=0.8)
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
