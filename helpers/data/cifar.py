"""Real CIFAR-10 / CIFAR-100, read from CIFAR's own python pickles (torchvision's folder layout).

Layout under ``root``::

    cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}
    cifar-100-python/{train, test, meta}

Each batch is a pickled dict with ``data`` (``(n, 3072) uint8``, rows are R, G, B planes of
32x32) and ``labels`` (CIFAR-10) or ``fine_labels`` and ``coarse_labels`` (CIFAR-100). The
original files were written by Python 2, so their keys load as ``bytes`` or ``str`` depending
on the unpickler's encoding; both are accepted. ``download=True`` fetches missing files with
torchvision (needs a network), then the pickles are read here.

A pickle can run code when it is loaded, so a file is read only after two checks: its md5 must
be the one the CIFAR site publishes (:data:`PUBLISHED_MD5`, the sums torchvision checks), and
the unpickler admits only what CIFAR's files hold (dicts, lists, strings, numbers and numpy
arrays); anything else is refused with a message that says how to get the real files.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
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

# md5 of every file of the python versions, as published by the CIFAR site (and checked by
# torchvision.datasets.CIFAR10 / CIFAR100).
PUBLISHED_MD5 = {
    "cifar10": {"data_batch_1": "c99cafc152244af753f735de768cd75f",
                "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                "data_batch_4": "634d18415352ddfa80567beed471001a",
                "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                "test_batch": "40351d587109b95175f43aff81a1287e",
                "batches.meta": "5ff9c542aee3614f3951f8cda6e48888"},
    "cifar100": {"train": "16019d7e3df5f24257cddd939b257f8d",
                 "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
                 "meta": "7973b15100ade9c7d40fb424638fde48"},
}

# The only globals CIFAR's pickles name: numpy's array reconstruction (Python 2 era and numpy 2
# module paths) and the codec protocol 2 uses for bytes. Nothing here can run other code.
_ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
})


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
    return _names(_read_pickle(folder / "meta", "cifar100"), "coarse_label_names",
                  folder / "meta")


def _load(name: str, root, train: bool, download: bool) -> ImageSet:
    spec = _SPECS[name]
    batches = spec["train" if train else "test"]
    folder = _ensure_files(name, Path(root).expanduser(), batches + [spec["meta"]], download)
    classes = _names(_read_pickle(folder / spec["meta"], name), spec["names"],
                     folder / spec["meta"])
    data, labels, coarse = [], [], []
    for batch in batches:
        path = folder / batch
        entry = _read_pickle(path, name)
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


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds only what CIFAR's files hold (see ``_ALLOWED_GLOBALS``)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"it names {module}.{name}, which CIFAR's files never hold; refused without "
                "running it (a crafted pickle can run code when loaded)")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core."):]  # numpy 2's path, no warning
        return super().find_class(module, name)


@lru_cache(maxsize=64)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    """md5 of one file (cached per path, size and modification time: a batch is 30 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _how_to_get(name: str, folder: Path) -> str:
    return (f"Delete {folder} and get the real files: call again with download=True where a "
            f"network exists (torchvision checks the same sums), or download "
            f"{_SPECS[name]['url']} and extract it so that {folder} exists")


def _verify(path: Path, name: str) -> None:
    """Refuse a file whose md5 is not the one CIFAR publishes for it."""
    expected = PUBLISHED_MD5[name].get(path.name)
    st = os.stat(path)
    actual = _md5(str(path), st.st_size, st.st_mtime_ns)
    if expected is None or actual != expected:
        title = _SPECS[name]["title"]
        what = (f"has md5 {actual}, not the published {expected}: it was altered, truncated "
                "or corrupted" if expected else f"is not one of {title}'s files")
        raise ValueError(f"{path} {what}, so it is not read (a pickle can run code). "
                         + _how_to_get(name, path.parent) + ".")


def _read_pickle(path: Path, name: str) -> dict:
    """A verified CIFAR pickle as a dict with ``str`` keys (Python 2 files give ``bytes`` keys otherwise).

    Raises:
        ValueError: the md5 is not the published one, or the file names something CIFAR's files
            never hold, or it is not a pickled dict.
    """
    _verify(path, name)
    try:
        with open(path, "rb") as f:
            entry = _CifarUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path} is corrupted or not a CIFAR python pickle ({err}). "
                         + _how_to_get(name, path.parent) + ".") from err
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
    labels = np.asarray(entry[key])
    if labels.size and labels.dtype.kind not in "iu":  # 1.7 must not become class 1
        raise ValueError(f"{path}: {key!r} must hold integer class indices, got "
                         f"{labels.dtype} values such as {labels.ravel()[:3].tolist()}; the file "
                         "is corrupted or not CIFAR: delete it and download again")
    labels = labels.astype(np.int64).ravel()
    if labels.shape != (n,):
        raise ValueError(f"{path}: {n} images but {labels.size} {key!r}; the file is corrupted "
                         "or truncated: delete it and download again")
    return labels


def _names(meta: dict, key: str, path: Path) -> list[str]:
    if key not in meta:
        raise ValueError(f"{path} has no {key!r} entry (keys: {sorted(meta)}); delete it and "
                         "download again")
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in meta[key]]
