"""The fast SimCLR training step every chapter trains with (``helpers.train.train_simclr``).

What makes it fast on a GPU; each switch is one field of :class:`SpeedSettings`:

* **data on the device as uint8**: the whole training set is moved once (CIFAR-10's 50,000
  images are 150 MB as uint8, 4x that as float); a batch is indexed and turned into floats on
  the device, so no ``DataLoader`` and no host-to-device copy per step.
* **augmentations batched on the device** with per-image random parameters
  (:mod:`helpers.augment`, torchvision's distributions; ``tests/test_pipeline.py``).
* **bf16 autocast** for the network (CUDA); the loss is computed in fp32.
* **channels_last** memory format for the convolutions (CUDA: tensor cores want NHWC).
* **torch.compile** of the network + loss, optional, with a clean fallback to eager mode
  when compiling fails (no compiler, unsupported platform): a warning, never a crash.
* **fused optimiser** (CUDA): one kernel for the whole parameter update.
* **no host-device synchronisation inside the step**: the loss is summed on the device and
  read (``.item()``) once per epoch; nothing in the augmentations calls ``.item()``.

On a CPU every switch is off by default, and the step is then exactly the plain loop
(two views, encoder, head, NT-Xent, ``zero_grad``, ``backward``, ``step``), so results computed
before this module existed are reproduced bit for bit. ``helpers.bench`` measures the speed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from helpers.losses import nt_xent

ENV_COMPILE = "BOOK_COMPILE"  # "1": torch.compile the step where it can (default off)


@dataclass(frozen=True)
class SpeedSettings:
    """The fast path's switches (see the module docstring); :meth:`for_device` picks them."""

    autocast_bf16: bool  # network forward in bfloat16 (loss in fp32)
    channels_last: bool  # NHWC memory format for model and inputs
    compile: bool  # torch.compile the network + loss, falling back to eager on failure
    fused_optimizer: bool  # fused Adam/AdamW/SGD kernel (CUDA only)

    @classmethod
    def for_device(cls, device: torch.device | str, compile: bool | None = None) -> "SpeedSettings":
        """All on for CUDA, all off on CPU; ``compile`` defaults to ``$BOOK_COMPILE`` (off).

        Compiling costs about a minute before the first step, worth it for a long run only,
        hence off by default; ``make bench`` turns it on for its compiled pipeline row.
        """
        cuda = torch.device(device).type == "cuda"
        if compile is None:
            compile = os.environ.get(ENV_COMPILE, "") not in ("", "0")
        return cls(autocast_bf16=cuda, channels_last=cuda, compile=bool(compile) and cuda,
                   fused_optimizer=cuda)

    @classmethod
    def plain(cls) -> "SpeedSettings":
        """Every switch off: the reference loop (fp32, contiguous, eager, unfused)."""
        return cls(autocast_bf16=False, channels_last=False, compile=False, fused_optimizer=False)


def make_optimizer(params, name: str, *, lr: float, weight_decay: float, fused: bool = False,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """``'adam'`` (L2 weight decay, as SimCLR reproductions), ``'adamw'`` or ``'sgd'``.

    ``fused=True`` asks PyTorch for its single-kernel update (CUDA parameters only).

    Raises:
        ValueError: an unknown optimiser name.
    """
    params = list(params)
    kw = {"fused": True} if fused else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kw)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum, **kw)
    raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {name!r}")


