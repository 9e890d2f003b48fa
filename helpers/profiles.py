"""Run profiles: the one place that holds every size knob of every experiment.

A chapter never branches on the profile itself; it asks for its experiment's config::

    cfg = get_profile().config("puzzle")
    cfg.epochs, cfg.n_train, cfg.width

Profiles (chosen by the environment variable ``BOOK_PROFILE``; default ``gpu`` when CUDA is
present, else ``cpu``):

* ``smoke`` - seconds on a CPU; CI runs every chapter at this size. Tests the code, not the science.
* ``cpu``   - minutes on a laptop CPU (2 cores); the offline data stand-ins, narrow networks.
* ``gpu``   - a chapter in about 15 minutes on one modest GPU (e.g. Colab's free T4); real data.
* ``paper`` - the papers' networks, data and hyper-parameters (Xue et al. 2024) on a datacenter GPU;
  epochs cut where needed so a chapter trains in about 20 minutes on one H100
  (``PAPER_BUDGET_EPOCHS``; estimated from issue 7's speed target, not yet measured).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from types import MappingProxyType

PROFILE_NAMES = ("smoke", "cpu", "gpu", "paper")
ENV_VAR = "BOOK_PROFILE"


@dataclass(frozen=True)
class PuzzleConfig:
    """Chapter 1: SimCLR with a ResNet-18 encoder and a 2-layer MLP head, probed at every layer.

    Units: images, epochs, widths in channels; lr for Adam; weight decay is L2 on all weights.
    """

    data: str  # 'shapes' | 'digits' | 'cifar10' (see helpers.data.load_image_set)
    n_train: int  # pre-training images (also the probe's training set)
    n_test: int  # probe test images
    width: int  # ResNet-18 width multiplier (64 = the standard ResNet-18, 512-dim output)
    head_hidden: int  # MLP head hidden width
    head_out: int  # MLP head output (the loss's space)
    epochs: int
    batch_size: int
    lr: float  # Adam learning rate
    weight_decay: float
    temperature: float  # NT-Xent temperature
    crop_scale_min: float  # RandomResizedCrop lower area bound (SimCLR: 0.08)
    jitter: float  # colour-jitter strength s: (0.8s, 0.8s, 0.8s, 0.2s) as in SimCLR
    n_seeds: int  # independent pre-training runs (mean and spread in the figure)
    probe: str  # 'logistic' | 'ridge'


_PUZZLE = {
    "smoke": PuzzleConfig(data="shapes", n_train=256, n_test=256, width=4, head_hidden=64,
                          head_out=32, epochs=2, batch_size=128, lr=2e-3, weight_decay=1e-6,
                          temperature=0.5, crop_scale_min=0.2, jitter=0.5, n_seeds=1,
                          probe="ridge"),
    # Tuned on 2 CPU cores: about 2.5 minutes of training per seed. Narrow (width 8) because a
    # full-width ResNet-18 trains at ~40 images/s on 2 cores. Tried on the weaker seed (h - z
    # here: +2.7): lr 1e-3 +2.1, jitter 0.25 +3.6 (one run each, within seed noise), batch 128 /
    # lr 1e-3 +1.9 on the other seed (here +5.4). The colourised digits fail at this
    # size (random crops destroy the upscaled 8x8 digits: ~18 % at h), hence the shapes set.
    "cpu": PuzzleConfig(data="shapes", n_train=2048, n_test=2000, width=8, head_hidden=512,
                        head_out=128, epochs=30, batch_size=256, lr=2e-3, weight_decay=1e-6,
                        temperature=0.5, crop_scale_min=0.2, jitter=0.5, n_seeds=2,
                        probe="logistic"),
    "gpu": PuzzleConfig(data="cifar10", n_train=50_000, n_test=10_000, width=32, head_hidden=2048,
                        head_out=128, epochs=100, batch_size=512, lr=1e-3, weight_decay=1e-6,
                        temperature=0.5, crop_scale_min=0.08, jitter=1.0, n_seeds=1,
                        probe="logistic"),
    # Reference hyper-parameters (SCIENCE.md): full-width ResNet-18, Adam 1e-3, wd 1e-6,
    # batch 512, temperature 0.5, 400 epochs.
    "paper": PuzzleConfig(data="cifar10", n_train=50_000, n_test=10_000, width=64,
                          head_hidden=2048, head_out=128, epochs=400, batch_size=512, lr=1e-3,
                          weight_decay=1e-6, temperature=0.5, crop_scale_min=0.08, jitter=1.0,
                          n_seeds=1, probe="logistic"),
}

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
_FEATURE_WEIGHTING = {
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
_LOWER_LAYER = {
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
_LOWER_LAYER["gpu"] = _LOWER_LAYER["cpu"]  # numpy on the CPU: a GPU does not help these nets
_LOWER_LAYER["paper"] = replace(_LOWER_LAYER["cpu"], init_scale=0.05, steps=200_000,
                                probe_reps=400, n_seeds=10)


@dataclass(frozen=True)
class ExpansionConfig:
    """Part II, expansion and shrinkage: a linear encoder + linear projector trained with NT-Xent
    on the two-class mixture x = y mu + z, one model per (sigma_aug, tau, seed), all trained at
    once as one batched model; then Chapter 1's MLP head, linearised.

    Units: samples, SGD steps; lr is for SGD on tau * loss (the same minimiser as the loss).
    """

    data: str  # provenance label of the synthetic data
    dim: int  # d: input, encoder and projector width (the book's choice; no source for the paper's)
    signal: float  # r = ||mu||, the class-mean distance from the origin
    sigmas: tuple  # augmentation noise std of each view (the grid's rows)
    temperatures: tuple  # NT-Xent temperatures (the grid's columns)
    n_seeds: int  # independent data, init and noise per grid cell
    n_pretrain: int  # unlabelled samples each model trains on
    batch_size: int  # N pairs per step
    steps: int
    lr: float
    momentum: float
    n_labeled: int  # downstream labelled samples (half per class): gamma = dim / n_labeled
    n_test: int  # downstream test samples
    n_probe_draws: int  # labelled sets averaged per model
    theory_batches: int  # Monte Carlo batches of the one-number theory (common random numbers)
    theory_sigmas: int  # points on the theory's threshold curve
    mc_dim: int  # d of the Monte Carlo check of the closed form (n follows from gamma)
    mc_reps: int  # independent draws per (gamma, alpha) of that check
    chapter1: PuzzleConfig | None  # Chapter 1's network whose head is linearised (None: skip)
    sweep: PuzzleConfig | None  # a smaller network retrained at each sweep temperature
    sweep_temperatures: tuple


def _geometric(lo: float, hi: float, n: int) -> tuple:
    """n geometrically spaced values from lo to hi, rounded to 3 significant digits."""
    return tuple(float(f"{lo * (hi / lo) ** (i / (n - 1)):.3g}") for i in range(n))


# The grid's ranges are the book's choice (PAPERS.md has no source for the paper's ranges).
_GRID_8 = dict(sigmas=(0.1, 0.15, 0.24, 0.36, 0.55, 0.85, 1.3, 2.0),  # geometric, 0.1-2
               temperatures=(0.01, 0.033, 0.11, 0.35, 1.1, 3.7, 12.0, 40.0))  # geometric, 0.01-40
_EXPANSION = {
    # Code path only: 3 x 3 cells, 2 seeds, a few seconds; the numbers mean little.
    "smoke": ExpansionConfig(data="gaussian-mixture", dim=16, signal=1.5, sigmas=(0.1, 0.5, 2.0),
                             temperatures=(0.05, 1.0, 20.0), n_seeds=2, n_pretrain=256,
                             batch_size=32, steps=150, lr=0.1, momentum=0.9, n_labeled=8,
                             n_test=500, n_probe_draws=2, theory_batches=8, theory_sigmas=4,
                             mc_dim=40, mc_reps=4, chapter1=_PUZZLE["smoke"],
                             sweep=replace(_PUZZLE["smoke"], epochs=1),
                             sweep_temperatures=(0.2, 2.0)),
    # 8 x 8 cells x 3 seeds = 192 models of d = 50; about 4.7 minutes on 2 idle CPU cores in
    # all: the grid 66 s (1000 SGD steps of batch 64; E still moves by > 10 % over the second
    # half in about 1 model in 7, mostly at the largest temperatures, which the chapter
    # prints), the theory 25 s (256 Monte Carlo batches: 64 left the threshold at sigma = 0.1
    # uncertain by a factor ~2), Chapter 1's network retrained 150 s (its result file holds no
    # weights), the sweep 36 s. 16k pre-training samples: with 2k the trained thresholds sat
    # ~15 % below the theory's (fresh samples); 3000 steps, or plain SGD at lr 0.5, moved the
    # trained threshold at sigma = 0.36 by < 3 %.
    "cpu": ExpansionConfig(data="gaussian-mixture", dim=50, signal=1.5, **_GRID_8, n_seeds=3,
                           n_pretrain=16_384, batch_size=64, steps=1000, lr=0.1, momentum=0.9,
                           n_labeled=24, n_test=2000, n_probe_draws=10, theory_batches=256,
                           theory_sigmas=12, mc_dim=200, mc_reps=20, chapter1=_PUZZLE["cpu"],
                           sweep=replace(_PUZZLE["smoke"], n_train=512, n_test=512, epochs=8),
                           sweep_temperatures=(0.05, 0.2, 0.5, 2.0, 8.0)),
    # Sized, not measured: a finer 12 x 12 grid, 5 seeds, longer training, larger batches.
    "gpu": ExpansionConfig(data="gaussian-mixture", dim=50, signal=1.5,
                           sigmas=_geometric(0.1, 2.0, 12), temperatures=_geometric(0.01, 40.0, 12),
                           n_seeds=5, n_pretrain=65_536, batch_size=256, steps=4000, lr=0.1,
                           momentum=0.9, n_labeled=24, n_test=10_000, n_probe_draws=20,
                           theory_batches=512, theory_sigmas=24, mc_dim=400, mc_reps=50,
                           chapter1=_PUZZLE["gpu"],
                           sweep=replace(_PUZZLE["gpu"], n_train=10_000, n_test=2000, epochs=20),
                           sweep_temperatures=(0.05, 0.1, 0.2, 0.5, 1.0, 2.0)),
}
# The papers' scale: a 16 x 16 grid (Gui et al. sweep sigma 0.1-2, tau 0.01-40, d = 50), 10 seeds.
_EXPANSION["paper"] = replace(
    _EXPANSION["gpu"], sigmas=_geometric(0.1, 2.0, 16), temperatures=_geometric(0.01, 40.0, 16),
    n_seeds=10, steps=10_000, theory_batches=1024, chapter1=_PUZZLE["paper"])


@dataclass(frozen=True)
class NonlinearConfig:
    """Part III, ReLU versus linear on the signed-feature model (``helpers.data.signflip``).

    Two-layer nets d -> width -> width, no biases, NT-Xent, SGD with momentum; every
    (kind, condition, seed) model trains as one slice of a batched model.
    """

    data: str  # 'synthetic-signflip'
    dim: int  # input dimension d (the signed feature + d - 1 ordinary features)
    amplitude: float  # A: the signed feature's magnitude is A |g|
    sigma: float  # augmentation noise on every coordinate
    width: int  # hidden and output width
    p_flips: tuple  # sign-flip probabilities of the main sweep (at weight_decay)
    weight_decays: tuple  # the weight-decay sweep, at p_flip = 1/2
    weight_decay: float  # the default weight decay
    steps: int  # SGD steps
    batch_size: int  # pairs per step and model
    lr: float
    momentum: float
    temperature: float  # NT-Xent temperature
    n_seeds: int
    n_probe: int  # clean samples for each of the probe's train and test splits
    probe_l2: float  # the fixed logistic-probe penalty on RMS-scaled layers


_NONLINEAR = {
    # Code path only: 2 p_flips x 2 decays x 2 kinds, 150 steps; seconds.
    "smoke": NonlinearConfig(data="synthetic-signflip", dim=6, amplitude=2.0, sigma=0.3, width=16,
                             p_flips=(0.0, 0.5), weight_decays=(0.0,), weight_decay=5e-3,
                             steps=150, batch_size=128, lr=0.05, momentum=0.9, temperature=0.5,
                             n_seeds=1, n_probe=500, probe_l2=1e-2),
    # 2 kinds x 7 conditions x 3 seeds = 42 nets of 6-32-32. Tried at p_flip 1/2 (seed 0):
    # batch 512 gave ReLU sign 0.98 at h, 0.52 at z, linear 0.51 / 0.51; batch 128 left the
    # ReLU output at 0.63 (less converged); batch 256: 0.97 / 0.56 and 0.52 / 0.52. The cost
    # grows as models x batch^2 (NT-Xent's similarity matrix).
    "cpu": NonlinearConfig(data="synthetic-signflip", dim=6, amplitude=2.0, sigma=0.3, width=32,
                           p_flips=(0.0, 0.125, 0.25, 0.375, 0.5),
                           weight_decays=(0.0, 2e-2), weight_decay=5e-3, steps=1500,
                           batch_size=256, lr=0.05, momentum=0.9, temperature=0.5, n_seeds=3,
                           n_probe=2000, probe_l2=1e-2),
}
# Sized, not measured: a finer sweep, more seeds and longer training (GPU: one batched model).
_NONLINEAR["gpu"] = replace(_NONLINEAR["cpu"], p_flips=tuple(i / 20 for i in range(11)),
                            weight_decays=(0.0, 5e-4, 1e-3, 2e-3, 1e-2, 2e-2), n_seeds=5,
                            steps=4000, batch_size=512, n_probe=5000)
_NONLINEAR["paper"] = replace(_NONLINEAR["gpu"], n_seeds=10, steps=10_000)


@dataclass(frozen=True)
class DigitOverlayConfig:
    """Part III, digits on images (``helpers.experiments.digit_overlay``): SimCLR with DropDigit
    for every (digit strength s, p_drop, seed), then class and digit probes at every layer.

    Units: images, epochs; lr is Adam's; weight decay is L2 on all weights.
    """

    data: str  # base images: 'shapes' (offline) | 'cifar10' (see helpers.data.load_image_set)
    digits: str  # digit masks: 'sklearn' (bundled 8x8, upscaled; offline) | 'mnist'
    n_train: int  # pre-training images (also the probes' training set)
    n_test: int  # probe test images
    size: int  # image side in pixels (CIFAR: 32)
    width: int  # ResNet-18 width multiplier (64 = the standard ResNet-18)
    head_hidden: int  # MLP head hidden width
    head_out: int  # MLP head output (the loss's space)
    epochs: int
    batch_size: int
    lr: float  # Adam learning rate
    weight_decay: float
    temperature: float  # NT-Xent temperature
    crop_scale_min: float  # RandomResizedCrop lower area bound (SimCLR: 0.08)
    jitter: float  # colour-jitter strength, as PuzzleConfig.jitter
    strengths: tuple  # digit opacities s in [0, 1]
    p_drops: tuple  # DropDigit probabilities in [0, 1]
    n_seeds: int  # pre-training runs per (s, p_drop)
    probe: str  # 'logistic' | 'ridge'


_DIGIT_OVERLAY = {
    # Code path only: 2 s x 2 p_drop x 1 seed, tiny network; seconds.
    "smoke": DigitOverlayConfig(data="shapes", digits="sklearn", n_train=128, n_test=128, size=32,
                                width=4, head_hidden=64, head_out=32, epochs=2, batch_size=64,
                                lr=2e-3, weight_decay=1e-6, temperature=0.5, crop_scale_min=0.5,
                                jitter=0.5, strengths=(0.3, 0.7), p_drops=(0.0, 1.0), n_seeds=1,
                                probe="ridge"),
    # 3 s x 4 p_drop x 1 seed = 12 SimCLR runs of Chapter 1's cpu network (width 8) on 2048
    # images; the ridge probe (the logistic one costs minutes more here). crop_scale_min 0.5, not
    # 0.2: the digit is an 8x8 original upscaled to the whole 32 px frame, and a crop of 20 % of
    # the area keeps only a stroke or two of it. Tried before fixing these sizes (width 8, 2048
    # images, 10 epochs, p_drop 0, one run each): digit probe at h 39 % at s = 0.5 (untrained
    # network 20 %), 74 % at s = 0.75 (untrained 30 %); chance 10 %. 5 epochs: the time budget
    # (6 epochs took 681 s of one-thread CPU time for the whole sweep).
    "cpu": DigitOverlayConfig(data="shapes", digits="sklearn", n_train=2048, n_test=1000, size=32,
                              width=8, head_hidden=512, head_out=128, epochs=5, batch_size=256,
                              lr=2e-3, weight_decay=1e-6, temperature=0.5, crop_scale_min=0.5,
                              jitter=0.5, strengths=(0.3, 0.55, 0.8), p_drops=(0.0, 0.3, 0.6, 1.0),
                              n_seeds=1, probe="ridge"),
}
# Sized, not measured (no GPU here): CIFAR-10 + MNIST, 3 s x 4 p_drop x 1 seed = 12 runs of a
# width-16 ResNet-18 on 20k images; SimCLR's own crop bound 0.2 (MNIST's 28 px digit survives it
# better than the upscaled 8x8 ones).
_DIGIT_OVERLAY["gpu"] = replace(_DIGIT_OVERLAY["cpu"], data="cifar10", digits="mnist",
                                n_train=20_000, n_test=10_000, width=16, head_hidden=2048,
                                epochs=25, batch_size=512, lr=1e-3, crop_scale_min=0.2,
                                jitter=1.0, probe="logistic")
# Reference hyper-parameters (SCIENCE.md, a reproduction of Xue2024): full-width ResNet-18, Adam
# 1e-3, wd 1e-6, batch 512, temperature 0.5, 2048-128 MLP head, on all of CIFAR-10. SCIENCE.md does
# not state the paper's digit strengths or p_drop grid; these sweep the cpu profile's ranges.
# Epochs: the chapter budget below (PAPER_BUDGET_EPOCHS), 12 runs x 35 epochs = 420 full epochs,
# instead of the reference's 400 epochs per run (15 runs of 400 would be tens of GPU-hours).
_DIGIT_OVERLAY["paper"] = replace(_DIGIT_OVERLAY["gpu"], n_train=50_000, width=64, epochs=35,
                                  crop_scale_min=0.08, n_seeds=1)


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
    l2_grid: tuple  # logistic penalties DFR / LLE choose from on validation data
    n_probe: int  # training images per distribution for LLE and the in-distribution probe
    probe_l2: float  # penalty of the in-distribution probe used on shifted test sets
    watermark_rate: float  # fraction of class-1 training images carrying the watermark
    n_learn: int  # balanced images for the cue-learnability runs (multiple of 8)
    learn_epochs: int
    correlations: tuple = ()  # cue-label agreements of the sweep (one erm_head each); () = none


_SHORTCUTS_BASE = dict(data="urbancars-standin", arch="convnet", lr=2e-3, weight_decay=1e-5,
                       temperature=0.5, methods=("erm", "erm_head", "supcon_head", "erm_bgaug"),
                       first_seed_methods=("erm_head_wm",), l2_grid=(1e-4, 1e-3, 1e-2, 1e-1),
                       probe_l2=1e-3, watermark_rate=0.8)
_SHORTCUTS = {
    # Code path only (32 px, 800 images, one epoch): the numbers mean little.
    "smoke": ShortcutsConfig(**_SHORTCUTS_BASE, size=32, n_train=400, n_val=80, n_test=80,
                             width=4, head_hidden=64, head_out=32, epochs=1, batch_size=100,
                             n_seeds=1, n_probe=200, n_learn=80, learn_epochs=1,
                             correlations=(0.5, 0.95)),
    # The real set's 8000 / 1000 / 1000 images at 32 px; 3 seeds of 4 methods + the watermark
    # model + 5 cue-agreement sweep models = 18 small CNNs of 3 epochs each. Measured without
    # the sweep: 575 s on 2 CPU cores shared with other jobs (load ~5, an upper bound);
    # generating the 8000 training images takes ~2 s (`make bench` prints it).
    "cpu": ShortcutsConfig(**_SHORTCUTS_BASE, size=32, n_train=8000, n_val=1000, n_test=1000,
                           width=8, head_hidden=256, head_out=64, epochs=3, batch_size=128,
                           n_seeds=3, n_probe=2000, n_learn=2000, learn_epochs=3,
                           correlations=(0.5, 0.75, 0.9, 0.95, 0.99)),
    # Sized, not measured (no GPU here): 64 px stand-in, ResNet-18 width 16, 30 epochs, 5 seeds.
    "gpu": ShortcutsConfig(**_SHORTCUTS_BASE | dict(arch="resnet18"), size=64, n_train=8000,
                           n_val=1000, n_test=1000, width=16, head_hidden=512, head_out=128,
                           epochs=30, batch_size=256, n_seeds=5, n_probe=8000, n_learn=4000,
                           learn_epochs=10, correlations=(0.5, 0.75, 0.9, 0.95, 0.99)),
}
# The paper's data (real UrbanCars folders, 256 px in the release) with a full-width ResNet-18
# (Li et al. use an ImageNet-pretrained ResNet-50 at 224 px; the book trains from scratch). Read
# at 64 px: the CIFAR stem keeps full resolution, so 224 px would cost 49x a 32-px image; at 64 px
# (4x) 3 seeds x (ERM, ERM + head, SupCon's two views) x 100 epochs is about 380 full CIFAR-10
# epochs, inside the chapter budget (PAPER_BUDGET_EPOCHS). The real folders have no masks: no
# background re-draw, LLE or shifted copies there.
_SHORTCUTS["paper"] = replace(_SHORTCUTS["gpu"], data="urbancars", size=64, width=64,
                              head_hidden=2048, epochs=100, n_seeds=3,
                              methods=("erm", "erm_head", "supcon_head"), first_seed_methods=(),
                              correlations=())  # the released set has one correlation (0.95)


@dataclass(frozen=True)
class ReweightingConfig:
    """Part V, the fixed reweighting head (Xue et al. 2024, Sec. 6), swept over k next to an MLP head.

    Image part (``helpers.experiments.reweighting``): one ResNet-18 per (setting, head, seed);
    settings SimCLR on digits-on-images with DropDigit, and SupCon / cross-entropy on coarse labels
    probed for fine ones. Linear part (``lin_*``, ``reweighting_report.linear_sweep``): Part I's
    feature model under the fixed head, closed form against gradient descent.
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
    kappas: tuple  # fixed-head strengths; 1.0 (the identity) is the no-head reference
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
    lin_phi: tuple  # linear part: feature strengths
    lin_p: tuple  # ... drop probabilities (the last feature is the downstream target)
    lin_sigma: float  # ... augmentation noise
    lin_weight_decay: float  # ... on the encoder (it is what makes k cost something)
    lin_init_scale: float  # ... typical gain of W at initialisation
    lin_lr: float
    lin_steps: int
    lin_n_labels: int  # labelled examples of the linear probe
    lin_ridge: float
    lin_probe_reps: int


