"""The one training engine: SimCLR, SupCon or cross-entropy, any head, K seeds in one pass.

Every chapter that trains a network calls :func:`train` (Chapters 1, 4-8). What it does, in the
order a step does it (:func:`_views`, :func:`objective`, :class:`Trainer.step`):

* the training images stay on the device as stored (uint8); each seed draws its own data order
  and, batch by batch, its own augmented views from its own ``torch.Generator``;
* the network (:class:`helpers.models.Network`: encoder -> head -> classifier) runs under
  autocast on CUDA (bf16 where the GPU has it natively, else fp16 with a gradient scaler),
  channels_last; the loss is computed in fp32;
* one optimiser updates every seed's parameters at once. Adam and SGD are elementwise, so one
  optimiser over K networks is K independent optimisers;
* the loss is summed on the device and read once per epoch (no host sync inside the step).

**K seeds batched** (``strategy``): ``'loop'`` runs the K networks one after the other inside
each step (one pass over the data, one optimiser, one checkpoint); ``'stacked'`` stacks their
parameters (``torch.func.stack_module_state``) and runs them as one vmapped network, so a GPU
sees K times larger kernels; BatchNorm statistics stay per seed either way. Both give the
per-seed results of K separate runs (``tests/test_train.py``); ``make bench`` measures their
speed (on 2 CPU cores ``'loop'`` is the faster, hence the default there).

Checkpoints (``checkpoint=path``): written atomically after every epoch, with a fingerprint of
everything that changes the result (data, labels, augmentation, architecture and initial
weights, recipe including epochs, seeds, strategy, precision); a checkpoint with another
fingerprint is an error, never silently resumed or extended.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.losses import nt_xent, supcon
from helpers.pipeline import SpeedSettings, make_optimizer, maybe_compile

LOSSES = ("simclr", "supcon", "ce")
STRATEGIES = ("loop", "stacked")


@dataclass(frozen=True)
class Recipe:
    """How to train. Units: epochs over the training set, images per batch (per seed).

    ``alt_prob``: each time an image is drawn, it is replaced by its alternative (``train``'s
    ``alt_images``, e.g. its background re-drawn) with this probability: a mitigation by
    augmentation (Chapter 7).
    """

    loss: str  # 'simclr' (NT-Xent, no labels) | 'supcon' | 'ce' (needs a classifier)
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float  # L2 on every weight (Adam's and SGD's weight_decay)
    optimizer: str = "adam"  # 'adam' | 'adamw' | 'sgd' (momentum 0.9)
    temperature: float = 0.5  # NT-Xent / SupCon tau
    alt_prob: float = 0.0

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; use one of {', '.join(LOSSES)}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "epochs" else 2):
                raise ValueError(f"{name} must be an int >= {0 if name == 'epochs' else 2}, got {v!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if not 0.0 <= self.alt_prob <= 1.0:
            raise ValueError(f"alt_prob must lie in [0, 1], got {self.alt_prob!r}")


# --------------------------------------------------------------------------- the step


def _views(loss: str, augment, x: torch.Tensor, generator) -> torch.Tensor:
    """A batch as stored (B, C, H, W) -> the network's input: (B, 3, H', W') for 'ce', else
    (2B, 3, H', W'), both views of each image, concatenated (they share BatchNorm statistics)."""
    if loss == "ce":
        return augment(x, generator=generator)
    v1, v2 = augment.two_views(x, generator=generator)
    return torch.cat([v1, v2])


def objective(forward: Callable, recipe: Recipe, views: torch.Tensor, y, settings: SpeedSettings
              ) -> torch.Tensor:
    """The loss of one seed's step: ``forward(views) -> (h, z, logits)``; 0-dim fp32 tensor."""
    if settings.channels_last and views.ndim == 4:
        views = views.contiguous(memory_format=torch.channels_last)
    with torch.autocast(views.device.type, dtype=settings.amp_dtype or torch.float32,
                        enabled=settings.amp_dtype is not None):
        _, z, logits = forward(views)  # z (V*B, p), logits (V*B, k) or None
    if recipe.loss == "ce":
        return F.cross_entropy(logits.float(), y)
    z = z.float()  # normalise, logits and softmax in fp32
    b = len(z) // 2
    if recipe.loss == "simclr":
        return nt_xent(z[:b], z[b:], temperature=recipe.temperature)
    loss = supcon(torch.stack([z[:b], z[b:]], dim=1), y, recipe.temperature)  # (B, 2, p)
    # 0 * logits keeps an untrained classifier in the graph (DDP wants a gradient for all)
    return loss if logits is None else loss + 0.0 * logits.float().sum()


