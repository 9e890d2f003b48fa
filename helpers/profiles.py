"""Run profiles: the one place that holds every size knob of every experiment.

A chapter never branches on the profile itself; it asks for its experiment's config::

    cfg = get_profile().config("puzzle")
    cfg.epochs, cfg.n_train, cfg.width

Profiles (chosen by the environment variable ``BOOK_PROFILE``; default ``gpu`` when CUDA is
present, else ``cpu``):

* ``smoke`` - seconds on a CPU; CI runs every chapter at this size. Tests the code, not the science.
* ``cpu``   - minutes on a laptop CPU (2 cores); the offline data stand-ins, narrow networks.
* ``gpu``   - a chapter in about 15 minutes on one modest GPU (e.g. Colab's free T4); real data.
* ``paper`` - the papers' sizes for a datacenter GPU (reference hyper-parameters of Xue et al. 2024).
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
    n_labels: int  # labelled examples of the downstream probe
    probe_ridge: float
    probe_reps: int  # draws of the labelled set averaged per point
    theory_points: int  # resolution of the theory curves


_LOWER = dict(data="synthetic-features", n_features=20, phi_others=(0.5, 1.5), p_others=0.2,
              sigma=0.5, target_phi=1.0, wd_target_p=0.8, lr=0.05, wd_init_scale=1.0,
              n_labels=40, probe_ridge=0.3)
_LOWER_LAYER = {
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
_LOWER_LAYER["gpu"] = _LOWER_LAYER["cpu"]  # numpy on the CPU: a GPU does not help these nets
_LOWER_LAYER["paper"] = replace(_LOWER_LAYER["cpu"], init_scale=0.05, steps=200_000,
                                probe_reps=200)


@dataclass(frozen=True)
class ExpansionConfig:
    """Part II, expansion and shrinkage: a linear encoder + linear projector trained with NT-Xent
    on the two-class mixture x = y mu + z, one model per (sigma_aug, tau, seed), all trained at
    once as one batched model; then Chapter 1's MLP head, linearised.

    Units: samples, SGD steps; lr is for SGD on tau * loss (the same minimiser as the loss).
    """

    data: str  # provenance label of the synthetic data
    dim: int  # d: input, encoder and projector width (Gui et al. use d = 50)
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


# experiment name -> profile name -> config. Later chapters add their entries here.
_EXPERIMENTS = MappingProxyType({"puzzle": _PUZZLE, "expansion": _EXPANSION, "feature_weighting": _FEATURE_WEIGHTING,
                               "lower_layer": _LOWER_LAYER})

_DESCRIPTIONS = {
    "smoke": "seconds on a CPU; checks that the code runs (CI)",
    "cpu": "minutes on a laptop CPU; offline data stand-ins, narrow networks",
    "gpu": "about 15 minutes a chapter on one modest GPU; real data where reachable",
    "paper": "the papers' sizes; for a datacenter GPU",
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