_KAPPAS = (1.0, 1.01, 1.05, 1.1, 1.2, 1.5, 2.0)
# the target (feature 0) is the one augmentation disrupts most
# (gains well apart, so gradient descent settles on the optimal order within 60k steps)
_REWEIGHTING_LIN = dict(lin_phi=(1.0,) * 6, lin_p=(0.75, 0.6, 0.45, 0.3, 0.15, 0.0),
                        lin_sigma=0.5, lin_weight_decay=0.02, lin_init_scale=0.01, lin_lr=0.05,
                        lin_steps=60_000, lin_n_labels=20, lin_ridge=0.1, lin_probe_reps=200)
_REWEIGHTING_SMALL = dict(data="shapes", hierarchy="shapes-pairs", image_size=16, width=4,
                          head_hidden=64, head_out=32, batch_size=64, lr=3e-3,
                          weight_decay=1e-5, temperature=0.5, crop_scale_min=0.5, jitter=0.5,
                          digit_strength=0.5, p_drop=0.5, probe_l2=0.1)
_REWEIGHTING = {
    # Code path only: 3 k, 1 seed, 1 epoch of 128 images.
    "smoke": ReweightingConfig(**_REWEIGHTING_SMALL, **_REWEIGHTING_LIN, n_train=128, n_val=64,
                               n_test=128, kappas=(1.0, 1.2, 2.0), epochs=1, n_seeds=1),
    # 16 px stand-ins, ResNet-18 width 4: 3 settings x 8 heads x 3 seeds = 72 small runs.
    # shape-families (Part IV's stand-in) did not train past chance at this size (tried: CE,
    # 160 steps, 16 and 32 px), hence 'shapes-pairs'.
    "cpu": ReweightingConfig(**_REWEIGHTING_SMALL, **_REWEIGHTING_LIN, n_train=1024, n_val=256,
                             n_test=1000, kappas=_KAPPAS, epochs=20, n_seeds=3),
    # Sized, not measured (no GPU here): CIFAR-10 + digits and CIFAR-100 20 -> 100 at 32 px,
    # width 16, 20 epochs of 5k images: ~40 TFLOP per contrastive run, so 72 runs should take
    # roughly 15-25 minutes on a T4 (an estimate from FLOPs, not a measurement).
    "gpu": ReweightingConfig(**_REWEIGHTING_LIN, data="cifar10", hierarchy="cifar100",
                             image_size=32, n_train=5000, n_val=1000, n_test=5000, width=16,
                             head_hidden=512, head_out=128, kappas=_KAPPAS, epochs=20,
                             batch_size=256, lr=1e-3, weight_decay=1e-6, temperature=0.5,
                             crop_scale_min=0.2, jitter=1.0, digit_strength=0.5, p_drop=0.5,
                             probe_l2=0.1, n_seeds=3),
    # Reference hyper-parameters (SCIENCE.md): full ResNet-18, batch 512 (Xue et al.'s default
    # k = 1.05). 72 runs of the reference's 400 epochs on 45k images would be days; within the
    # chapter budget (PAPER_BUDGET_EPOCHS): 10k training images, 35 epochs, i.e. 24 (head, seed)
    # pairs x (2 + 2 + 1 views) x 10k x 35 = 420 full CIFAR-10 epochs.
    "paper": ReweightingConfig(**_REWEIGHTING_LIN, data="cifar10", hierarchy="cifar100",
                               image_size=32, n_train=10_000, n_val=5000, n_test=10_000,
                               width=64, head_hidden=2048, head_out=128, kappas=_KAPPAS,
                               epochs=35, batch_size=512, lr=1e-3, weight_decay=1e-6,
                               temperature=0.5, crop_scale_min=0.08, jitter=1.0,
                               digit_strength=0.5, p_drop=0.5, probe_l2=0.1, n_seeds=3),
}


