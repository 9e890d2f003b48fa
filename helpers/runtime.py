"""Device, seeding and the first cell every chapter runs (``helpers.setup()``)."""

from __future__ import annotations

import os
import platform
import random
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm.std import tqdm as std_tqdm

from helpers.profiles import Profile, get_profile

#: ``text``: plain text progress bars (the book's build sets it, see scripts/build_book.py);
#: ``auto`` (the default): ``tqdm.auto``, live widgets in Jupyter and Colab, text elsewhere.
ENV_PROGRESS = "BOOK_PROGRESS"
PROGRESS_MODES = ("auto", "text")


def progress_mode() -> str:
    """``$BOOK_PROGRESS`` (``auto`` when unset or empty).

    Raises:
        ValueError: a value other than ``auto`` or ``text``.
    """
    mode = os.environ.get(ENV_PROGRESS, "").strip().lower() or "auto"
    if mode not in PROGRESS_MODES:
        raise ValueError(f"{ENV_PROGRESS}={os.environ[ENV_PROGRESS]!r}: expected one of {PROGRESS_MODES}")
    return mode


def configure_progress_bars() -> str:
    """Apply :func:`progress_mode`; return it. Called by ``helpers/__init__.py`` before any module
    that does ``from tqdm.auto import tqdm`` is imported.

    A built page has no kernel, so a widget bar there is an empty box that needs require.js and
    the widget manager from a CDN. In ``text`` mode ``tqdm.auto.tqdm`` becomes :class:`TextBar`,
    one line of text per finished bar, whatever kernel runs the chapter.
    """
    mode = progress_mode()
    if mode == "text":
        import tqdm.auto

        tqdm.auto.tqdm, tqdm.auto.trange = TextBar, text_trange
    return mode


class TextBar(std_tqdm):
    """tqdm's text bar, written once: its final state when it closes (nothing for ``leave=False``).

    A page shows a cell's stderr as it was captured; myst-nb puts each ``\\r`` update of a live
    bar on a line of its own, so a page would show every intermediate state.
    """

    def display(self, msg=None, pos=None):
        if getattr(self, "_final", False) and msg is None:
            return super().display(msg, pos)
        return False  # an intermediate state, or the clearing of a leave=False bar: nothing

    def close(self):
        self._final = True
        super().close()


def text_trange(*args, **kwargs) -> TextBar:
    """``trange`` for :class:`TextBar`."""
    return TextBar(range(*args), **kwargs)


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or ``prefer``), else CPU. Never hard-wires ``.cuda()``."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name for the figure captions, e.g. 'NVIDIA H100' or 'CPU (2 cores)'."""
    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a fresh ``torch.Generator`` seeded with ``seed``.

    Raises:
        ValueError: seed is not a non-negative int.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(int(seed))


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the book's checkout (with '+dirty' when files are modified), or None."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of the packages that change results."""
    import matplotlib
    import sklearn

    import helpers

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "scikit-learn": sklearn.__version__,
           "matplotlib": matplotlib.__version__, "helpers": helpers.__version__}
    try:
        import torchvision

        out["torchvision"] = torchvision.__version__
    except ImportError:  # torchvision is needed only for the real-data loaders
        pass
    return out


def setup(profile: str | None = None, verbose: bool = True) -> Profile:
    """First call of every chapter: pick the profile, set the plot style, print the machine.

    Returns the :class:`~helpers.profiles.Profile` in force.
    """
    from helpers.plots import use_book_style

    prof = get_profile(profile)
    use_book_style()
    if verbose:
        v = versions()
        print(f"profile : {prof.name} - {prof.description}")
        print(f"device  : {device_name()}")
        print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
        print(f"commit  : {git_commit() or 'not a git checkout'}")
    return prof
