"""Real MNIST digits as overlay masks (Part III, the gpu/paper version of digits-on-images).

Reads the four standard IDX files where ``torchvision.datasets.MNIST`` puts them::

    root/MNIST/raw/{train,t10k}-images-idx3-ubyte[.gz]
    root/MNIST/raw/{train,t10k}-labels-idx1-ubyte[.gz]

IDX format (LeCun et al.): a big-endian header ``0x00 0x00 <type> <ndim>`` (type ``0x08`` =
unsigned byte), then ``ndim`` big-endian uint32 sizes, then the data. Images are (n, 28, 28),
labels (n,). ``download=True`` fetches the files with torchvision (needs a network); otherwise a
missing file raises a ``FileNotFoundError`` that says how to get it. The offline stand-in is
:func:`helpers.data.overlay.digit_masks` (scikit-learn's bundled 8x8 digits).
"""

from __future__ import annotations

import gzip
import numbers
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def mnist_raw_folder(root) -> Path:
    """``root/MNIST/raw``, torchvision's layout."""
    return Path(root).expanduser() / "MNIST" / "raw"


def read_idx(path) -> np.ndarray:
    """One IDX file (plain or ``.gz``) as a uint8 array of the shape its header states.

    Raises:
        ValueError: not an unsigned-byte IDX file, or truncated (fewer bytes than the header says).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            blob = f.read()
    except (OSError, EOFError) as err:  # a damaged .gz raises BadGzipFile (an OSError) or EOFError
        raise ValueError(f"{path} cannot be read ({type(err).__name__}: {err}); delete it and "
                         "download MNIST again") from err
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (its first bytes are "
                         f"{blob[:4].hex() or 'missing'}, expected 000008xx); delete it and "
                         "download MNIST again")
    ndim = blob[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape)) if shape else 0
    if len(blob) < header + size:
        raise ValueError(f"{path} is truncated: its header says {shape} ({size} bytes of data) but "
                         f"it holds {max(len(blob) - header, 0)}; delete it and download again")
    return np.frombuffer(blob, dtype=np.uint8, count=size, offset=header).reshape(shape)


def load_mnist(root, split: str = "train", download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST's training (60,000) or test (10,000) digits.

    Returns:
        (images ``(n, 28, 28) uint8``, labels ``(n,) int64`` in 0..9).

    Raises:
        ValueError: split not 'train'/'test', files in the wrong format, images that are not
            28 x 28, or images and labels that disagree in number.
        FileNotFoundError: a file is missing and ``download=False``.
        OSError: ``download=True`` and the download failed.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = mnist_raw_folder(root)
    paths = [_find(folder, name) for name in _FILES[split]]
    if any(p is None for p in paths) and download:
        import torchvision.datasets as tvd
        try:
            tvd.MNIST(str(Path(root).expanduser()), train=(split == "train"), download=True)
        except Exception as err:  # network errors come in many types
            raise OSError(f"downloading MNIST into {root} failed ({err}); see the "
                          "FileNotFoundError's advice for getting it by hand") from err
        paths = [_find(folder, name) for name in _FILES[split]]
    missing = [name for name, p in zip(_FILES[split], paths) if p is None]
    if missing:
        raise FileNotFoundError(
            f"MNIST file not found: {folder / missing[0]}[.gz]"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + ". To get it, call again with download=True where a network exists (e.g. Colab), "
            f"or copy the four standard IDX files (train/t10k images-idx3 and labels-idx1, plain "
            f"or .gz) into {folder}; set BOOK_DATA_DIR to use another root. Offline, use "
            "digits='sklearn' (helpers.data.overlay.digit_masks).")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST {split} files in {folder} disagree: images {images.shape}, "
                         f"labels {labels.shape} (expected (n, 28, 28) and (n,)); delete them "
                         "and download again")
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{paths[0]} holds images of {images.shape[1]} x {images.shape[2]} "
                         "pixels, not MNIST's 28 x 28; it is another data set or corrupted: "
                         "delete it and download MNIST again")
    if labels.size and labels.max() > 9:
        raise ValueError(f"MNIST labels in {paths[1]} run up to {labels.max()}, not 0..9; the file "
                         "is corrupted: delete it and download again")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def mnist_digit_masks(n: int, seed: int, size: int = 32, split: str = "train", root=None,
                      download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` MNIST digit masks ``(n, size, size)`` float32 in [0, 1] and digits ``(n,)`` int64.

    Same contract as :func:`helpers.data.overlay.digit_masks`: digits drawn with replacement by
    ``seed`` from the ``split`` (so train and test masks never share an original). The 28x28
    digit is resized to ``round(28 * size / 32)`` (28 at size 32: unchanged) and zero-padded to
    the centre of the ``size x size`` frame, as MNIST-on-CIFAR pads 28 to 32.

    Raises:
        TypeError: n or size not an int. ValueError: n < 1, size < 8, or as
            :func:`load_mnist`; FileNotFoundError / OSError as :func:`load_mnist`.
    """
    from helpers.data.registry import data_root

    for name, value, low in (("n", n, 1), ("size", size, 8)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int >= {low}, got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {name}={value}")
    n, size = int(n), int(size)
    images, labels = load_mnist(data_root() if root is None else root, split, download)
    pick = torch.from_numpy(np.random.default_rng(seed).integers(0, len(images), size=n))
    digits = images[pick].float().div(255)[:, None]  # (n, 1, 28, 28)
    inner = max(1, round(28 * size / 32))
    if digits.shape[-2:] != (inner, inner):
        digits = F.interpolate(digits, size=(inner, inner), mode="bilinear", align_corners=False)
    before = (size - inner) // 2
    digits = F.pad(digits, (before, size - inner - before, before, size - inner - before))
    return digits[:, 0].clamp(0, 1), labels[pick]


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None