@dataclass(frozen=True)
class ClassCollapseConfig:
    """Chapter 6, class collapse: ResNet-18 (CIFAR stem) + 2-layer MLP head trained on COARSE
    labels with cross-entropy or SupCon (and SimCLR, no labels), then linear probes for the
    fine and the coarse labels at every layer (helpers.experiments.class_collapse).

    Units: images, epochs, widths in channels; lr for ``optimizer`` (Adam or SGD momentum 0.9,
    constant); SimCLR always uses Adam at ``simclr_lr``.
    """

    data: str  # 'hue-families' | 'shape-families' | 'cifar10-5' | 'cifar100' (data.hierarchy)
    image_size: int  # side in pixels of the generated stand-in (CIFAR: 32)
    n_train: int  # training images (also the probes' training set)
    n_test: int  # probe test images
    width: int  # ResNet-18 width multiplier (64 = standard, 512-dim h)
    head_hidden: int
    head_out: int
    epochs: int
    batch_size: int
    optimizer: str  # for CE and SupCon: 'adam' | 'sgd'
    lr: float
    weight_decay: float
    simclr_lr: float
    simclr_weight_decay: float
    temperature: float  # SupCon and NT-Xent
    crop_scale_min: float
    jitter: float
    methods: tuple  # 'loss/head' with loss in ce, supcon, simclr and head in mlp, none
    n_seeds: int
    probe: str  # 'logistic' | 'ridge'


