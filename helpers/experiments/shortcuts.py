"""Chapter 7, "Shortcuts come in multiples": UrbanCars, DFR at every layer, Whac-A-Mole, LLE.

``run(cfg, seed)`` trains every method of ``cfg.methods`` for ``cfg.n_seeds`` seeds (a method's
seeds together, on the same images; seed s gives every method the same initial weights):

* ``erm``          cross-entropy, no projection head (classifier on h);
* ``erm_head``     cross-entropy through a 2-layer MLP head (classifier on z);
* ``supcon_head``  SupCon on the MLP head's output z;
* ``erm_bgaug``    ``erm`` whose training images have, with probability 1/2, their background
  swapped for one of an image of the other class (:func:`helpers.data.urbancars.swap_cues`): a
  mitigation aimed at *one* shortcut (Whac-A-Mole);
* ``erm_coaug``    the same with the co-object swapped (the reverse direction);
* ``erm_head_wm``  ``erm_head`` on training data where one class carries a text watermark (the
  ImageNet-W analogue; evaluated on the watermark and style shifts only);
* ``lle_e2e``      the Last Layer Ensemble trained **end to end**, as Li et al. train it on
  UrbanCars (``urbancars_trainers/lle.py``): the encoder, one linear head per training
  distribution (original, background swapped, co-object swapped) and a shift predictor, all on
  h, trained together on the three distributions pooled (:class:`LLEClassifier`).

Networks with their own classifier keep the epoch with the best worst-group validation
accuracy (Li et al.'s model selection). Each is evaluated on the balanced test split with the
Whac-A-Mole metrics (:mod:`helpers.metrics`):

* ``own``: the network's own classifier (cross-entropy methods);
* ``dfr``: Deep Feature Reweighting (Kirichenko et al. 2023) at *every* layer: an L1 logistic
  regression (their penalty) refit on the group-balanced validation split, its strength chosen
  by worst-group accuracy on the other half of the validation split (never on test);
  ``dfr_l2``: the same with an L2 penalty, at h and z, to show the choice;
* ``lle``: Last Layer Ensemble (Li et al. 2023) on the frozen pre- and post-projection layers
  (the authors' protocol on ImageNet; ``lle_e2e`` is their UrbanCars one):
  one logistic head per training distribution (original, background swapped, co-object
  swapped), a shift predictor, and inference that mixes the heads' logits by the predictor's
  softmax; ``pooled``: its control, one head on the three distributions pooled;
* ``shifts``: a probe fit on in-distribution training features, scored on an in-distribution
  test set (cues agree 95 %) and on shifted copies of it (background flipped, co-object
  flipped, edge sketch, colour shift; watermark added for ``erm_head_wm``).

With ``cfg.correlations`` non-empty, ``sweep`` adds one ``erm_head`` network (first seed) per
cue-label agreement (background and co-object alike, 0.5 = no shortcut): its own classifier's
metrics and DFR at h and z, for the chapter's correlation explorer. The declared claims
(:data:`CLAIMS`) are read from the payload by :func:`claim_values`.

Layers (:mod:`helpers.layers`): ``stage1..3`` (pooled conv blocks), ``h`` (the encoder output,
pre-projection), and for head methods ``head1`` and ``z`` (post-projection).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers import layers as L
from helpers.augment import ShiftFlip
from helpers.data.urbancars import make_urbancars, split_counts, swap_cues
from helpers.heads import make_head
from helpers.metrics import METRICS, shortcut_metrics
from helpers.models import Network, ResNet18
from helpers.probes import LinearProbe, logistic_probe_fit
from helpers.runtime import get_device, seed_everything
from helpers.train import Recipe, train

from dataclasses import dataclass, replace

from helpers.budget import full_epochs_of, views


# --- config: every size knob of this experiment, per profile (units in comments) --------------

@dataclass(frozen=True)
class ShortcutsConfig:
    """Chapter 7, shortcuts come in multiples (``helpers.experiments.shortcuts``): supervised
    networks on UrbanCars, DFR at every layer, Last Layer Ensemble, shifted test sets.

    Units: images, epochs, channels; lr is Adam's; weight decay is L2 on all weights.
    """

    data: str  # 'urbancars-standin' (procedural, offline) | 'urbancars' (released folders)
    size: int  # image height = width in pixels
    n_train: int  # training images (the real set: 8000, per class 3610/190/190/10)
    n_val: int  # group-balanced validation images (DFR, model selection); multiple of 8
    n_test: int  # group-balanced test images; multiple of 8
    arch: str  # 'convnet' (4 conv blocks, CPU) | 'resnet18' (CIFAR stem)
    width: int  # convnet: first block's channels (h has 8x); resnet18: width multiplier
    head_hidden: int  # MLP head hidden width
    head_out: int  # MLP head output: the post-projection layer z
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    temperature: float  # SupCon temperature (Xue et al. 2024's reproduction: 0.5)
    n_seeds: int  # seeds of every method in `methods` (mean and spread in the table)
    methods: tuple  # see helpers.experiments.shortcuts.METHODS
    first_seed_methods: tuple  # extra methods run for the first seed only (watermark model)
    l2_grid: tuple  # L2 logistic penalties LLE, its pooled control and DFR-L2 choose from
    dfr_c_grid: tuple  # DFR's L1 logistic regression: inverse strengths C (Kirichenko et al.)
    n_probe: int  # training images per distribution for LLE and the in-distribution probe
    probe_l2: float  # penalty of the in-distribution probe used on shifted test sets
    watermark_rate: float  # fraction of class-1 training images carrying the watermark
    n_learn: int  # balanced images for the cue-learnability runs (multiple of 8)
    learn_epochs: int
    correlations: tuple = ()  # cue-label agreements of the sweep (one erm_head each); () = none


_SHORTCUTS_BASE = dict(data="urbancars-standin", arch="convnet", lr=2e-3, weight_decay=1e-5,
                       temperature=0.5, methods=("erm", "erm_head", "supcon_head", "erm_bgaug",
                                                     "erm_coaug", "lle_e2e"),
                       first_seed_methods=("erm_head_wm",), l2_grid=(1e-4, 1e-3, 1e-2, 1e-1),
                       # DFR's C grid (Kirichenko et al.'s code: 1, .7, .3, .1, .07, .03, .01)
                       dfr_c_grid=(1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01),
                       probe_l2=1e-3, watermark_rate=0.8)
CONFIGS = {
    # Code path only (32 px, 800 images, one epoch): the numbers mean little.
    "smoke": ShortcutsConfig(**_SHORTCUTS_BASE, size=32, n_train=400, n_val=80, n_test=80,
                             width=4, head_hidden=64, head_out=32, epochs=1, batch_size=100,
                             n_seeds=1, n_probe=200, n_learn=80, learn_epochs=1,
                             correlations=(0.5, 0.95)),
    # 8000 / 1000 / 1000 images at 32 px (the procedural generator's default; the real set's
    # generator defaults are 4000 / 500 / 500); 5 seeds (trained together) of 5 methods + the
    # watermark model + 4 cue-agreement sweep models + 3 x 5 learnability networks. 6 epochs,
    # not 3, each network keeping its best worst-group validation epoch (Li et al.'s selection):
    # pilots on this stand-in (1 seed, AMD EPYC 2 cores) gave ERM an in-distribution accuracy of
    # 95.1 % after 3 epochs and 99.5 % after 10, so 3 stopped well short of fitting; 10 would
    # put the chapter past its 15-minute budget (about 2.2 s per network-epoch here).
    "cpu": ShortcutsConfig(**_SHORTCUTS_BASE, size=32, n_train=8000, n_val=1000, n_test=1000,
                           width=8, head_hidden=256, head_out=64, epochs=6, batch_size=128,
                           n_seeds=5, n_probe=2000, n_learn=2000, learn_epochs=6,
                           correlations=(0.5, 0.8, 0.95, 0.99)),
    # Sized, not measured (no GPU here): 64 px stand-in, ResNet-18 width 16, 30 epochs, 5 seeds.
    "gpu": ShortcutsConfig(**_SHORTCUTS_BASE | dict(arch="resnet18"), size=64, n_train=8000,
                           n_val=1000, n_test=1000, width=16, head_hidden=512, head_out=128,
                           epochs=30, batch_size=256, n_seeds=5, n_probe=8000, n_learn=4000,
                           learn_epochs=10, correlations=(0.5, 0.75, 0.9, 0.95, 0.99)),
}
# The paper's data (real UrbanCars folders, 256 px in the release) with a full-width ResNet-18
# (Li et al. use an ImageNet-pretrained ResNet-50 at 224 px; the book trains from scratch). Read
# at 64 px: the CIFAR stem keeps full resolution, so 224 px would cost 49x a 32-px image; at 64 px
# (4x) 3 seeds x (ERM, ERM + head, SupCon's two views, the two swap mitigations) x 70 epochs
# (cost() prints the full CIFAR-10 epochs), inside the chapter budget (PAPER_BUDGET_EPOCHS). The released folders hold each
# image's car and co-object masks (NNN_mask.png, NNN_co_occur_obj_mask.png) and, in train, its
# background alone (NNN_bg_only.png): the loader reads them (helpers.data.urbancars_real), and
# the Last Layer Ensemble's swaps are composited from them as in the authors' UrbanCarsAug. Only
# the shifted test copies (flips, styles, watermark) are the stand-in's alone.
CONFIGS["paper"] = replace(CONFIGS["gpu"], data="urbancars", size=64, width=64,
                              head_hidden=2048, epochs=70, n_seeds=3,
                              methods=("erm", "erm_head", "supcon_head", "erm_bgaug",
                                       "erm_coaug"), first_seed_methods=(),
                              correlations=())  # the released set has one correlation (0.95)


def cost(cfg) -> float:
    """Full epochs of ResNet training (helpers.budget); the convnet of the stand-in profiles
    costs 0 here."""
    if cfg.arch != "resnet18":
        return 0.0
    run = lambda n, method, epochs: full_epochs_of(n, views(method), epochs, cfg.size, cfg.width)  # noqa: E731
    total = cfg.n_seeds * sum(run(cfg.n_train, m, cfg.epochs) for m in cfg.methods)
    total += sum(run(cfg.n_train, m, cfg.epochs) for m in cfg.first_seed_methods)
    total += len(cfg.correlations) * run(cfg.n_train, "erm_head", cfg.epochs)
    return total + 3 * run(cfg.n_learn, "erm", cfg.learn_epochs)  # one network per cue


# --- figures the practitioner's guide links to (helpers.guide; claims: issue 17) ----------

FIGURES = {"ch07-fig-dfr": "Ch. 7, DFR at every layer",
           "ch07-fig-shifts": "Ch. 7, shifted test sets",
           "ch07-fig-whac-a-mole": "Ch. 7, Whac-A-Mole",
           "ch07-fig-lle": "Ch. 7, Last Layer Ensemble",
           "ch07-fig-correlation": "Ch. 7, gaps against the cue correlation"}


# --- the claims this chapter tests (helpers.evidence), declared before they are measured -------

from helpers.evidence import Claim, StructureCheck  # noqa: E402  (next to the claims)

_CHAPTER = "07-shortcuts"
CLAIMS = [
    Claim(id="ch7-dfr-h-beats-z", chapter=_CHAPTER, paper="Xue2024",
          statement="last-layer retraining on the pre-projection layer h is more robust to the "
                    "shortcuts than on the post-projection layer z",
          compared="DFR worst-group test accuracy at h minus at z, ERM + MLP head, same network",
          direction=+1, min_effect=1.0, figure="ch07-fig-dfr"),
    Claim(id="ch7-wam-bg-raises-coobj", chapter=_CHAPTER, paper="Li2023",
          statement="mitigating the background shortcut raises the reliance on the co-object "
                    "(Whac-A-Mole)",
          compared="CoObj gap of ERM trained with background swaps minus that of plain ERM, own "
                   "classifiers, same seed (more negative = more reliance)",
          direction=-1, min_effect=1.0, figure="ch07-fig-whac-a-mole"),
    Claim(id="ch7-wam-coobj-raises-bg", chapter=_CHAPTER, paper="Li2023",
          statement="mitigating the co-object shortcut raises the reliance on the background "
                    "(Whac-A-Mole, the reverse direction)",
          compared="BG gap of ERM trained with co-object swaps minus that of plain ERM, own "
                   "classifiers, same seed (more negative = more reliance)",
          direction=-1, min_effect=1.0, figure="ch07-fig-whac-a-mole"),
    Claim(id="ch7-lle-beats-erm", chapter=_CHAPTER, paper="Li2023",
          statement="a Last Layer Ensemble reduces the reliance on both shortcuts at once",
          compared="BG+CoObj gap of LLE on the ERM network's h minus that of ERM's own "
                   "classifier, same network",
          direction=+1, min_effect=1.0, figure="ch07-fig-lle"),
    Claim(id="ch7-lle-e2e-beats-erm", chapter=_CHAPTER, paper="Li2023",
          statement="a Last Layer Ensemble trained end to end (the authors' UrbanCars protocol) "
                    "reduces the reliance on both shortcuts at once",
          compared="BG+CoObj gap of the end-to-end LLE's mixed logits minus that of ERM's own "
                   "classifier, same seed (same initial encoder), as many training images seen",
          direction=+1, min_effect=1.0, figure="ch07-fig-lle"),
]


# What the stand-in must show first: each shortcut is learned faster than the label, or it is no
# shortcut (a network would learn the car before it could lean on the cue).
LEARNABILITY_CUES = {"car (label)": None, "background": "bg", "co-object": "coobj"}
_SHORTCUT_CUES = [(cue, key) for cue, key in LEARNABILITY_CUES.items() if key is not None]
STRUCTURE = [
    StructureCheck(id=f"ch7-{key}-before-car", requirement=f"the {cue} is learned faster than "
                   "the car (a shortcut)", compared=f"mean test accuracy over the learnability "
                   f"epochs, network trained on the {cue} alone minus on the car alone, same seed",
                   min_effect=3.0, remedy="make the cue more salient or the car classes closer "
                   "(helpers.data.urbancars), or train the learnability networks for more epochs")
    for cue, key in _SHORTCUT_CUES]


def structure_values(payload: dict) -> dict:
    """Per-seed paired values (points) of the structure checks: area under each cue's
    learnability curve (its mean over epochs) against the car's. Empty for data other than the
    procedural stand-in (the real folders' cues cannot be trained on alone)."""
    learn = payload.get("learnability")
    if not learn:
        return {}
    auc = {cue: 100 * np.asarray(curves, dtype=float).mean(axis=-1) for cue, curves in learn.items()}
    return {f"ch7-{key}-before-car": (auc[cue], auc["car (label)"])
            for cue, key in _SHORTCUT_CUES}


def _points(payload, method: str, *path) -> np.ndarray:
    """(n_seeds,) points: ``runs[method][seed][path...]`` x 100, in seed order."""
    out = []
    for run in payload["runs"][method]:
        for key in path:
            run = run[key]
        out.append(100 * float(run))
    return np.array(out)


def claim_values(payload: dict) -> dict:
    """The paired per-seed values (points) of every claim in :data:`CLAIMS`."""
    pts = lambda *a: _points(payload, *a)  # noqa: E731
    return {
        "ch7-dfr-h-beats-z": (pts("erm_head", "dfr", PRE, "worst_group"),
                              pts("erm_head", "dfr", POST, "worst_group")),
        "ch7-wam-bg-raises-coobj": (pts("erm_bgaug", "own", "coobj_gap"),
                                    pts("erm", "own", "coobj_gap")),
        "ch7-wam-coobj-raises-bg": (pts("erm_coaug", "own", "bg_gap"),
                                    pts("erm", "own", "bg_gap")),
        "ch7-lle-beats-erm": (pts("erm", "lle", PRE, "both_gap"), pts("erm", "own", "both_gap")),
        "ch7-lle-e2e-beats-erm": (pts("lle_e2e", "own", "both_gap"), pts("erm", "own", "both_gap")),
    }


# --- the experiment -------------------------------------------------------------------------------

# Bumped when a change alters this experiment's numbers (helpers.results marks older results
# stale). 1: the one training engine and the layer vocabulary (issue 15). 2: the LLE as the
# original (logits mixed, swaps from images of the other class), DFR with L1, the co-object
# mitigation, seeds trained together on one data set (issue 17). 3: a two-shortcut stand-in
# (closer car shapes, a larger co-object), learnability on every seed with a structure check.
# 4: the Last Layer Ensemble trained end to end (lle_e2e).
CODE_VERSION = 4

METHODS = ("erm", "erm_head", "supcon_head", "erm_bgaug", "erm_coaug", "erm_head_wm", "lle_e2e")
METHOD_NAMES = {"erm": "ERM, no head", "erm_head": "ERM + MLP head",
                "supcon_head": "SupCon + MLP head", "erm_bgaug": "ERM + background swap aug.",
                "erm_coaug": "ERM + co-object swap aug.",
                "erm_head_wm": "ERM + MLP head, watermarked training set",
                "lle_e2e": "LLE, trained end to end"}
#: the mitigations by augmentation: method -> the swapped training distribution it draws from
MITIGATIONS = {"erm_bgaug": "bg_swap", "erm_coaug": "coobj_swap"}
PRE, POST = L.H, L.Z
TEST_SHIFTS = ("none", "bg_flip", "coobj_flip", "style_edges", "style_colour")
#: the Last Layer Ensemble's training distributions: the original, and the two swaps
#: (helpers.data.urbancars.swap_cues: the cue pasted from an image of the other class)
LLE_SHIFTS = ("none", "bg_swap", "coobj_swap")


class LLEClassifier(nn.Module):
    """The Last Layer Ensemble as a classifier trained with the network (Li et al. 2023,
    ``model/classifiers.py: LastLayerEnsemble``): ``n_shifts`` linear heads and a linear shift
    predictor s on the same input h (batch, in_dim).

    * In eval mode: the heads' logits mixed by the shift predictor's softmax, (batch, n_classes):
      ``sum_k softmax(s(h))_k head_k(h)``, the authors' inference rule.
    * In training mode: joint logits (batch, n_shifts * n_classes), index ``k * n_classes + c``,
      ``s_k(h) + log_softmax(head_k(h))_c``. Their log-softmax is ``log_softmax(s)_k +
      log_softmax(head_k)_c``, so cross-entropy against the joint label ``k * n_classes + y`` is
      exactly the authors' loss, CE(head_k, y) + CE(s, k) for an image of distribution k: the
      training engine's plain 'ce' trains it (``tests/test_shortcuts.py`` checks the identity).
    """

    def __init__(self, in_dim: int, n_classes: int = 2, n_shifts: int = 3):
        super().__init__()
        if min(in_dim, n_classes, n_shifts) < 1 or n_shifts < 2:
            raise ValueError(f"LLEClassifier needs in_dim, n_classes >= 1 and n_shifts >= 2, got "
                             f"{in_dim}, {n_classes}, {n_shifts}")
        self.heads = nn.Linear(in_dim, n_shifts * n_classes)  # the K heads, stacked
        self.shift_predictor = nn.Linear(in_dim, n_shifts)
        self.n_classes, self.n_shifts = n_classes, n_shifts

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        logits = self.heads(h).view(len(h), self.n_shifts, self.n_classes)  # (B, K, C)
        shift = self.shift_predictor(h)  # (B, K)
        if self.training:
            return (shift[:, :, None] + torch.log_softmax(logits, dim=2)).flatten(1)
        return (torch.softmax(shift, dim=1)[:, :, None] * logits).sum(dim=1)


def joint_labels(labels: list) -> torch.Tensor:
    """The LLE's training labels: distribution k's class labels y (n_k,) -> ``k * 2 + y``."""
    return torch.cat([k * 2 + y for k, y in enumerate(labels)])


class ConvEncoder(nn.Module):
    """A small CNN: 4 blocks of 3x3 conv - BatchNorm - ReLU (widths w, 2w, 4w, 8w), 2x2 max-pool
    after the first three, global average pool. CPU-sized stand-in for ResNet-18 with the same
    interface: ``forward(x)`` -> h (batch, 8w); ``forward_features(x)`` -> {'stage1'..'stage4'}
    pooled outputs, (batch, w) .. (batch, 8w). Input (batch, 3, H, W) float."""

    def __init__(self, width: int = 16):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an int >= 1, got {width!r}")
        dims = [3, width, 2 * width, 4 * width, 8 * width]
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False),
                                                  nn.BatchNorm2d(b), nn.ReLU(inplace=True))
                                    for a, b in zip(dims[:-1], dims[1:]))
        self.out_dim = dims[-1]

    def forward_features(self, x: torch.Tensor) -> dict:
        feats = {}
        for i, block in enumerate(self.blocks, start=1):
            x = block(x)
            feats[f"stage{i}"] = x.mean(dim=(2, 3))
            if i < len(self.blocks):
                x = nn.functional.max_pool2d(x, 2)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)["stage4"]


