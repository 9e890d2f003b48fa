"""Chapter 6's minimal model of class collapse: a one-hidden-layer ReLU encoder and a linear
head trained on coarse labels of the sub-class model of :mod:`helpers.theory.collapse`.

Network (shapes for a batch of n): x (n, d) -> h = relu(W1 x + b1) (n, m), the
**pre-projection** layer -> z = W2 h + b2 (n, p), the **head output**. SupCon acts on z; for
cross-entropy a linear classifier maps z to the K coarse logits. Full-batch Adam.
``run`` trains both losses for several seeds and probes fine and coarse labels at x, h and z,
next to the closed forms of the idealised network.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.layers import H, INPUT, Z
from helpers.losses import supcon
from helpers.probes import probe_accuracy
from helpers.theory import collapse as theory

from dataclasses import dataclass, replace


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class CollapseToyConfig:
    """Chapter 6's minimal model (helpers.experiments.collapse_toy): K coarse classes of two
    opposite sub-classes in R^d; a ReLU encoder (width) + linear head (out) trained full-size
    with AdamW on minibatches; probes at x, h, z. Units: samples, steps."""

    data: str
    toy_coarse: int  # K
    toy_dim: int  # d >= K (d - K pure-noise coordinates)
    toy_snr: float  # r / sigma
    toy_n_train: int
    toy_n_test: int
    toy_width: int  # hidden ReLU units
    toy_out: int  # head output dimension
    toy_lr: float
    toy_weight_decay: float  # decoupled (AdamW)
    toy_steps: int
    toy_batch: int
    toy_temperature: float  # SupCon
    toy_seeds: int
    toy_n_labels: int  # labelled points of the scale-aware ridge probe
    toy_ridge: float
    toy_probe_draws: int


_TOY = dict(data="synthetic-subclasses", toy_coarse=3, toy_dim=6, toy_snr=3.0, toy_width=32,
            toy_out=8, toy_lr=1e-2, toy_weight_decay=0.05, toy_batch=256, toy_temperature=0.5,
            toy_n_labels=60, toy_ridge=0.3)
CONFIGS = {
    "smoke": CollapseToyConfig(**_TOY, toy_n_train=500, toy_n_test=500, toy_steps=300,
                               toy_seeds=1, toy_probe_draws=3),
    "cpu": CollapseToyConfig(**_TOY, toy_n_train=1000, toy_n_test=2000, toy_steps=2000,
                             toy_seeds=3, toy_probe_draws=20),
}
# numpy/torch on tiny nets: a GPU does not help; gpu = cpu; paper: more seeds and draws.
CONFIGS["gpu"] = CONFIGS["cpu"]
CONFIGS["paper"] = replace(CONFIGS["cpu"], toy_seeds=10, toy_probe_draws=100,
                                 toy_steps=5000)


# --- what the practitioner's guide (helpers.guide) reads from this result --------------------

FIGURES = {"ch06-fig-toy": "Ch. 6, the minimal model"}


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: the one training engine and the layer vocabulary (issue 15).
CODE_VERSION = 1

LAYERS = (INPUT, H, Z)  # helpers.layers: the input x, the pre-projection h, the head output z
LOSSES = ("supcon", "ce")


class ToyNet(nn.Module):
    """x (n, d) -> h (n, m) = relu(W1 x + b1) -> z (n, p) = W2 h + b2 (+ classifier for CE)."""

    def __init__(self, d: int, m: int, p: int, n_classes: int):
        super().__init__()
        self.encoder = nn.Linear(d, m)
        self.head = nn.Linear(m, p)
        self.classifier = nn.Linear(p, n_classes)  # used by cross-entropy only

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.encoder(x))
        return {"h": h, "z": self.head(h)}


def train_toy(loss: str, x: np.ndarray, coarse: np.ndarray, cfg, seed: int) -> tuple[ToyNet, list]:
    """Train a :class:`ToyNet` on the coarse labels; returns (net, loss every 100 steps).

    Raises:
        ValueError: unknown loss.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}")
    torch.manual_seed(seed)
    X = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(coarse, dtype=torch.long)
    net = ToyNet(X.shape[1], cfg.toy_width, cfg.toy_out, int(y.max()) + 1)
    # Decoupled weight decay: what the loss does not use decays away (e.g. the directions of z
    # the CE classifier does not read, which would otherwise keep their random initial values).
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.toy_lr, weight_decay=cfg.toy_weight_decay)
    gen = torch.Generator().manual_seed(seed)
    batch = min(cfg.toy_batch, len(X))
    trace = []
    for step in range(cfg.toy_steps):
        idx = torch.randperm(len(X), generator=gen)[:batch]
        z = net.forward_layers(X[idx])["z"]  # (batch, p)
        value = (F.cross_entropy(net.classifier(z), y[idx]) if loss == "ce"
                 else supcon(z, y[idx], temperature=cfg.toy_temperature))
        opt.zero_grad()
        value.backward()
        opt.step()
        if step % 100 == 0 or step == cfg.toy_steps - 1:
            trace.append(float(value.detach()))
    return net, trace


