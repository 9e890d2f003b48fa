"""Chapter 8, "A head you can tune": the fixed reweighting head swept over k, next to an MLP head.

Two settings, each pre-trained once per (head, seed) with a small ResNet-18 encoder:

* ``'simclr'`` - SimCLR on digits-on-images (Part III): a digit of opacity ``digit_strength`` is
  blended over each base image and DropDigit removes it from a view with probability ``p_drop``.
  Probed for the image class and for the digit.
* ``'supcon'``, ``'ce'`` - supervised pre-training on the *coarse* labels of a coarse-to-fine
  hierarchy (Part IV, :func:`helpers.data.hierarchy.load_hierarchy`), probed for the coarse and
  the *fine* labels.

Heads: **no head** (the reference row ``'none'``, the identity), a
:class:`~helpers.heads.FixedReweightingHead` for every last-coordinate weight in
``cfg.last_weights`` and SimCLR's 2-layer :class:`~helpers.heads.MLPHead`. A fixed head is named
by the weight w of h's last coordinate, ``w = k^-(p-1)`` for h of dimension p, so one grid means
the same head strength at every width (:func:`kappa_for`): at p = 32, k = 1.05 leaves w = 0.22;
on the 2048 dims of a ResNet-50 it leaves 1e-43. Each run is probed at h (encoder output) and z
(head output) with a *scale-sensitive* ridge probe (one scalar normalisation per layer, not per
coordinate: a per-coordinate z-score would undo any diagonal head, so h and z would always tie).
Every probe is scored on a validation split carved from the training images and on the test
split; k is chosen on validation only, among the fixed heads (k > 1;
:func:`helpers.experiments.reweighting_report.select_kappa`). The same probe also reads
**untrained** networks with every head (``untrained_acc``): the part of an h - z gap that the
probe makes by itself, whatever the encoder learned.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.augment import simclr_augment
from helpers.data.digits import base_digit_indices
from helpers.data.hierarchy import load_hierarchy
from helpers.data.overlay import DropDigit, composite, digit_masks, with_mask_channel
from helpers.data.registry import load_image_set
from helpers.heads import make_head
from helpers.layers import H, Z, layer_features
from helpers.models import Network, ResNet18
from helpers.probes import ridge_probe_fit
from helpers.runtime import get_device, seed_everything
from helpers.train import Recipe, train

from dataclasses import dataclass

from helpers.budget import full_epochs_of


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class ReweightingConfig:
    """Part V, the fixed reweighting head (Xue et al. 2024, Sec. 6), swept over k next to an MLP head.

    Image part (``helpers.experiments.reweighting``): one ResNet-18 per (setting, head, seed);
    settings SimCLR on digits-on-images with DropDigit, and SupCon / cross-entropy on coarse labels
    probed for fine ones. (The linear model is its own experiment,
    :mod:`helpers.experiments.reweighting_linear`.)
    """

    data: str  # base images of the SimCLR setting ('shapes' | 'cifar10')
    hierarchy: str  # coarse-to-fine source: 'shapes-pairs' (shapes, coarse = class // 2) or a
    #                 helpers.data.hierarchy name ('shape-families', 'cifar10-5', 'cifar100')
    image_size: int  # side in pixels of the generated stand-ins (CIFAR is 32)
    n_train: int  # pre-training images (= the probes' training split)
    n_val: int  # held-out training images: the validation split that chooses k
    n_test: int
    width: int  # ResNet-18 width multiplier (h has 8 * width dims)
    head_hidden: int  # MLP head hidden width
    head_out: int  # MLP head output
    last_weights: tuple  # fixed heads: weight k^-(p-1) of h's last coordinate, each in (0, 1);
    #                      no head (k = 1) always runs as the reference, never a candidate
    epochs: int
    batch_size: int
    lr: float  # Adam
    weight_decay: float  # Adam's L2 on every weight
    temperature: float  # NT-Xent / SupCon
    crop_scale_min: float
    jitter: float  # colour-jitter strength s: (0.8s, 0.8s, 0.8s, 0.2s)
    digit_strength: float  # opacity of the overlaid digit
    p_drop: float  # DropDigit: probability a view loses its digit
    probe_l2: float  # ridge penalty of the scale-sensitive probe (layer RMS-normalised)
    n_seeds: int


# last-coordinate weights: at p = 32 (cpu) k = 1.04 .. 2.44; at p = 512 (paper) k = 1.002 .. 1.056
_LAST_WEIGHTS = (0.3, 0.1, 1e-2, 1e-4, 1e-8, 1e-12)
_REWEIGHTING_SMALL = dict(data="shapes", hierarchy="shapes-pairs", image_size=16, width=4,
                          head_hidden=64, head_out=32, batch_size=64, lr=3e-3,
                          weight_decay=1e-5, temperature=0.5, crop_scale_min=0.5, jitter=0.5,
                          digit_strength=0.5, p_drop=0.5, probe_l2=0.1)
# 9 epochs: at 12 the chapter took 12 min 05 s on a 2-core Xeon (2026-12-02) and 17 min 20 s on
# a 2-core AMD EPYC (2026-12-03), over the 15-minute cpu budget there (scripts/time_chapters.py;
# book/_data/timings.json now holds the 9-epoch time).
EPOCHS_CPU = 9
CONFIGS = {
    # Code path only: 2 fixed heads, 1 seed, 1 epoch of 128 images.
    "smoke": ReweightingConfig(**_REWEIGHTING_SMALL, n_train=128, n_val=64,
                               n_test=128, last_weights=(0.1, 1e-4), epochs=1, n_seeds=1),
    # 16 px stand-ins, ResNet-18 width 4 (p = 32): 3 settings x 8 heads x 5 seeds (trained
    # together) = 120 small runs. shape-families (Part IV's stand-in) did not train past chance
    # at this size (tried: CE, 160 steps, 16 and 32 px), hence 'shapes-pairs'. See
    # Time: training is nearly all of it, so it scales with seeds x epochs (see EPOCHS_CPU).
    "cpu": ReweightingConfig(**_REWEIGHTING_SMALL, n_train=1024, n_val=256,
                             n_test=1000, last_weights=_LAST_WEIGHTS, epochs=EPOCHS_CPU,
                             n_seeds=5),
    # Sized, not measured (no GPU here): CIFAR-10 + digits and CIFAR-100 20 -> 100 at 32 px,
    # width 16, 20 epochs of 5k images: ~40 TFLOP per contrastive run, so 72 runs should take
    # roughly 15-25 minutes on a T4 (an estimate from FLOPs, not a measurement).
    "gpu": ReweightingConfig(data="cifar10", hierarchy="cifar100",
                             image_size=32, n_train=5000, n_val=1000, n_test=5000, width=16,
                             head_hidden=512, head_out=128, last_weights=_LAST_WEIGHTS,
                             epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-6,
                             temperature=0.5, crop_scale_min=0.2, jitter=1.0, digit_strength=0.5,
                             p_drop=0.5, probe_l2=0.1, n_seeds=5),
    # Reference hyper-parameters (SCIENCE.md): full ResNet-18, batch 512 (Xue et al.'s default
    # k = 1.05). 72 runs of the reference's 400 epochs on 45k images would be days; within the
    # chapter budget (PAPER_BUDGET_EPOCHS): 10k training images, 35 epochs, i.e. 24 (head, seed)
    # pairs x (2 + 2 + 1 views) x 10k x 35 = 420 full CIFAR-10 epochs.
    "paper": ReweightingConfig(data="cifar10", hierarchy="cifar100",
                               image_size=32, n_train=10_000, n_val=5000, n_test=10_000,
                               width=64, head_hidden=2048, head_out=128,
                               last_weights=_LAST_WEIGHTS,
                               epochs=35, batch_size=512, lr=1e-3, weight_decay=1e-6,
                               temperature=0.5, crop_scale_min=0.08, jitter=1.0,
                               digit_strength=0.5, p_drop=0.5, probe_l2=0.1, n_seeds=3),
}


def cost(cfg) -> float:
    """Full epochs (helpers.budget): every (head, seed) trained in the three settings."""
    heads = len(cfg.last_weights) + 2  # no head, the fixed heads and the MLP head
    per_head = sum(full_epochs_of(cfg.n_train, v, cfg.epochs, cfg.image_size, cfg.width)
                   for v in (2, 2, 1))  # SimCLR, SupCon, cross-entropy
    return cfg.n_seeds * heads * per_head


# --- figures the practitioner's guide links to (helpers.guide; claims: issue 17) ----------

FIGURES = {"ch08-fig-linear": "Ch. 8, the linear model",
           "ch08-fig-simclr": "Ch. 8, k sweep with SimCLR",
           "ch08-fig-supcon": "Ch. 8, k sweep with SupCon",
           "ch08-fig-ce": "Ch. 8, k sweep with cross-entropy"}


# --- the claims this chapter tests (helpers.evidence), declared before they are measured -------

from helpers.evidence import Claim  # noqa: E402  (next to the claims it builds)

#: (setting, task) of the claims: the supervised settings, probed for the fine labels
CLAIM_SETTINGS = (("supcon", "fine"), ("ce", "fine"))
_LOSS = {"supcon": "SupCon", "ce": "cross-entropy"}
CLAIMS = [claim for setting, task in CLAIM_SETTINGS for claim in (
    Claim(id=f"ch8-{setting}-fixed-beats-mlp", chapter="08-fixed-reweighting", paper="Xue2024",
          statement=f"with {_LOSS[setting]} on coarse labels, a fixed reweighting head gives a "
                    f"better pre-projection layer h for the {task} labels than a trained MLP head",
          compared=f"{task}-label probe test accuracy at h of the fixed-head network (k > 1 "
                   f"chosen on validation) minus at h of the MLP-head network, same probe, same "
                   f"seed",
          direction=+1, min_effect=1.0, figure=f"ch08-fig-{setting}"),
    Claim(id=f"ch8-{setting}-fixed-beats-none", chapter="08-fixed-reweighting", paper="Xue2024",
          statement=f"with {_LOSS[setting]} on coarse labels, a fixed reweighting head gives a "
                    f"better layer h for the {task} labels than training with no head",
          compared=f"{task}-label probe test accuracy at h of the fixed-head network (k > 1 "
                   f"chosen on validation) minus at h of the no-head network, same probe, same "
                   f"seed",
          direction=+1, min_effect=1.0, figure=f"ch08-fig-{setting}"))]


def claim_values(payload: dict) -> dict:
    """The paired per-seed values (points) of every claim in :data:`CLAIMS`."""
    from helpers.experiments import reweighting_report as report

    out = {}
    for setting, task in CLAIM_SETTINGS:
        c = report.h_comparison(payload[setting], task)
        out[f"ch8-{setting}-fixed-beats-mlp"] = (c["fixed"], c["mlp"])
        out[f"ch8-{setting}-fixed-beats-none"] = (c["fixed"], c["none"])
    return out


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: the one training engine and the layer vocabulary (issue 15). 2: heads named by
# their last weight, no head a row of its own, the untrained control, 5 seeds (issue 17).
CODE_VERSION = 2

SETTINGS = ("simclr", "supcon", "ce")
TASKS = {"simclr": ("class", "digit"), "supcon": ("coarse", "fine"), "ce": ("coarse", "fine")}
LAYERS = (H, Z)  # encoder output, head output (helpers.layers)
SPLITS = ("val", "test")
MLP = "mlp"
PAIRS = "shapes-pairs"  # coarse-to-fine built here: shapes classes 2c, 2c + 1 -> coarse c


NONE = "none"  # the no-head reference row (the identity, k = 1)


def kappa_for(last_weight: float, dim: int) -> float:
    """The k whose fixed head on ``dim`` coordinates gives the last one weight ``last_weight``:
    ``k^-(dim-1) = last_weight``, so ``k = last_weight^(-1/(dim-1))``.

    Raises:
        ValueError: ``last_weight`` not in (0, 1), or ``dim`` < 2.
    """
    if not 0 < last_weight < 1:
        raise ValueError(f"a fixed head's last weight must lie in (0, 1) (1 is no head), got "
                         f"{last_weight!r}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
        raise ValueError(f"dim must be an int >= 2, got {dim!r}")
    return float(last_weight ** (-1.0 / (dim - 1)))


def effective_coordinates(kappa: float, dim: int) -> float:
    """How many coordinates a fixed head effectively keeps: the participation ratio
    ``(sum w_j^2)^2 / sum w_j^4`` of its weights ``w_j = k^-j`` (dim for no head; about
    ``1 / ln k`` when ``dim ln k`` is large)."""
    w2 = float(kappa) ** (-2.0 * np.arange(dim))
    return float(w2.sum() ** 2 / (w2 ** 2).sum())


def head_dim(cfg) -> int:
    """The dimension p of h (the fixed head's input): 8 x the ResNet-18 width."""
    return 8 * cfg.width


def head_names(cfg) -> list[str]:
    """Row names of the results: ``'none'`` (no head), ``'k=<k>'`` per last weight (k from
    :func:`kappa_for` at this width), then ``'mlp'``."""
    p = head_dim(cfg)
    return [NONE] + [f"k={kappa_for(w, p):.6g}" for w in cfg.last_weights] + [MLP]


def build_head(name: str, dim: int, cfg) -> nn.Module:
    """``'none'`` -> identity (k = 1); ``'mlp'`` -> MLP head (dim, cfg.head_hidden,
    cfg.head_out); ``'k=...'`` -> the fixed head."""
    if name == NONE:
        return make_head("fixed", dim, kappa=1.0)
    if name == MLP:
        return make_head("mlp", dim, hidden_dim=cfg.head_hidden, out_dim=cfg.head_out)
    if not name.startswith("k="):
        raise ValueError(f"unknown head {name!r}; use 'none', 'mlp' or 'k=<kappa>' (e.g. 'k=1.05')")
    return make_head("fixed", dim, kappa=float(name[2:]))


# --- data ------------------------------------------------------------------------------------

def load_data(cfg, setting: str, seed: int) -> dict:
    """Pre-training images and labelled probe splits of one setting.

    Returns ``{"pretrain": images, "pretrain_labels": (n,) or None, "splits": {split: (images,
    {task: labels})}, "description": str}``. For 'simclr' the pre-training images are packed
    (n, 4, S, S) uint8 (RGB + digit mask, for DropDigit) and probe images carry their digit;
    otherwise (n, 3, S, S) uint8. 'val' is the last ``cfg.n_val`` training images (never seen
    by a probe's fit), 'train' the first ``cfg.n_train`` (also the pre-training set).
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}")
    n_fit, size = cfg.n_train + cfg.n_val, cfg.image_size
    download = cfg.data.startswith("cifar")
    if setting == "simclr":
        kw = {} if download else {"size": size}
        parts = {}
        for split, n, s in (("train", n_fit, seed), ("test", cfg.n_test, seed + 1)):
            base = load_image_set(cfg.data, split, n, s, download=download, **kw)
            masks, digits = digit_masks(n, s, size=base.images.shape[-1],
                                        base_indices=base_digit_indices(split))
            parts[split] = (with_mask_channel(base.images, masks),
                            {"class": base.labels, "digit": digits})
        description = f"{base.source} + digits (strength {cfg.digit_strength})"
    else:
        parts = {}
        for split, n, s in (("train", n_fit, seed), ("test", cfg.n_test, seed + 1)):
            if cfg.hierarchy == PAIRS:  # the ten shape classes, merged two by two
                h = load_image_set("shapes", split, n, s, size=size)
                coarse, description = h.labels // 2, f"{h.source}, coarse = class // 2 (5 of 2)"
            else:
                cifar = cfg.hierarchy.startswith("cifar")
                h = load_hierarchy(cfg.hierarchy, split, n, s, download=cifar,
                                   **({} if cifar else {"size": size}))
                coarse, description = h.extra["coarse"], h.source
            parts[split] = (h.images, {"coarse": coarse, "fine": h.labels})
    (images, labels), (test_images, test_labels) = parts["train"], parts["test"]
    cut = cfg.n_train

    def probe_view(x):  # what a probe sees: clean images, the digit in
        return composite(x, cfg.digit_strength) if setting == "simclr" else x

    return {
        "pretrain": images[:cut],
        "pretrain_labels": None if setting == "simclr" else labels["coarse"][:cut],
        "splits": {"train": (probe_view(images[:cut]), {t: y[:cut] for t, y in labels.items()}),
                   "val": (probe_view(images[cut:]), {t: y[cut:] for t, y in labels.items()}),
                   "test": (probe_view(test_images), test_labels)},
        "description": description,
    }


# --- pre-training ----------------------------------------------------------------------------

def build_network(name: str, setting: str, cfg, n_coarse: int) -> Network:
    """ResNet-18 of width ``cfg.width`` + head ``name`` (:func:`build_head`) + for 'ce' a linear
    classifier of z onto the ``n_coarse`` coarse labels."""
    encoder = ResNet18(width=cfg.width)
    head = build_head(name, encoder.out_dim, cfg)
    return Network(encoder, head, nn.Linear(head.out_dim, n_coarse) if setting == "ce" else None)


def pretrain(nets, images: torch.Tensor, setting: str, cfg, *, seeds,
             labels: torch.Tensor | None = None, device="cpu", progress: bool = True,
             desc: str = "") -> list[list[float]]:
    """Train the networks (one per seed, together) with Adam; returns the loss per epoch of each.

    'simclr': DropDigit(SimCLR augmentation) two views, NT-Xent on z. 'supcon': two SimCLR
    views, SupCon on z with the coarse ``labels``. 'ce': one view, cross-entropy of the
    classifier on z against the coarse ``labels``. images: (n, 4 or 3, S, S) uint8.
    """
    augment = simclr_augment(images.shape[-1], cfg.crop_scale_min, cfg.jitter)
    if setting == "simclr":
        augment = DropDigit(augment, cfg.digit_strength, cfg.p_drop)
    elif labels is None:
        raise ValueError(f"setting {setting!r} is supervised: pass the coarse labels")
    recipe = Recipe(setting, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                    weight_decay=cfg.weight_decay, temperature=cfg.temperature)
    hist = train(nets, images, recipe, augment, seeds=seeds, labels=labels, device=device,
                 progress=progress, desc=desc)
    return [h["loss"] for h in hist]


def scaled_probe(train_X, train_y, eval_sets, l2: float) -> list[float]:
    """Ridge probe that keeps the layer's *relative* coordinate scales; accuracy per eval set.

    The layer is centred and divided by one number, its RMS coordinate scale on the training
    split, so every layer has mean coordinate variance 1 and ``l2`` means the same everywhere.
    train_X (n, d); eval_sets [(X (m, d), y (m,)), ...].
    """
    mean = train_X.mean(0)
    scale = (train_X - mean).pow(2).mean().sqrt().clamp_min(1e-12)
    n_classes = int(max(train_y.max(), *(y.max() for _, y in eval_sets))) + 1
    probe = ridge_probe_fit((train_X - mean) / scale, train_y, n_classes, l2=l2,
                            standardize=False)
    return [probe.score((X - mean) / scale, y) for X, y in eval_sets]


# --- the sweep ---------------------------------------------------------------------------------

def _probe_all(net, data, setting, cfg, device) -> list:
    """(task, layer, split) accuracies of one network through :func:`scaled_probe`."""
    feats = {s: layer_features(net, x, device) for s, (x, _) in data["splits"].items()}
    per_task = []
    for task in TASKS[setting]:
        y = {s: data["splits"][s][1][task] for s in data["splits"]}
        per_task.append([scaled_probe(feats["train"][layer], y["train"],
                                      [(feats[s][layer], y[s]) for s in SPLITS],
                                      cfg.probe_l2) for layer in LAYERS])
    return per_task


def run_setting(cfg, setting: str, seed: int, device=None, progress: bool = True,
                data: dict | None = None) -> dict:
    """One setting, every head, ``cfg.n_seeds`` seeds (each head's seeds trained together).

    ``acc`` is nested lists (head, seed, task, layer, split) of accuracies of the trained
    networks; ``untrained_acc`` the same for the networks before training (the probe's own
    h - z gap: the control); names in ``heads``/``tasks``/``layers``/``splits``; ``kappas``
    and ``last_weights`` per head (None for 'mlp'). ``data``: :func:`load_data`'s result for
    this setting, when the caller already has it."""
    device = get_device(device)
    data = load_data(cfg, setting, seed) if data is None else data
    names = head_names(cfg)
    acc, untrained, losses = [], [], []
    seeds = [seed + r for r in range(cfg.n_seeds)]
    labels = data["pretrain_labels"]
    n_coarse = 0 if labels is None else int(labels.max()) + 1
    bar = tqdm(total=len(names), desc=f"{setting}: heads, {len(seeds)} seed(s) each",
               disable=not progress)
    for name in names:
        nets = []
        for s in seeds:
            seed_everything(s)  # seed s: the same initial encoder under every head (paired)
            nets.append(build_network(name, setting, cfg, n_coarse))
        untrained.append([_probe_all(net, data, setting, cfg, device) for net in nets])
        losses.append(pretrain(nets, data["pretrain"], setting, cfg, seeds=seeds, labels=labels,
                               device=device, progress=False))
        acc.append([_probe_all(net, data, setting, cfg, device) for net in nets])
        bar.update()
    bar.close()
    kappas = [1.0 if n == NONE else None if n == MLP else float(n[2:]) for n in names]
    # the config's (nominal) last weights; the heads' k are rounded to 6 digits in their names
    last_weights = [1.0, *map(float, cfg.last_weights), None]
    return {"heads": names, "tasks": list(TASKS[setting]), "layers": list(LAYERS),
            "splits": list(SPLITS), "acc": acc, "untrained_acc": untrained, "loss": losses,
            "seeds": seeds, "kappas": kappas, "last_weights": last_weights,
            "data_description": data["description"],
            "chance": {t: 1 / (int(data["splits"]["test"][1][t].max()) + 1)
                       for t in TASKS[setting]}}


def run(cfg, seed: int, device=None, progress: bool = True) -> dict:
    """Every setting of the chapter; JSON-able. ``payload[setting]`` as :func:`run_setting`."""
    out = {"last_weights": list(cfg.last_weights), "dim": head_dim(cfg),
           "kappas": [kappa_for(w, head_dim(cfg)) for w in cfg.last_weights],
           "network": f"ResNet-18 (CIFAR stem, width {cfg.width})"}
    supervised = load_data(cfg, "supcon", seed)  # SupCon and cross-entropy share one hierarchy
    for setting in SETTINGS:
        data = load_data(cfg, setting, seed) if setting == "simclr" else supervised
        out[setting] = run_setting(cfg, setting, seed, device, progress, data=data)
    return out