def build_network(cfg, method: str) -> Network:
    """encoder (``cfg.arch``: 'convnet' or 'resnet18'), head (identity or MLP), 2-way classifier."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    encoder = ConvEncoder(cfg.width) if cfg.arch == "convnet" else ResNet18(width=cfg.width)
    head = (make_head("mlp", encoder.out_dim, hidden_dim=cfg.head_hidden, out_dim=cfg.head_out)
            if "head" in method else make_head("identity", encoder.out_dim))
    if method == "lle_e2e":
        return Network(encoder, head, LLEClassifier(head.out_dim, 2, len(LLE_SHIFTS)))
    return Network(encoder, head, nn.Linear(head.out_dim, 2))


def layer_names(method: str) -> list[str]:
    base = ["stage1", "stage2", "stage3", PRE]
    return base + (["head1", POST] if "head" in method else [])


def layer_features(net: Network, images: torch.Tensor, device) -> dict:
    """{layer: (n, dim)} for every layer of ``net`` and the classifier's logits ('logits')."""
    return L.layer_features(net, images, device, logits=True)


def train_networks(nets, images, labels, *, loss: str, epochs: int, seeds, device, cfg,
                   batch_size: int | None = None, alt_images=None, alt_prob: float = 0.0,
                   desc: str = "training", progress: bool = True, on_epoch_end=None) -> list:
    """K networks (one per seed) together through the training engine with the chapter's
    recipe (Adam, ShiftFlip); returns one history per seed."""
    recipe = Recipe(loss, epochs=epochs, batch_size=batch_size or cfg.batch_size, lr=cfg.lr,
                    weight_decay=cfg.weight_decay, temperature=cfg.temperature, alt_prob=alt_prob)
    return train(list(nets), images, recipe, ShiftFlip(0.06), seeds=list(seeds), labels=labels,
                 alt_images=alt_images, device=device, desc=desc, progress=progress,
                 on_epoch_end=on_epoch_end)


