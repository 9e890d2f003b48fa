"""Files that are written whole and moved aside safely, even with several processes at once.

Used by :mod:`helpers.results`. A writer writes a unique temporary file in the target folder and
renames it over the target (``os.replace``, atomic on one filesystem): a reader sees the old file
or the new one, never half of one, and two writers never share a temporary name, so neither's
rename can fail for the other's. A reader reads a file once (with the identity of the file it
read), and a damaged file is moved aside only if it is still the one that was read, under a
name no other copy has.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

ENV_DIR = "BOOK_RESULTS_DIR"


class ResultsDirError(OSError):
    """The results folder cannot be written (found before anything is computed)."""


def check_writable(folder: Path) -> None:
    """Make ``folder`` (and parents) and prove a file can be written there.

    Raises:
        ResultsDirError: it cannot be made or written (read-only, a file in the way, ...).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ResultsDirError(
            f"the results folder {folder} is not writable ({type(err).__name__}: "
            f"{err.strerror or err}); nothing was computed. Set {ENV_DIR} to a writable "
            f"folder (now {os.environ.get(ENV_DIR) or 'unset'}), or fix its permissions") from err


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what a plain open() would give (mkstemp gives 0o600)


@contextlib.contextmanager
def atomic_target(path: Path):
    """A unique temporary path next to ``path`` to write; renamed over ``path`` on success.

    ``with atomic_target(ckpt) as tmp: torch.save(state, tmp)``. Readers see the old file or
    the new one, never half of one; two writers never share a temporary file, so neither's
    rename can fail for the other's (the last rename wins). On an exception the temporary file
    is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before it replaces the old file
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):  # not every filesystem has modes
            os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole, through :func:`atomic_target`."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_with_identity(path: Path) -> tuple[bytes, tuple]:
    """The bytes of ``path`` and the identity of the file they came from (one open)."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        return f.read(), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def identity(path: Path) -> tuple:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def quarantine_name(path: Path) -> Path:
    """A fresh name to move a damaged ``path`` aside to: ``<name>.corrupt-<UTC time>-<random>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    while True:
        bad = path.with_name(f"{path.name}.corrupt-{stamp}-{secrets.token_hex(4)}")
        if not bad.exists():
            return bad


def quarantine(path: Path, err: Exception, read_identity: tuple) -> None:
    """Move the damaged file aside, unless a concurrent writer has replaced it since it was read."""
    bad = quarantine_name(path)
    try:
        os.replace(path, bad)
    except FileNotFoundError:
        return  # another process moved it aside (or is replacing it) already
    except OSError as move_err:
        warnings.warn(f"{err}. It could not be moved aside ({move_err}); ignoring it and "
                      "recomputing.", RuntimeWarning, stacklevel=5)
        return
    if identity(bad) != read_identity:
        # A writer replaced the damaged file between our read and the move: that file is a
        # whole new result, so put it back (unless an even newer one is there already).
        try:
            os.link(bad, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem
            with contextlib.suppress(OSError):
                os.replace(bad, path)
            return
        with contextlib.suppress(OSError):
            os.unlink(bad)
        return
    warnings.warn(f"{err}. Moved it to {bad} and recomputing; delete it once you have looked.",
                  RuntimeWarning, stacklevel=5)
