"""Real CIFAR-10 / CIFAR-100, read from CIFAR's own python pickles (torchvision's folder layout).

Layout under ``root``::

    cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    cifar-100-python/{train, test, meta}

Each batch is a pickled dict with ``data`` (``(n, 3072) uint8``, rows are R, G, B planes of
32x32) and ``labels`` (CIFAR-10) or ``fine_labels`` and ``coarse_labels`` (CIFAR-100). The
original files were written by Python 2, so their keys load as ``bytes`` or ``str`` depending
on the unpickler's encoding; both are accepted. ``download=True`` fetches missing files with
torchvision (needs a network), then the pickles are read here.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from helpers.data.registry import ImageSet

_ROW = 3 * 32 * 32
_SPECS = {
    "cifar10": {
        "title": "CIFAR-10", "folder": "cifar-10-batches-py", "meta": "batches.meta",
        "train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"],
        "labels": "labels", "names": "label_names",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    },
    "cifar100": {
        "title": "CIFAR-100", "folder": "cifar-100-python", "meta": "meta",
        "train": ["train"], "test": ["test"],
        "labels": "fine_labels", "names": "fine_label_names",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    },
}


def load_cifar10(root, train: bool = True, download: bool = False) -> ImageSet:
    """CIFAR-10's training (50,000) or test (10,000) images.

    Returns:
        ImageSet: images ``(n, 3, 32, 32) uint8``, labels ``(n,) int64`` in 0..9, classes from
        ``batches.meta``.

    Raises:
        FileNotFoundError: a file is missing and ``download=False`` (the message names it).
        ValueError: a file is corrupted, truncated or not in CIFAR's format.
        OSError: ``download=True`` but the download failed (no network?).
    """
    return _load("cifar10", root, train, download)


def load_cifar100(root, train: bool = True, download: bool = False) -> ImageSet:
    """CIFAR-100's training (50,000) or test (10,000) images.

    Returns:
        ImageSet: images ``(n, 3, 32, 32) uint8``, labels = fine labels ``(n,) int64`` in
        0..99, ``extra['coarse']`` the 20 superclass labels ``(n,) int64``; classes are the
        fine names from ``meta`` (coarse names: :func:`cifar100_coarse_classes`).

    Raises:
        FileNotFoundError, ValueError, OSError: as :func:`load_cifar10`.
    """
    return _load("cifar100", root, train, download)


def cifar100_coarse_classes(root, download: bool = False) -> list[str]:
    """The 20 CIFAR-100 superclass names (``coarse_label_names`` in ``meta``).

    Raises:
        FileNotFoundError, ValueError, OSError: as :func:`load_cifar10`.
    """
    folder = _ensure_files("cifar100", Path(root).expanduser(), ["meta"], download)
    return _names(_read_pickle(folder / "meta"), "coarse_label_names", folder / "meta")


def _load(name: str, root, train: bool, download: bool) -> ImageSet:
    spec = _SPECS[name]
    batches = spec["train" if train else "test"]
    folder = _ensure_files(name, Path(root).expanduser(), batches + [spec["meta"]], download)
    classes = _names(_read_pickle(folder / spec["meta"]), spec["names"], folder / spec["meta"])
    data, labels, coarse = [], [], []
    for batch in batches:
        path = folder / batch
        entry = _read_pickle(path)
        rows = _rows(entry, path)
        data.append(rows)
        labels.append(_labels(entry, spec["labels"], len(rows), path))
        if name == "cifar100":
            coarse.append(_labels(entry, "coarse_labels", len(rows), path))
    labels = np.concatenate(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"{spec['title']} labels in {folder} run outside 0..{len(classes) - 1}, "
                         "the classes in the meta file; the files are corrupted or mixed up: "
                         "delete the folder and download again")
    images = torch.from_numpy(np.concatenate(data).reshape(-1, 3, 32, 32).copy())
    extra = {"coarse": torch.from_numpy(np.concatenate(coarse))} if coarse else {}
    return ImageSet(images, torch.from_numpy(labels), classes, spec["title"], extra)


def _ensure_files(name: str, root: Path, files: list[str], download: bool) -> Path:
    """The data folder, after checking (and with ``download`` fetching) ``files`` in it."""
    spec = _SPECS[name]
    folder = root / spec["folder"]
    missing = [folder / f for f in files if not (folder / f).is_file()]
    if missing and download:
        import torchvision.datasets as tvd

        cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
        try:
            cls(str(root), train=True, download=True)
        except Exception as err:  # network errors come in many types
            raise OSError(f"downloading {spec['title']} into {root} failed ({err}). Without a "
                          f"network, download {spec['url']} elsewhere and extract it so that "
                          f"{folder} exists, or use the offline stand-in "
                          "load_image_set('shapes', ...)") from err
        missing = [folder / f for f in files if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{spec['title']} file not found: {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f". To get the data, call again with download=True where a network exists (e.g. "
            f"Colab), or download {spec['url']} and extract it so that {folder} holds "
            f"{', '.join(files)}, or use the offline stand-in load_image_set('shapes', ...).")
    return folder


def _read_pickle(path: Path) -> dict:
    """A CIFAR pickle as a dict with ``str`` keys (Python 2 files give ``bytes`` keys otherwise)."""
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except Exception as err:  # truncated or foreign files raise many kinds of errors
        raise ValueError(f"{path} is corrupted or not a CIFAR python pickle "
                         f"({type(err).__name__}: {err}); delete it and download again") from err
    if not isinstance(entry, dict):
        raise ValueError(f"{path} should hold a pickled dict (CIFAR's format), got "
                         f"{type(entry).__name__}; delete it and download again")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _rows(entry: dict, path: Path) -> np.ndarray:
    """``data`` as ``(n, 3072) uint8``."""
    if "data" not in entry:
        raise ValueError(f"{path} has no 'data' entry (keys: {sorted(entry)}); it is not a CIFAR "
                         "batch or is corrupted: delete it and download again")
    data = np.asarray(entry["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        raise ValueError(f"{path}: 'data' must be (n, {_ROW}) uint8 (each row one 3x32x32 "
                         f"image), got {data.shape} {data.dtype}; the file is corrupted or "
                         "truncated: delete it and download again")
    return data


def _labels(entry: dict, key: str, n: int, path: Path) -> np.ndarray:
    if key not in entry:
        raise ValueError(f"{path} has no {key!r} entry (keys: {sorted(entry)}); it is not the "
                         "expected CIFAR file: delete it and download again")
    labels = np.asarray(entry[key], dtype=np.int64).ravel()
    if labels.shape != (n,):
        raise ValueError(f"{path}: {n} images but {labels.size} {key!r}; the file is corrupted "
                         "or truncated: delete it and download again")
    return labels


def _names(meta: dict, key: str, path: Path) -> list[str]:
    if key not in meta:
        raise ValueError(f"{path} has no {key!r} entry (keys: {sorted(meta)}); delete it and "
                         "download again")
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta[key]]
