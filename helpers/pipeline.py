"""The fast path's switches for the one training engine (:mod:`helpers.train`).

What makes it fast on a GPU; each switch is one field of :class:`SpeedSettings`:

* **data on the device as uint8**: the whole training set is moved once (CIFAR-10's 50,000
  images are 150 MB as uint8, 4x that as float); a batch is indexed and turned into floats on
  the device, so no ``DataLoader`` and no host-to-device copy per step.
* **augmentations batched on the device** with per-image random parameters
  (:mod:`helpers.augment`, torchvision's distributions; ``tests/test_pipeline.py``).
* **autocast** for the network (CUDA: bf16 where the GPU has it natively, else fp16 with a
  gradient scaler); the loss is computed in fp32.
* **channels_last** memory format for the convolutions (CUDA: tensor cores want NHWC).
* **torch.compile** of the network + loss, optional, with a clean fallback to eager mode
  when compiling fails (no compiler, unsupported platform): a warning, never a crash.
* **fused optimiser** (CUDA): one kernel for the whole parameter update.
* **no host-device synchronisation inside the step**: the loss is summed on the device and
  read (``.item()``) once per epoch; nothing in the augmentations calls ``.item()``.

On a CPU every switch is off by default, and the step is then exactly the plain loop
(views, network, loss, ``zero_grad``, ``backward``, ``step``). ``helpers.bench`` measures the speed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Callable

import torch


ENV_COMPILE = "BOOK_COMPILE"  # "1": torch.compile the step where it can (default off)


@dataclass(frozen=True)
class SpeedSettings:
    """The fast path's switches (see the module docstring); :meth:`for_device` picks them."""

    amp_dtype: torch.dtype | None  # autocast dtype of the network forward (loss in fp32); None: fp32
    channels_last: bool  # NHWC memory format for model and inputs
    compile: bool  # torch.compile the network + loss, falling back to eager on failure
    fused_optimizer: bool  # fused Adam/AdamW/SGD kernel (CUDA only)

    @classmethod
    def for_device(cls, device: torch.device | str, compile: bool | None = None) -> "SpeedSettings":
        """All on for CUDA, all off on CPU; ``compile`` defaults to ``$BOOK_COMPILE`` (off).

        The autocast dtype is :func:`autocast_dtype`'s: bf16 only where the GPU has it in
        hardware. Compiling costs about a minute before the first step, worth it for a long
        run only, hence off by default; ``make bench`` turns it on for its compiled row.
        """
        device = torch.device(device)
        cuda = device.type == "cuda"
        if compile is None:
            compile = os.environ.get(ENV_COMPILE, "") not in ("", "0")
        return cls(amp_dtype=autocast_dtype(device), channels_last=cuda,
                   compile=bool(compile) and cuda, fused_optimizer=cuda)

    @classmethod
    def plain(cls) -> "SpeedSettings":
        """Every switch off: the reference loop (fp32, contiguous, eager, unfused)."""
        return cls(amp_dtype=None, channels_last=False, compile=False, fused_optimizer=False)


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision dtype for ``device``: bf16 on GPUs with native bf16 (compute
    capability >= 8: A100, H100, ...), fp16 on older GPUs such as Colab's T4 (sm 7.5, where
    torch would emulate bf16 slowly; the engine then scales the loss), None (fp32) on a CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


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


def maybe_compile(fn: Callable, enabled: bool, *, name: str = "training step") -> Callable:
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