class Trainer:
    """K networks (one per seed), one optimiser, one step for all: ``step(batches, labels)``.

    ``batches[k]`` is seed k's batch as stored (B, C, H, W) and ``labels[k]`` its (B,) labels
    (None for SimCLR); ``generators[k]`` draws seed k's views. Returns the K losses, (K,)
    detached on the device. ``on_views(views, labels)`` runs the same update on views made
    elsewhere (the benchmark's DataLoader baseline).
    """

    def __init__(self, nets: Sequence[nn.Module], recipe: Recipe, augment, generators,
                 *, settings: SpeedSettings, strategy: str = "loop", ddp: bool = False):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
        self.nets, self.recipe, self.augment = list(nets), recipe, augment
        self.generators, self.settings, self.strategy = list(generators), settings, strategy
        for net in self.nets:
            net.train()
            if settings.channels_last:
                net.to(memory_format=torch.channels_last)
        if strategy == "stacked":
            from torch.func import functional_call, stack_module_state, vmap

            self.params, self.buffers = stack_module_state(self.nets)  # {name: (K, ...)}
            base = copy.deepcopy(self.nets[0]).to("meta")

            def one(p, b, views, y):
                return objective(lambda v: functional_call(base, (p, b), (v,)), recipe, views,
                                 y, settings)

            y_dim = None if recipe.loss == "simclr" else 0
            self._loss = maybe_compile(vmap(one, in_dims=(0, 0, 0, y_dim)), settings.compile)
            trainable = list(self.params.values())
        else:
            self.forwards = [_ddp(n) if ddp else n for n in self.nets]
            self._loss = maybe_compile(objective, settings.compile)
            trainable = [p for n in self.nets for p in n.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(trainable, recipe.optimizer, lr=recipe.lr,
                                        weight_decay=recipe.weight_decay,
                                        fused=settings.fused_optimizer)
        self.scaler = torch.amp.GradScaler("cuda", enabled=settings.amp_dtype == torch.float16)

    def on_views(self, views: Sequence[torch.Tensor], labels: Sequence) -> torch.Tensor:
        """One update on given per-seed views; returns the (K,) detached losses."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.strategy == "stacked":
            y = None if self.recipe.loss == "simclr" else torch.stack(list(labels))
            losses = self._loss(self.params, self.buffers, torch.stack(list(views)), y)  # (K,)
            self.scaler.scale(losses.sum()).backward()
        else:
            out = []
            for forward, v, y in zip(self.forwards, views, labels):
                loss = self._loss(forward, self.recipe, v, y, self.settings)
                self.scaler.scale(loss).backward()  # seed by seed: one graph alive at a time
                out.append(loss.detach())
            losses = torch.stack(out)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return losses.detach()

    def step(self, batches: Sequence[torch.Tensor], labels: Sequence) -> torch.Tensor:
        views = [_views(self.recipe.loss, self.augment, x, g)
                 for x, g in zip(batches, self.generators)]  # per seed (V*B, 3, H', W')
        return self.on_views(views, labels)

    def sync_networks(self) -> None:
        """Copy the stacked parameters back into the K networks (no-op for 'loop')."""
        if self.strategy != "stacked":
            return
        with torch.no_grad():
            for k, net in enumerate(self.nets):
                state = {n: t[k] for n, t in {**self.params, **self.buffers}.items()}
                net.load_state_dict(state)

    def state(self) -> dict:
        self.sync_networks()
        return {"nets": [n.state_dict() for n in self.nets],
                "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                "generators": [g.get_state() for g in self.generators]}

    def load_state(self, state: dict) -> None:
        for net, sd in zip(self.nets, state["nets"]):
            net.load_state_dict(sd)
        if self.strategy == "stacked":
            with torch.no_grad():
                for k, net in enumerate(self.nets):
                    for n, t in {**dict(net.named_parameters()), **dict(net.named_buffers())}.items():
                        (self.params if n in self.params else self.buffers)[n][k].copy_(t)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        for g, s in zip(self.generators, state["generators"]):
            g.set_state(s)


# --------------------------------------------------------------------------- the loop


def _ddp(net: nn.Module) -> nn.Module:
    """``net`` wrapped in DistributedDataParallel on its own device (gradients averaged)."""
    device = next(net.parameters()).device
    return nn.parallel.DistributedDataParallel(
        net, device_ids=[device.index] if device.type == "cuda" else None)


def _dist() -> tuple[int, int, bool]:
    """(rank, world_size, initialised?) of torch.distributed (Chapter 7 under torchrun)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size(), True
    return 0, 1, False


def default_strategy(device: torch.device, n_seeds: int) -> str:
    """'loop' on a CPU (measured faster there, ``make bench``) or for one seed; on a GPU the
    environment variable ``BOOK_SEED_STRATEGY`` may choose 'stacked'."""
    chosen = os.environ.get("BOOK_SEED_STRATEGY", "").strip() or "loop"
    if chosen not in STRATEGIES:
        raise ValueError(f"BOOK_SEED_STRATEGY must be one of {', '.join(STRATEGIES)}, got {chosen!r}")
    return "loop" if n_seeds == 1 else chosen


def _check_inputs(nets, images, labels, alt_images, recipe, seeds, world: int) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (n, C, H, W) tensor, got {shape}")
    n = len(images)
    if len(nets) < 1 or len(nets) != len(seeds):
        raise ValueError(f"need one network per seed, got {len(nets)} networks and seeds {seeds!r}")
    if recipe.loss != "simclr":
        if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"loss {recipe.loss!r} needs labels, a ({n},) integer tensor; got "
                             f"{getattr(labels, 'shape', labels)} {getattr(labels, 'dtype', '')}")
    if recipe.loss == "ce" and any(getattr(net, "classifier", None) is None for net in nets):
        raise ValueError("loss='ce' needs networks with a classifier, e.g. "
                         "Network(encoder, head, nn.Linear(head.out_dim, n_classes))")
    if recipe.alt_prob > 0 and (alt_images is None or alt_images.shape != images.shape):
        raise ValueError(f"alt_prob > 0 needs alt_images of the images' shape {tuple(images.shape)}")
    if recipe.batch_size > n or recipe.batch_size // world < 2:
        raise ValueError(f"batch_size must be in [2, n_images={n}] (and give >= 2 images to each "
                         f"of {world} ranks), got {recipe.batch_size}; lower it or use more images")