def train_network(net: Network, images, labels, *, seed: int, **kw) -> dict:
    """One network (:func:`train_networks` with one seed)."""
    (hist,) = train_networks([net], images, labels, seeds=[seed], **kw)
    return hist


def load_data(cfg, seed: int, watermark: bool = False) -> dict:
    """Every image set the runs need, from data seed ``seed`` (cached by the generator).

    Keys: 'train', 'val', 'test'; without ``watermark`` also 'train_bg_swap' and
    'train_coobj_swap' (:func:`helpers.data.urbancars.swap_cues`, the LLE's distributions and
    the mitigations' augmented images); for the stand-in 'id_<shift>', an in-distribution test
    set (cues agree 95 %) and its shifted copies.
    """
    if cfg.data != "urbancars-standin":
        from helpers.data.urbancars_real import load_urbancars
        data = {s: load_urbancars(None, s, size=cfg.size, masks=s == "train")
                for s in ("train", "val", "test")}
    else:
        kw = dict(size=cfg.size, seed=seed)
        if watermark:  # class 1 carries the watermark in training and in the in-distribution test
            kw.update(watermark_class=1, watermark_rate=cfg.watermark_rate)
        data = {"train": make_urbancars("train", n=cfg.n_train, return_masks=not watermark, **kw),
                "val": make_urbancars("val", n=cfg.n_val, **kw),
                "test": make_urbancars("test", n=cfg.n_test, **kw)}
        # an in-distribution test set (cues agree 95 %, like training) and its shifted copies
        id_counts = split_counts("train", cfg.n_test)
        shifts = TEST_SHIFTS + (("watermark_add", "watermark_remove") if watermark else ())
        for shift in shifts:
            data[f"id_{shift}"] = make_urbancars("test", group_counts=id_counts, shift=shift, **kw)
    if not watermark:
        for mode, name in (("bg", "bg_swap"), ("coobj", "coobj_swap")):
            data[f"train_{name}"] = swap_cues(data["train"], mode, seed)
    return data