def _probe(train_feats, y_train, test_feats, y_test, n_classes) -> float:
    as_float = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return probe_accuracy(as_float(train_feats), torch.as_tensor(y_train), as_float(test_feats),
                          torch.as_tensor(y_test), method="logistic", n_classes=n_classes)[0]


def scale_aware_probe(train_feats, y_train, test_feats, y_test, n_classes, n_labels: int,
                      ridge: float, draws: int, seed: int) -> float:
    """Mean test accuracy of a ridge probe fit on ``n_labels`` random training points, on the
    layer centred and rescaled to mean squared coordinate 1 (one factor for the whole layer,
    as Chapter 3 does), **without** per-coordinate standardisation: a weak direction stays weak,
    so the probe sees how strongly the layer carries a label, not only whether it does."""
    from helpers.probes import ridge_probe_fit

    Xtr = np.asarray(train_feats, dtype=np.float64)
    mean = Xtr.mean(0)
    scale = np.sqrt(np.mean((Xtr - mean) ** 2)) or 1.0
    Xtr, Xte = (Xtr - mean) / scale, (np.asarray(test_feats, dtype=np.float64) - mean) / scale
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(draws):
        idx = rng.choice(len(Xtr), size=n_labels, replace=False)
        if len(np.unique(y_train[idx])) < 2:
            continue
        probe = ridge_probe_fit(torch.as_tensor(Xtr[idx]), torch.as_tensor(y_train[idx]),
                                n_classes, l2=ridge, standardize=False)
        scores.append(probe.score(torch.as_tensor(Xte), torch.as_tensor(y_test)))
    return float(np.mean(scores))


def layers_of(net: ToyNet, x: np.ndarray) -> dict[str, np.ndarray]:
    """{layer name: (n, dim)} of ``net`` on ``x``, named as :data:`LAYERS`."""
    with torch.no_grad():
        out = net.forward_layers(torch.as_tensor(x, dtype=torch.float32))
    return dict(zip(LAYERS, (x, out["h"].numpy(), out["z"].numpy())))


def probe_all(train_layers, test_layers, train_labels, test_labels, K, cfg=None) -> dict:
    """{'fine': [acc per layer], 'coarse': [...]} of the standardised logistic probe (all
    labels); with ``cfg``, also 'fine_scaled', 'coarse_scaled' of :func:`scale_aware_probe`.
    Labels are (fine, coarse) pairs."""
    out = {}
    for key, j, n_classes in (("fine", 0, 2 * K), ("coarse", 1, K)):
        out[key] = [_probe(train_layers[name], train_labels[j], test_layers[name], test_labels[j],
                           n_classes) for name in train_layers]
        if cfg is not None:
            out[key + "_scaled"] = [
                scale_aware_probe(train_layers[name], train_labels[j], test_layers[name],
                                  test_labels[j], n_classes, cfg.toy_n_labels, cfg.toy_ridge,
                                  cfg.toy_probe_draws, seed=j)
                for name in train_layers]
    return out