def _tensor_digest(h, t: torch.Tensor | None) -> None:
    if t is not None:
        h.update(f"{tuple(t.shape)} {t.dtype}".encode())
        t = t.detach().cpu().contiguous().reshape(-1)  # 1-D: 0-dim tensors cannot be viewed
        h.update(t.view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool
                 else t.numpy().tobytes())


def fingerprint(nets, images, labels, alt_images, augment, recipe: Recipe, seeds, strategy: str,
                settings: SpeedSettings) -> str:
    """A hash of everything that changes a run's result (see the module docstring); hex, 16."""
    h = hashlib.sha256()
    for t in (images, labels, alt_images):
        _tensor_digest(h, t)
    for net in nets:
        h.update(repr(net).encode())
        for t in net.state_dict().values():  # the initial weights: architecture and init
            _tensor_digest(h, t)
    spec = {"recipe": asdict(recipe), "seeds": list(seeds), "augment": repr(augment),
            "strategy": strategy, "amp": str(settings.amp_dtype)}
    h.update(json.dumps(spec, sort_keys=True).encode())
    return h.hexdigest()[:16]


def load_checkpoint(path: Path, fingerprint: str) -> dict | None:
    """Read a training checkpoint with ``weights_only=True``; None when absent.

    Raises:
        RuntimeError: the file is damaged or belongs to another run (other data, augmentation,
            network, recipe or number of epochs): delete it to train from scratch. It is never
            silently ignored, resumed or extended.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged archive
        raise RuntimeError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); "
                           "delete it to train from scratch") from err
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise RuntimeError(f"checkpoint {path} was written by a different run (other data, "
                           "augmentation, network, recipe or epochs); delete it or choose "
                           "another checkpoint path")
    return state


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomic write (:func:`helpers.result_files.atomic_target`): a unique temporary file in the
    target folder, fsynced, then renamed over ``path``; removed if anything fails."""
    from helpers.result_files import atomic_target

    with atomic_target(path) as tmp:
        torch.save(state, tmp)