def maybe_compile(fn: Callable, enabled: bool, *, name: str = "SimCLR step") -> Callable:
    """``torch.compile(fn)`` if ``enabled``, falling back to ``fn`` when compiling fails.

    Compilation happens at the first call, so the fallback wraps that call: if it raises, a
    ``RuntimeWarning`` names the error and ``fn`` (eager) is used from then on. Errors are
    caught only on that first call; later ones are real errors and propagate.
    """
    if not enabled:
        return fn
    try:
        compiled = torch.compile(fn)
    except Exception as err:  # e.g. unsupported Python / platform
        warnings.warn(f"torch.compile is unavailable for the {name} ({type(err).__name__}: {err}); "
                      "running eagerly", RuntimeWarning, stacklevel=2)
        return fn
    state = {"fn": None}

    def call(*args, **kwargs):
        if state["fn"] is not None:
            return state["fn"](*args, **kwargs)
        try:
            out = compiled(*args, **kwargs)
            state["fn"] = compiled
            return out
        except Exception as err:  # compilation errors surface at the first call
            warnings.warn(f"torch.compile failed for the {name} ({type(err).__name__}: "
                          f"{str(err)[:300]}); running eagerly", RuntimeWarning, stacklevel=2)
            state["fn"] = fn
            return fn(*args, **kwargs)

    call.is_compiled = lambda: state["fn"] is compiled  # for reports: did compiling work?
    return call


class SimCLRStep:
    """One SimCLR optimisation step: two views, encoder, head, NT-Xent, backward, update.

    ``step(batch, generator) -> loss`` where ``batch`` is ``(B, 3, H, W)`` uint8 (or float in
    [0, 1]) on the device; it returns the batch's loss as a detached 0-dim device tensor (no
    ``.item()``: the caller sums it on the device). ``step.on_views(v1, v2)`` runs the same
    update on views made elsewhere (the benchmark's DataLoader baseline, the parity test).

    Args:
        encoder: images ``(2B, 3, H', W')`` -> h ``(2B, d)``. head: h -> z ``(2B, p)``.
        augment: has ``two_views(x, generator) -> (v1, v2)``, each ``(B, 3, H', W')``.
        optimizer: over the encoder's and head's parameters.
        temperature: NT-Xent's tau. settings: :class:`SpeedSettings`.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, augment, optimizer,
                 *, temperature: float, settings: SpeedSettings) -> None:
        self.encoder, self.head, self.augment = encoder, head, augment
        self.optimizer, self.temperature, self.settings = optimizer, temperature, settings
        if settings.channels_last:
            encoder.to(memory_format=torch.channels_last)
        self._loss = maybe_compile(self._views_loss, settings.compile)

    def _views_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        """The part ``torch.compile`` sees: network forward and loss, () fp32 tensor."""
        b = v1.shape[0]
        x = torch.cat([v1, v2])  # (2B, 3, H, W): both views share BatchNorm statistics
        if self.settings.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16,
                            enabled=self.settings.autocast_bf16):
            z = self.head(self.encoder(x))  # (2B, p)
        z = z.float()  # the loss (normalise, 2B x 2B logits, softmax) in fp32; no-op when fp32
        return nt_xent(z[:b], z[b:], temperature=self.temperature)

    def on_views(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        """One update on given views ``(B, 3, H, W)`` float; returns the detached loss."""
        loss = self._loss(v1, v2)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        x = batch.float().div_(255) if batch.dtype == torch.uint8 else batch  # on the device
        v1, v2 = self.augment.two_views(x, generator=generator)  # (B, 3, H', W') each
        return self.on_views(v1, v2)

    @property
    def compiled(self) -> bool:
        """Whether the network + loss actually runs compiled (False before the first step)."""
        return bool(getattr(self._loss, "is_compiled", lambda: False)())


def run_epoch(step: Callable, data: torch.Tensor, batch_size: int,
              generator: torch.Generator | None) -> tuple[torch.Tensor, int]:
    """One pass over ``data`` (n, 3, H, W) in a random order, in full batches only.

    The order comes from ``generator`` (on ``data``'s device), then each batch's views too.
    Returns ``(summed loss as a 0-dim device tensor, number of steps)``: the caller reads the
    sum once (``.item()``), which is the epoch's only host-device synchronisation.
    """
    order = torch.randperm(len(data), device=data.device, generator=generator)
    steps = len(data) // batch_size  # drop the last partial batch: NT-Xent wants full batches
    total = torch.zeros((), device=data.device)
    for i in range(steps):
        total += step(data[order[i * batch_size:(i + 1) * batch_size]], generator)
    return total, steps