_ALL_METHODS = ("ce/mlp", "ce/none", "supcon/mlp", "supcon/none", "simclr/mlp")
_CLASS_COLLAPSE = {
    # Code path only (one seed, two epochs); numbers mean little.
    "smoke": ClassCollapseConfig(data="hue-families", image_size=16, n_train=256, n_test=256, width=4,
                                 head_hidden=64, head_out=32, epochs=1, batch_size=128,
                                 optimizer="adam", lr=2e-3, weight_decay=1e-5, simclr_lr=2e-3,
                                 simclr_weight_decay=1e-6, temperature=0.5, crop_scale_min=0.3,
                                 jitter=0.5, methods=_ALL_METHODS, n_seeds=1, probe="ridge"),
    # 2 CPU cores: narrow network (width 4), 16-px images, 3 seeds x 5 methods. Sized from a
    # measured speed (32-px images at width 4 trained at ~130 images/s on 2 cores shared with
    # other jobs: far too slow for 15 models at 32 px); the end-to-end cpu time is printed by
    # the chapter's cell. 40 epochs, not 20: at 20 the supervised networks had barely fit their
    # coarse labels (test coarse accuracy CE 69 %, SupCon 48 %; at 40: 84 %, 54 %; 377 s).
    "cpu": ClassCollapseConfig(data="hue-families", image_size=16, n_train=1536, n_test=1000,
                               width=4, head_hidden=128, head_out=64, epochs=40, batch_size=64,
                               optimizer="adam", lr=2e-3, weight_decay=1e-5, simclr_lr=2e-3,
                               simclr_weight_decay=1e-6, temperature=0.5, crop_scale_min=0.3,
                               jitter=0.5, methods=_ALL_METHODS, n_seeds=3, probe="ridge"),
    # Sized, not measured: real CIFAR-100 (20 coarse / 100 fine), width 32; 25k training images
    # x 25 epochs x 15 runs = 37.5 full epochs (GPU_BUDGET_EPOCHS; 50k x 60 epochs was 180).
    "gpu": ClassCollapseConfig(data="cifar100", image_size=32, n_train=25_000, n_test=10_000, width=32,
                               head_hidden=2048, head_out=128, epochs=25, batch_size=512,
                               optimizer="sgd", lr=0.1, weight_decay=5e-4, simclr_lr=1e-3,
                               simclr_weight_decay=1e-6, temperature=0.5, crop_scale_min=0.08,
                               jitter=1.0, methods=_ALL_METHODS, n_seeds=3, probe="logistic"),
}
# Reference sizes (SCIENCE.md): full-width ResNet-18, SGD lr 0.1, batch 512, head 2048-128, all of
# CIFAR-100. The reference trains 200-400 epochs; within the chapter budget (PAPER_BUDGET_EPOCHS):
# 3 seeds x (CE 2 x 1 view + SupCon 2 x 2 views + SimCLR 2 views) x 35 epochs = 420 full epochs.
_CLASS_COLLAPSE["paper"] = replace(_CLASS_COLLAPSE["gpu"], n_train=50_000, width=64, epochs=35)


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
_COLLAPSE_TOY = {
    "smoke": CollapseToyConfig(**_TOY, toy_n_train=500, toy_n_test=500, toy_steps=300,
                               toy_seeds=1, toy_probe_draws=3),
    "cpu": CollapseToyConfig(**_TOY, toy_n_train=1000, toy_n_test=2000, toy_steps=2000,
                             toy_seeds=3, toy_probe_draws=20),
}
# numpy/torch on tiny nets: a GPU does not help; gpu = cpu; paper: more seeds and draws.
_COLLAPSE_TOY["gpu"] = _COLLAPSE_TOY["cpu"]
_COLLAPSE_TOY["paper"] = replace(_COLLAPSE_TOY["cpu"], toy_seeds=10, toy_probe_draws=100,
                                 toy_steps=5000)