def subclass_means(net: ToyNet, K: int, snr: float) -> dict[str, np.ndarray]:
    """Each layer's response to the 2K noise-free sub-class centres s r e_k (sigma = 1):
    {'h': (2K, m), 'z': (2K, p)}, rows in fine-label order."""
    d = net.encoder.in_features
    centres = np.zeros((2 * K, d))
    for f in range(2 * K):
        centres[f, f // 2] = snr * (1 if f % 2 else -1)
    with torch.no_grad():
        out = net.forward_layers(torch.as_tensor(centres, dtype=torch.float32))
    return {k: v.numpy() for k, v in out.items()}


def sibling_ratio(means: np.ndarray, K: int) -> float:
    """Mean distance between sibling sub-classes (same coarse class) over the mean distance
    between sub-classes of different coarse classes: 0 = siblings merged (collapse)."""
    d = np.linalg.norm(means[:, None] - means[None], axis=-1)
    same = np.array([[i // 2 == j // 2 and i != j for j in range(2 * K)] for i in range(2 * K)])
    diff = np.array([[i // 2 != j // 2 for j in range(2 * K)] for i in range(2 * K)])
    return float(d[same].mean() / d[diff].mean())


def run(cfg, seed: int, progress: bool = True) -> dict:
    """Train ``cfg.toy_seeds`` nets per loss; probe x, h, z; theory next to it. JSON-able."""
    K, d, a = cfg.toy_coarse, cfg.toy_dim, cfg.toy_snr
    x_tr, f_tr, c_tr = theory.sample(cfg.toy_n_train, K, d, a, seed)
    x_te, f_te, c_te = theory.sample(cfg.toy_n_test, K, d, a, seed + 1)
    out = {"layers": list(LAYERS), "K": K, "d": d, "snr": a, "losses": list(LOSSES),
           "theory": {"fine_x_h": theory.fine_accuracy(K, a),
                      "coarse": theory.coarse_accuracy(K, a),
                      "fine_z": theory.collapsed_fine_accuracy(K, a)}}
    # the idealised network of the theory, probed the same way
    ideal_tr, ideal_te = theory.idealised_layers(x_tr, K), theory.idealised_layers(x_te, K)
    out["idealised"] = probe_all({INPUT: x_tr, **ideal_tr}, {INPUT: x_te, **ideal_te},
                                 (f_tr, c_tr), (f_te, c_te), K, cfg)
    jobs = [(loss, k) for loss in LOSSES for k in range(cfg.toy_seeds)]
    for loss, k in tqdm(jobs, desc="toy networks", disable=not progress):
        net, trace = train_toy(loss, x_tr, c_tr, cfg, seed + k)
        hz_tr, hz_te = ({k: v for k, v in layers_of(net, x).items() if k != LAYERS[0]}
                        for x in (x_tr, x_te))
        acc = probe_all(hz_tr, hz_te, (f_tr, c_tr), (f_te, c_te), K, cfg)
        # the input x is the same data for every network: its probes are the idealised run's
        acc = {key: [out["idealised"][key][0]] + values for key, values in acc.items()}
        means = subclass_means(net, K, a)
        entry = out.setdefault(loss, {**{key: [] for key in acc}, "trace": [], "sibling_h": [],
                                      "sibling_z": []})
        for key, value in acc.items():
            entry[key].append(value)
        entry["trace"].append(trace)
        entry["sibling_h"].append(sibling_ratio(means["h"], K))
        entry["sibling_z"].append(sibling_ratio(means["z"], K))
        if k == 0:  # the weights of the first seed, for the mechanism figure
            entry["weights"] = {"W1": net.encoder.weight.detach().numpy(),
                                "b1": net.encoder.bias.detach().numpy(),
                                "W2": net.head.weight.detach().numpy(),
                                "mean_h": means["h"], "mean_z": means["z"]}
    return out


def summarize(payload: dict) -> str:
    """Probe accuracies (mean over seeds) next to the theory, and the sibling distance ratios."""
    th, K = payload["theory"], payload["K"]
    lines = [f"closed forms (idealised network, Bayes): fine at x and h "
             f"{100 * th['fine_x_h']:.1f} %,"
             f" fine at z {100 * th['fine_z']:.1f} %, coarse {100 * th['coarse']:.1f} % (chance: "
             f"fine {100 / (2 * K):.1f} %, coarse {100 / K:.1f} %)"]
    rows = [("idealised network", {k: [v] for k, v in payload["idealised"].items()}, None)]
    rows += [(f"{loss} + linear head", payload[loss], payload[loss]) for loss in payload["losses"]]
    for probe, suffix in (("standardised logistic probe, all labels", ""),
                          ("scale-aware ridge probe, few labels", "_scaled")):
        lines.append(f"{probe}: fine accuracy at " + " / ".join(payload["layers"])
                     + " | coarse at the same layers")
        for name, acc, entry in rows:
            fine = 100 * np.mean(acc["fine" + suffix], 0)
            coarse = 100 * np.mean(acc["coarse" + suffix], 0)
            lines.append(f"  {name:<22}" + " / ".join(f"{v:5.1f}" for v in fine) + "  |  "
                         + " / ".join(f"{v:5.1f}" for v in coarse))
    for loss in payload["losses"]:
        e = payload[loss]
        lines.append(f"{loss}: sibling distance ratio at h {np.mean(e['sibling_h']):.2f}, at z "
                     f"{np.mean(e['sibling_z']):.2f} ({len(e['fine'])} seeds)")
    return "\n".join(lines)


def plot_accuracy(payload: dict, provenance: dict):
    """Fine-label accuracy at x, h, z for each loss, with two probes; black: the idealised
    network probed the same way; crosses: the closed forms (Bayes accuracy)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    th = payload["theory"]
    titles = {"fine": "standardised logistic probe, all labels",
              "fine_scaled": "scale-aware ridge probe, few labels"}
    for ax, key in zip(axes, titles):
        for i, loss in enumerate(payload["losses"]):
            plots.plot_layer_accuracy(payload["layers"], np.asarray(payload[loss][key]), ax=ax,
                                      label=f"{loss} + linear head", color=plots.PALETTE[i])
        ax.plot(range(3), 100 * np.asarray(payload["idealised"][key]), ls="--", color="k",
                label="idealised network")
        ax.scatter(range(3), [100 * th["fine_x_h"]] * 2 + [100 * th["fine_z"]], marker="x",
                   color="k", s=50, zorder=4, label="closed form (Bayes)")
        ax.axhline(100 / (2 * payload["K"]), ls=":", color="0.5")
        ax.set_title(f"fine labels: {titles[key]}", fontsize=10)
    axes[0].legend(fontsize=7.5, loc="lower left")
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(
        provenance, f"sub-class model K = {payload['K']}, d = {payload['d']}, r / sigma = "
                    f"{payload['snr']}; band = min-max over seeds; dotted: chance"))
    return fig


def plot_weights(payload: dict, provenance: dict, loss: str = "supcon"):
    """The mechanism: encoder weights on the signal axes, and each layer's response to the
    noise-free sub-class centres (hidden units sorted by the sub-class they prefer)."""
    import matplotlib.pyplot as plt

    from helpers import plots

    w = {k: np.asarray(v) for k, v in payload[loss]["weights"].items()}
    K = payload["K"]
    active = w["mean_h"].max(0) > 1e-6  # units that respond to some sub-class (others are dead)
    order = np.lexsort((-w["mean_h"].max(0), w["mean_h"].argmax(0)))
    order = order[active[order]]
    fine_names = [f"{'+' if f % 2 else '-'}e{f // 2 + 1}" for f in range(2 * K)]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8),
                             gridspec_kw={"width_ratios": [K + 1, 2 * K, 2 * K]})
    panels = [(w["W1"][order][:, :K], "encoder weights W1 on the signal axes\n(rows: hidden units)",
               [f"x{k + 1}" for k in range(K)], "RdBu_r"),
              (w["mean_h"][:, order].T, "h: hidden units' response\nto each sub-class centre",
               fine_names, "viridis"),
              (w["mean_z"].T, "z: head outputs' response\nto each sub-class centre", fine_names,
               "RdBu_r")]
    for ax, (mat, title, xt, cmap) in zip(axes, panels):
        lim = np.abs(mat).max() or 1.0
        im = ax.imshow(mat, aspect="auto", cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0,
                       vmax=lim)
        ax.set_xticks(range(len(xt)), xt)
        ax.set_title(title, fontsize=9)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.05)
    axes[0].set_ylabel("hidden unit (sorted)")
    axes[2].set_ylabel("head output coordinate")
    fig.tight_layout()
    plots.add_caption(fig, plots.provenance_caption(provenance,
                                                    f"{loss} + linear head, first seed"))
    return fig