def _metrics(pred, ds) -> dict:
    return shortcut_metrics(pred, ds.labels, ds.extra["bg"], ds.extra["coobj"])


def _group_worst(pred, y, groups) -> float:
    return min(float((pred[groups == g] == y[groups == g]).float().mean())
               for g in torch.unique(groups))


def _fit(X, y, k, l2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return logistic_probe_fit(X, y, k, l2=l2, max_iter=100)


def l1_logistic_fit(X: torch.Tensor, y: torch.Tensor, n_classes: int, C: float,
                    iters: int = 300, tol: float = 1e-6) -> LinearProbe:
    """Logistic regression with an L1 penalty, as DFR (Kirichenko et al. 2023) fits it with
    scikit-learn: standardised features, minimise ``||W||_1 + C * sum_i CE_i`` (the bias is not
    penalised). Solved by FISTA (accelerated proximal gradient) in float64 numpy, at most
    ``iters`` steps, stopping when no weight moves by more than ``tol`` (relative).

    X (n, d), y (n,) in [0, n_classes). Returns a :class:`helpers.probes.LinearProbe`.

    Raises:
        ValueError: C not > 0, or X and y that disagree.
    """
    if not C > 0:
        raise ValueError(f"C is the inverse penalty strength and must be > 0, got {C!r}")
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"X must be (n, d) and y (n,); got {tuple(X.shape)}, {tuple(y.shape)}")
    X = X.detach().cpu().double().numpy()
    n = len(X)
    mean, std = X.mean(0), np.clip(X.std(0, ddof=1) if n > 1 else np.ones(X.shape[1]), 1e-8, None)
    Xs = np.hstack([(X - mean) / std, np.ones((n, 1))])  # the last column is the bias
    onehot = np.eye(n_classes)[y.cpu().numpy()]
    lam = 1.0 / (C * n)  # the same minimiser with the mean cross-entropy
    step = 1.0 / (0.5 * np.linalg.norm(Xs, 2) ** 2 / n + 1e-12)  # 1 / Lipschitz constant
    W = np.zeros((Xs.shape[1], n_classes))
    V, t = W.copy(), 1.0
    for _ in range(iters):
        Z = Xs @ V
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        W_new = V - step * (Xs.T @ (P - onehot)) / n
        W_new[:-1] = np.sign(W_new[:-1]) * np.maximum(np.abs(W_new[:-1]) - step * lam, 0.0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        V = W_new + (t - 1) / t_new * (W_new - W)
        moved = np.abs(W_new - W).max()
        W, t = W_new, t_new
        if moved <= tol * max(1.0, np.abs(W).max()):
            break
    f = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()  # noqa: E731
    return LinearProbe(f(W[:-1]), f(W[-1]), f(mean), f(std), 0.0, f"l1 logistic (C={C:g}, FISTA)")


def _fit_penalty(X, y, penalty: str, value: float):
    return l1_logistic_fit(X, y, 2, value) if penalty == "l1" else _fit(X, y, 2, value)


def dfr(X_val, val, X_test, grid, seed: int, penalty: str = "l1"):
    """DFR: choose the penalty on half of val by worst-group accuracy, refit on all of val.

    ``penalty='l1'``: Kirichenko et al.'s L1 logistic regression, ``grid`` its C values (larger
    C = weaker penalty); ``'l2'``: the book's L2 probe, ``grid`` its l2 values.
    Returns (test predictions (n,), chosen penalty value)."""
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', got {penalty!r}")
    g = val.extra["group"]
    rng = np.random.default_rng(seed)
    half = np.zeros(len(g), dtype=bool)
    for grp in torch.unique(g).tolist():  # half of each group, so both halves have every group
        idx = np.flatnonzero(g.numpy() == grp)
        half[rng.permutation(idx)[: len(idx) // 2]] = True
    a, b = torch.from_numpy(half), torch.from_numpy(~half)
    scores = [_group_worst(_fit_penalty(X_val[a], val.labels[a], penalty, v).predict(X_val[b]),
                           val.labels[b], g[b]) for v in grid]
    # ties go to the strongest penalty: the largest l2, the smallest C
    tied = [v for v, sc in zip(grid, scores) if sc == max(scores)]
    best = max(tied) if penalty == "l2" else min(tied)
    return _fit_penalty(X_val, val.labels, penalty, best).predict(X_test), best


class LastLayerEnsemble:
    """Li et al. (2023), ``model/classifiers.py: LastLayerEnsemble``: K linear heads, one per
    training distribution (the original and one per cue swap), and a shift predictor s. At
    test time the heads' **logits** are mixed by the shift predictor's softmax,
    ``logits(x) = sum_k softmax(s(x))_k head_k(x)``. Fit on frozen features (``fit``);
    ``decision(X)`` -> (n, 2) mixed logits, ``predict(X)`` -> (n,)."""

    def __init__(self, l2: float):
        self.l2 = l2

    def fit(self, feats: list, labels: list):
        """feats[k] (n_k, dim) features of distribution k, labels[k] (n_k,) class labels."""
        if len(feats) != len(labels) or len(feats) < 2:
            raise ValueError("LLE needs features and labels for at least 2 distributions")
        self.heads = [_fit(X, y, 2, self.l2) for X, y in zip(feats, labels)]
        shift = torch.cat([torch.full((len(X),), k) for k, X in enumerate(feats)])
        self.shift_predictor = _fit(torch.cat(feats), shift, len(feats), self.l2)
        return self

    def decision(self, X: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.shift_predictor.decision(X), dim=1)  # (n, K)
        logits = torch.stack([h.decision(X) for h in self.heads], dim=1)  # (n, K, 2)
        return (w[:, :, None] * logits).sum(dim=1)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return self.decision(X).argmax(dim=1)


def _select_on_val(fits, X_val, val):
    scores = [_group_worst(f.predict(X_val), val.labels, val.extra["group"]) for f in fits]
    return int(np.argmax(scores))


def lle(train_feats: list, train_labels: list, X_val, val, X_test, l2_grid):
    """LLE with its penalty chosen by worst-group accuracy on val. Returns (test preds, l2)."""
    fits = [LastLayerEnsemble(l2).fit(train_feats, train_labels) for l2 in l2_grid]
    k = _select_on_val(fits, X_val, val)
    return fits[k].predict(X_test), l2_grid[k]


def pooled_head(train_feats: list, train_labels: list, X_val, val, X_test, l2_grid):
    """LLE's control: ONE linear head on the pooled training distributions (the same images
    LLE sees), its penalty chosen as LLE's. Returns (test preds, l2)."""
    X, y = torch.cat(train_feats), torch.cat(train_labels)
    fits = [_fit(X, y, 2, l2) for l2 in l2_grid]
    k = _select_on_val(fits, X_val, val)
    return fits[k].predict(X_test), l2_grid[k]


def evaluate(net: Network, method: str, data: dict, cfg, seed: int, device) -> dict:
    """Every evaluation of one trained network (module docstring). JSON-able."""
    # training images: the first n_probe of each training distribution are enough for the
    # last-layer fits (and save most of the feature extraction)
    n_fit = min(cfg.n_probe, len(data["train"]))
    data = {k: (ds.subset(slice(0, n_fit)) if k.startswith("train") else ds) for k, ds in data.items()}
    feats = {k: layer_features(net, ds.images, device) for k, ds in data.items()}
    out = {"layers": layer_names(method)}
    if getattr(net, "selection", None):  # the epoch kept by worst-group validation accuracy
        out["selection"] = net.selection
    if method != "supcon_head":
        out["own"] = _metrics(feats["test"]["logits"].argmax(1), data["test"])
    if method not in ("erm_head_wm", "lle_e2e"):  # last-layer fits on the other networks
        out["dfr"], out["dfr_l2"] = {}, {}  # DFR-L1 at every layer; DFR-L2 at h and z
        for layer in out["layers"]:
            for key, penalty, grid in (("dfr", "l1", cfg.dfr_c_grid), ("dfr_l2", "l2", cfg.l2_grid)):
                if key == "dfr_l2" and layer not in (PRE, POST):
                    continue
                pred, value = dfr(feats["val"][layer], data["val"], feats["test"][layer], grid,
                                  seed, penalty)
                out[key][layer] = {**_metrics(pred, data["test"]), "penalty": penalty,
                                   "value": value}
        out["lle"], out["pooled"] = {}, {}
        for layer in [PRE] + ([POST] if POST in out["layers"] else []):
            tr = [feats["train" if s == "none" else f"train_{s}"][layer] for s in LLE_SHIFTS]
            ys = [data["train" if s == "none" else f"train_{s}"].labels for s in LLE_SHIFTS]
            for key, fn in (("lle", lle), ("pooled", pooled_head)):
                pred, l2 = fn(tr, ys, feats["val"][layer], data["val"], feats["test"][layer],
                              cfg.l2_grid)
                out[key][layer] = {**_metrics(pred, data["test"]), "l2": l2}
    # robustness to shifted test sets: an in-distribution probe (fit on training features)
    out["shifts"] = {}
    for layer in [PRE] + ([POST] if POST in out["layers"] else []):
        probe = _fit(feats["train"][layer], data["train"].labels, 2, cfg.probe_l2)
        out["shifts"][layer] = {k[3:]: probe.score(feats[k][layer], data[k].labels)
                                for k in data if k.startswith("id_")}
    out["shifts"]["own"] = {k[3:]: float((feats[k]["logits"].argmax(1) == data[k].labels)
                                         .float().mean()) for k in data if k.startswith("id_")}
    return out


def train_method(cfg, method: str, data: dict, seeds, device, progress=True):
    """Train one network of ``method`` per seed on ``data['train']``, all together (the same
    images; each seed its own initial weights, data order and augmentation draws). ``seeds``
    a list -> the list of networks; one int -> that one network (``helpers.distributed``)."""
    if isinstance(seeds, int):
        return train_method(cfg, method, data, [seeds], device, progress)[0]
    seeds = list(seeds)
    nets = []
    for s in seeds:
        seed_everything(s)  # seed s: the same initial weights for every method (paired)
        nets.append(build_network(cfg, method))
    alt = MITIGATIONS.get(method)
    # model selection needs the own classifier and a validation split (helpers.distributed's
    # single-network runs may pass training images only)
    select = (_WorstGroupSelection(nets, data["val"], device)
              if not method.startswith("supcon") and "val" in data else None)
    images, labels, epochs = data["train"].images, data["train"].labels, cfg.epochs
    if method == "lle_e2e":  # the three training distributions pooled, joint labels
        names = ["train" if s == "none" else f"train_{s}" for s in LLE_SHIFTS]
        if any(n not in data for n in names):
            raise ValueError(f"lle_e2e trains on {names}; load them with load_data (no watermark)")
        images = torch.cat([data[n].images for n in names])
        labels, epochs = joint_labels([data[n].labels for n in names]), lle_epochs(cfg)
    train_networks(nets, images, labels,
                   loss="supcon" if method.startswith("supcon") else "ce", epochs=epochs,
                   seeds=seeds, device=device, cfg=cfg,
                   alt_images=data[f"train_{alt}"].images if alt else None,
                   alt_prob=0.5 if alt else 0.0, desc=f"{method}, {len(seeds)} seed(s)",
                   progress=progress, on_epoch_end=select)
    if select is not None:
        select.restore()
    return nets


def lle_epochs(cfg) -> int:
    """Epochs of ``lle_e2e`` over its pooled set (3x the training images): the authors draw as
    many images per epoch as the original set holds, so ``cfg.epochs / 3`` passes over the
    pool see as many images (and take as many steps) as every other method's ``cfg.epochs``.
    Model selection then looks once per pass (every 3 of the others' epochs)."""
    return max(1, round(cfg.epochs / len(LLE_SHIFTS)))


class _WorstGroupSelection:
    """Model selection as Li et al.: after every epoch, each network's own classifier is scored
    by worst-group accuracy on the (group-balanced) validation split; the epoch with the best
    score (ties: the later) is kept. ``restore()`` loads it and sets ``net.selection`` =
    ``{"epoch": chosen (1-based), "val_worst_group": [score per epoch]}``."""

    def __init__(self, nets, val, device):
        self.nets, self.val, self.device = nets, val, device
        self.curves = [[] for _ in nets]
        self.best = [None] * len(nets)

    def __call__(self, epoch: int) -> None:
        for k, net in enumerate(self.nets):
            logits = layer_features(net, self.val.images, self.device)["logits"]
            score = _group_worst(logits.argmax(1), self.val.labels, self.val.extra["group"])
            if not self.curves[k] or score >= max(self.curves[k]):
                self.best[k] = (epoch, {n: t.detach().clone() for n, t in net.state_dict().items()})
            self.curves[k].append(score)

    def restore(self) -> None:
        for net, curve, best in zip(self.nets, self.curves, self.best):
            if best is not None:
                net.load_state_dict(best[1])
                net.selection = {"epoch": best[0], "val_worst_group": curve}


def cue_learnability(cfg, seed: int, device, progress=True) -> dict:
    """How fast each cue alone is learned: ``cfg.n_seeds`` ``erm`` networks (seeds ``seed``,
    ``seed + 1``, ..., trained together) on balanced procedural images (the three cues
    independent), each trained to predict one cue. ``{cue: (n_seeds, learn_epochs)}`` test
    accuracy for that cue after each epoch (fractions)."""
    train = make_urbancars("val", size=cfg.size, seed=seed + 1000, n=cfg.n_learn)
    test = make_urbancars("test", size=cfg.size, seed=seed + 1000, n=cfg.n_val)
    seeds = [seed + k for k in range(cfg.n_seeds)]
    out = {}
    for cue, key in LEARNABILITY_CUES.items():
        y_tr = train.labels if key is None else train.extra[key]
        y_te = test.labels if key is None else test.extra[key]
        nets = []
        for s in seeds:  # each seed's own initial weights, as in train_method
            seed_everything(s)
            nets.append(build_network(cfg, "erm"))
        curves = [[] for _ in seeds]

        def score(_epoch, nets=nets, y_te=y_te, curves=curves):
            for net, curve in zip(nets, curves):
                logits = layer_features(net, test.images, device)["logits"]
                curve.append(float((logits.argmax(1) == y_te).float().mean()))

        train_networks(nets, train.images, y_tr, loss="ce", epochs=cfg.learn_epochs,
                       seeds=seeds, device=device, cfg=cfg,
                       batch_size=min(cfg.batch_size, len(train)), desc=f"learn {cue}",
                       progress=progress, on_epoch_end=score)
        out[cue] = curves
    return out


def correlation_sweep(cfg, seed: int, device, progress=True) -> dict:
    """One ``erm_head`` network per agreement in ``cfg.correlations`` (both cues agree with the
    label with that probability in training; val/test stay balanced): the own classifier's
    metrics and DFR at h and z. ``{"agreements": [...], "own"|"dfr_h"|"dfr_z": [metrics, ...]}``."""
    out = {"agreements": [float(c) for c in cfg.correlations], "own": [], "dfr_h": [], "dfr_z": []}
    kw = dict(size=cfg.size, seed=seed)
    val, test = make_urbancars("val", n=cfg.n_val, **kw), make_urbancars("test", n=cfg.n_test, **kw)
    for agree in tqdm(out["agreements"], desc="cue agreement", disable=not progress):
        data = {"train": make_urbancars("train", n=cfg.n_train, bg_agree=agree, obj_agree=agree,
                                        **kw), "val": val, "test": test}
        (net,) = train_method(cfg, "erm_head", data, [seed], device, progress)
        f_val, f_test = (layer_features(net, d.images, device) for d in (val, test))
        out["own"].append(_metrics(f_test["logits"].argmax(1), test))
        for layer, key in ((PRE, "dfr_h"), (POST, "dfr_z")):
            pred, c = dfr(f_val[layer], val, f_test[layer], cfg.dfr_c_grid, seed)
            out[key].append({**_metrics(pred, test), "penalty": "l1", "value": c})
    return out


def run(cfg, seed: int, device=None, progress: bool = True) -> dict:
    """All methods x ``cfg.n_seeds`` seeds (seed, seed + 1, ...), each method's seeds trained
    together on the data of seed ``seed``. JSON-able: ``runs[method]`` is a list (one per
    seed, in order) of :func:`evaluate` dicts; ``seeds`` the seeds."""
    device = get_device(device)
    seeds = [seed + k for k in range(cfg.n_seeds)]
    runs = {m: [] for m in (*cfg.methods, *cfg.first_seed_methods)}
    jobs = [(m, seeds) for m in cfg.methods] + [(m, [seed]) for m in cfg.first_seed_methods]
    loaded = {}  # watermarked? -> image sets, one kind held at a time
    for method, job_seeds in tqdm(jobs, desc="methods", disable=not progress):
        key = method == "erm_head_wm"
        if key not in loaded:
            loaded = {key: load_data(cfg, seed, watermark=key)}
        data = loaded[key]
        nets = train_method(cfg, method, data, job_seeds, device, progress)
        runs[method] = [evaluate(net, method, data, cfg, s, device)
                        for net, s in zip(nets, job_seeds)]
    sweep = correlation_sweep(cfg, seed, device, progress) if cfg.correlations else None
    return {"methods": list(runs), "metrics": list(METRICS), "runs": runs, "seeds": seeds,
            "learnability": (cue_learnability(cfg, seed, device, progress)
                             if cfg.data == "urbancars-standin" else None), "sweep": sweep}