# The paper profile's chapter budget, in "full epochs": one epoch = 100k augmented 32-px views
# through the full-width ResNet-18, forward and backward (one SimCLR epoch of CIFAR-10, ~0.33
# PFLOP). Issue 7's target for helpers.pipeline on one H100 is <= 2 s per full epoch, so a budget
# of about 420 full epochs is ~14 minutes of training, leaving room for the probes in a chapter's
# 20 minutes. An estimate from that target, not a measurement: if the pipeline is slower on the
# GPU, every paper chapter is slower by the same factor. helpers.budget counts each config's
# full epochs (`python -m helpers.run --list --profile paper` prints them); tests/test_budget.py
# fails when a chapter's config goes over its profile's budget.
PAPER_BUDGET_EPOCHS = 420
# The gpu profile's chapter budget (15-20 minutes on a modest GPU such as Colab's T4, whose fp16
# peak is ~15x below an H100's bf16 peak: ~30 s per full epoch at the same efficiency, so about
# 40 full epochs). Also an estimate, not a measurement.
GPU_BUDGET_EPOCHS = 40
# `make full` (python -m helpers.run all --profile paper, issue 7) runs every experiment at its
# `paper` size above, unchanged: puzzle 400 epochs of the full-width ResNet-18 on CIFAR-10,
# batch 512 (the headline run; issue 7's target is < 15 min on one H100 with the
# helpers.pipeline fast path, not yet measured); feature_weighting and lower_layer the longer
# numpy runs; expansion the 16 x 16 grid x 10 seeds plus Chapter 1's paper network. Per-chapter
# H100 times are still to be measured (`python -m helpers.run <name> --profile paper` prints them).
# experiment name -> profile name -> config. Later chapters add their entries here.
_EXPERIMENTS = MappingProxyType({"puzzle": _PUZZLE, "expansion": _EXPANSION, "feature_weighting": _FEATURE_WEIGHTING,
                               "lower_layer": _LOWER_LAYER, "nonlinear": _NONLINEAR,
                               "digit_overlay": _DIGIT_OVERLAY, "shortcuts": _SHORTCUTS,
                               "reweighting": _REWEIGHTING,
                               "class_collapse": _CLASS_COLLAPSE, "collapse_toy": _COLLAPSE_TOY})