def train(nets: nn.Module | Sequence[nn.Module], images: torch.Tensor, recipe: Recipe, augment,
          *, seeds: int | Sequence[int], labels: torch.Tensor | None = None,
          alt_images: torch.Tensor | None = None, device="cpu", checkpoint: Path | None = None,
          desc: str = "training", progress: bool = True, speed: SpeedSettings | None = None,
          strategy: str | None = None, on_epoch_end: Callable[[int], None] | None = None
          ) -> list[dict]:
    """Train K networks, one per seed, together; returns one history per seed.

    Args:
        nets: one :class:`helpers.models.Network` (or any module returning ``(h, z, logits)``)
            per seed, each already initialised (build it after ``seed_everything(seed)``).
        images: (n, C, H, W), uint8 or float; moved to ``device`` once, as stored. ``augment``
            gets batches as stored: ``forward(x, generator)`` (for 'ce') and
            ``two_views(x, generator)`` (for 'simclr' / 'supcon').
        recipe: loss, epochs, batch, optimiser (:class:`Recipe`).
        seeds: one int per network: its data order and views come from ``Generator(seed)``.
        labels: (n,) int64, for 'supcon' and 'ce'. alt_images: see :class:`Recipe`.
        checkpoint: if given, saved after every epoch and resumed from (same fingerprint only).
        speed: the fast path's switches (default ``SpeedSettings.for_device(device)``).
        strategy: 'loop' or 'stacked' (default :func:`default_strategy`).
        on_epoch_end: ``f(epoch)`` after each epoch, the networks in eval mode.

    Returns:
        ``[{"loss": [mean loss per epoch], "epochs_run": int}]``, one per seed; the networks
        are trained in place and left in eval mode.

    Raises:
        ValueError: bad shapes, labels, batch size, strategy or recipe; RuntimeError: a
            checkpoint that is damaged or from another run.
    """
    nets = [nets] if isinstance(nets, nn.Module) else list(nets)
    seeds = [seeds] if isinstance(seeds, int) else [int(s) for s in seeds]
    rank, world, distributed = _dist()
    _check_inputs(nets, images, labels, alt_images, recipe, seeds, world)
    if distributed and len(nets) > 1:
        raise ValueError("under torch.distributed train one seed at a time")
    device = torch.device(device)
    speed = SpeedSettings.for_device(device) if speed is None else speed
    strategy = strategy or default_strategy(device, len(nets))
    for net in nets:
        net.to(device)
    fp = (fingerprint(nets, images, labels, alt_images, augment, recipe, seeds, strategy, speed)
          if checkpoint else None)
    data = images.to(device)  # uint8 stays uint8: the augmentation makes floats on the device
    alt = alt_images.to(device) if alt_images is not None else None
    y_all = labels.to(device) if labels is not None else None
    gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]
    trainer = Trainer(nets, recipe, augment, gens, settings=speed, strategy=strategy,
                      ddp=distributed)
    history, start = [[] for _ in nets], 0
    state = load_checkpoint(checkpoint, fp) if checkpoint else None
    if state is not None:
        trainer.load_state(state)
        history, start = state["history"], state["epoch"]
    n, b = len(data), recipe.batch_size
    steps = n // b  # full batches only: contrastive losses and BatchNorm want them
    bar = tqdm(range(start, recipe.epochs), desc=desc, initial=start, total=recipe.epochs,
               disable=not progress or rank != 0, leave=False)
    for epoch in bar:
        orders = [torch.randperm(n, device=device, generator=g) for g in gens]
        swaps = [torch.rand(n, device=device, generator=g) < recipe.alt_prob if alt is not None
                 else None for g in gens]
        total = torch.zeros(len(nets), device=device)
        for i in range(steps):
            idx = [o[i * b:(i + 1) * b][rank::world] for o in orders]  # (B,) per seed
            batches = [data[j] if s is None else torch.where(s[j, None, None, None], alt[j], data[j])
                       for j, s in zip(idx, swaps)]
            total += trainer.step(batches, [None if y_all is None else y_all[j] for j in idx])
        for h, v in zip(history, (total / max(steps, 1)).tolist()):  # the epoch's one sync
            h.append(v)
        bar.set_postfix(loss=" ".join(f"{h[-1]:.3f}" for h in history[:4]))
        if checkpoint and rank == 0:
            save_checkpoint(checkpoint, {**trainer.state(), "history": history,
                                         "epoch": epoch + 1, "fingerprint": fp})
        if on_epoch_end is not None:
            trainer.sync_networks()
            for net in nets:
                net.eval()
            on_epoch_end(epoch + 1)
            for net in nets:
                net.train()
    trainer.sync_networks()
    for net in nets:
        net.eval()
    return [{"loss": h, "epochs_run": recipe.epochs - start} for h in history]