_DESCRIPTIONS = {
    "smoke": "seconds on a CPU; checks that the code runs (CI)",
    "cpu": "minutes on a laptop CPU; offline data stand-ins, narrow networks",
    "gpu": "about 15 minutes a chapter on one modest GPU; real data where reachable",
    "paper": "the papers' networks and data; about 20 minutes a chapter on one H100 (estimated)",
}


@dataclass(frozen=True)
class Profile:
    """A named run size. ``config(experiment)`` gives that experiment's knobs at this size."""

    name: str
    description: str = field(compare=False)

    def config(self, experiment: str, **overrides):
        """The frozen config of ``experiment`` at this profile, with optional ``overrides``.

        Raises:
            KeyError: unknown experiment (the message lists the known ones).
        """
        if experiment not in _EXPERIMENTS:
            raise KeyError(f"no experiment {experiment!r} in helpers.profiles; known: "
                           f"{sorted(_EXPERIMENTS)}. Add its sizes to helpers/profiles.py.")
        return replace(_EXPERIMENTS[experiment][self.name], **overrides)

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"


def default_profile_name() -> str:
    """``gpu`` when CUDA is available, else ``cpu``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def get_profile(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``$BOOK_PROFILE``, else the default for this machine.

    Raises:
        ValueError: the name is not one of ``smoke``, ``cpu``, ``gpu``, ``paper``.
    """
    chosen = name or os.environ.get(ENV_VAR, "").strip() or default_profile_name()
    chosen = chosen.lower()
    if chosen not in PROFILE_NAMES:
        source = "argument" if name else f"environment variable {ENV_VAR}"
        raise ValueError(f"unknown profile {chosen!r} (from the {source}); valid profiles: "
                         f"{', '.join(PROFILE_NAMES)}. Example: {ENV_VAR}=smoke make book")
    return Profile(chosen, _DESCRIPTIONS[chosen])
