"""Real-data loaders for Chapter 7: UrbanCars (Li et al. 2023) as released, and ImageFolder-style
shifted test sets (ImageNet-R, ImageNet-A, the Backgrounds Challenge).

UrbanCars layout (the authors' generator ``create_datasets/urbancars/gen_urbancars.py`` and
``urbancars_aug_gen_bg_only.py``; read by their ``dataset/urbancars.py`` and
``dataset/urbancars_aug.py``)::

    ROOT/bg-0.95_co_occur_obj-0.95/train/
    ROOT/bg-0.5_co_occur_obj-0.5/{val,test}/
        obj-{urban,country}_bg-{urban,country}_co_occur_obj-{urban,country}/
            NNN.jpg                    the image (the only file read as an image)
            NNN_mask.png               the car's mask
            NNN_co_occur_obj_mask.png  the co-occurring object's mask
            NNN_bg_only.png            train only: the background with car and object painted out

The masks are written by torchvision's ``save_image`` (three equal channels); they are read as
one grey channel. The Last Layer Ensemble's swaps are composited from them
(:func:`helpers.data.urbancars.swap_cues`), as the authors' ``UrbanCarsAug`` does.

Nothing is downloaded: the data are generated with the code at
https://github.com/facebookresearch/Whac-A-Mole (``create_datasets/urbancars``) from Stanford
Cars, Places365 and LVIS. Point ``root`` (or ``$BOOK_DATA_DIR/urbancars``) at the result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from helpers.data.registry import ImageSet, data_root
from helpers.data.urbancars import CLASSES, group_index

URBANCARS_SPLIT_DIRS = {"train": "bg-0.95_co_occur_obj-0.95/train",
                        "val": "bg-0.5_co_occur_obj-0.5/val",
                        "test": "bg-0.5_co_occur_obj-0.5/test"}
TYPES = ("urban", "country")
HOW_TO_GET = ("generate UrbanCars with the scripts in https://github.com/facebookresearch/"
              "Whac-A-Mole (create_datasets/urbancars) and pass its folder as root")
BACKGROUNDS_CLASSES = ("dog", "bird", "wheeled vehicle", "reptile", "carnivore", "insect",
                       "musical instrument", "primate", "fish")  # ImageNet-9, folders 00_..08_
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")  # ImageNet-R / -A, the Backgrounds Challenge
URBANCARS_IMAGE = ".jpg"  # UrbanCars: only NNN.jpg are images; the .png files are masks
MASK_SUFFIXES = {"car_mask": "_mask.png", "obj_mask": "_co_occur_obj_mask.png"}
BG_ONLY_SUFFIX = "_bg_only.png"


def urbancars_folder(obj: int, bg: int, coobj: int) -> str:
    """Folder name of one group, e.g. ``obj-urban_bg-country_co_occur_obj-urban``."""
    return f"obj-{TYPES[obj]}_bg-{TYPES[bg]}_co_occur_obj-{TYPES[coobj]}"


def read_image(path: Path, size: int | None) -> np.ndarray:
    """(3, H, W) uint8 RGB of one file; resized to (size, size) when ``size`` is given.

    Raises:
        ValueError: the file is not an RGB image (e.g. grayscale, RGBA, CMYK), cannot be read,
            or is larger than PIL allows (a decompression bomb); the message names the file.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # refuses images over 2 * Image.MAX_IMAGE_PIXELS
            if im.mode != "RGB":
                raise ValueError(f"{path}: image mode {im.mode!r}, expected 'RGB'; convert it "
                                 "(PIL: im.convert('RGB')) or regenerate the data")
            if size is not None:
                im = im.resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: {err}; an image this large is not from the data set (or is "
                         "damaged): delete or replace it") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    return arr.transpose(2, 0, 1)


def _stack(paths: list, size: int | None) -> torch.Tensor:
    arrays = [read_image(p, size) for p in paths]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"images differ in size {sorted(shapes)[:3]}; pass size=... to resize "
                         "them all to one size")
    return torch.from_numpy(np.stack(arrays)) if arrays else torch.zeros((0, 3, 1, 1), dtype=torch.uint8)


def read_mask(path: Path, size: int | None) -> np.ndarray:
    """(H, W) uint8 coverage (0 = outside, 255 = inside) of one mask file, resized like the
    images. The authors' masks are RGB files with three equal channels; read as grey.

    Raises:
        ValueError: the file cannot be read; the message names it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("L")
            if size is not None:
                im = im.resize((size, size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: {err}; a mask this large is not from the data set") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{path}: not a readable mask ({err})") from err


def _companion(image: Path, suffix: str) -> Path:
    """``.../NNN.jpg`` -> ``.../NNN<suffix>`` (e.g. ``NNN_mask.png``)."""
    return image.with_name(image.stem + suffix)


def _read_companions(paths: list, suffix: str, size: int | None, what: str,
                     rgb: bool = False) -> torch.Tensor:
    missing = [p for p in paths if not _companion(p, suffix).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} UrbanCars images have no {what} file "
                                f"(*{suffix}), e.g. {_companion(missing[0], suffix)}; the "
                                f"authors' generator writes one per image. {HOW_TO_GET}")
    if rgb:
        return _stack([_companion(p, suffix) for p in paths], size)
    arrays = [read_mask(_companion(p, suffix), size) for p in paths]
    if len({a.shape for a in arrays}) > 1:
        raise ValueError(f"{what} files differ in size; pass size=... to resize them all")
    return torch.from_numpy(np.stack(arrays))


def _images_in(folder: Path) -> list:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def load_urbancars(root, split: str, size: int | None = None, masks: bool = True) -> ImageSet:
    """One split of the released UrbanCars: the ``NNN.jpg`` images and, with ``masks``, what
    the generator writes next to each (module docstring).

    Returns:
        ImageSet with labels 0 urban / 1 country car and ``extra`` 'bg', 'coobj', 'group'
        (as :func:`helpers.data.urbancars.make_urbancars`); with ``masks`` also 'car_mask' and
        'obj_mask' (n, H, W) uint8 (from ``NNN_mask.png`` and ``NNN_co_occur_obj_mask.png``)
        and, when the split has them (train), 'bg_only' (n, 3, H, W) uint8.

    Raises:
        ValueError: unknown split; an image of the wrong mode or, without ``size``, of a
            different size; a group folder without images (the message names it); some but not
            all images with a ``_bg_only.png``.
        FileNotFoundError: the split's folder or one of its 8 group folders is missing, or
            (``masks``) an image's mask file (the message names it and says how to get the data).
    """
    if split not in URBANCARS_SPLIT_DIRS:
        raise ValueError(f"split must be one of {tuple(URBANCARS_SPLIT_DIRS)}, got {split!r}")
    root = Path(root) if root is not None else data_root() / "urbancars"
    base = root / URBANCARS_SPLIT_DIRS[split]
    if not base.is_dir():
        raise FileNotFoundError(f"UrbanCars folder {base} is missing; {HOW_TO_GET}")
    paths, cues = [], []
    for obj in (0, 1):
        for bg in (0, 1):
            for co in (0, 1):
                folder = base / urbancars_folder(obj, bg, co)
                if not folder.is_dir():
                    raise FileNotFoundError(f"UrbanCars group folder {folder} is missing (the "
                                            f"{split} split needs all 8); {HOW_TO_GET}")
                # only NNN.jpg: the NNN_*.png next to them are masks, not images
                files = sorted(p for p in folder.iterdir() if p.suffix == URBANCARS_IMAGE)
                if not files:  # its group's metrics would be undefined (or silently missing)
                    raise ValueError(f"UrbanCars group folder {folder} holds no images "
                                     f"(*{URBANCARS_IMAGE}); every group of the {split} split "
                                     f"needs some. Regenerate the data: {HOW_TO_GET}")
                paths += files
                cues += [(obj, bg, co)] * len(files)
    images = _stack(paths, size)
    c = torch.tensor(cues, dtype=torch.int64)
    extra = {"bg": c[:, 1].clone(), "coobj": c[:, 2].clone(),
             "group": group_index(c[:, 0], c[:, 1], c[:, 2])}
    if masks:
        for key, suffix in MASK_SUFFIXES.items():
            extra[key] = _read_companions(paths, suffix, size, key.replace("_", " "))
        have_bg = [_companion(p, BG_ONLY_SUFFIX).is_file() for p in paths]
        if any(have_bg) and not all(have_bg):
            raise ValueError(f"{have_bg.count(False)} of {len(paths)} UrbanCars {split} images "
                             f"have no *{BG_ONLY_SUFFIX}; run the authors' "
                             "urbancars_aug_gen_bg_only.py on the whole split")
        if all(have_bg):
            extra["bg_only"] = _read_companions(paths, BG_ONLY_SUFFIX, size, "background-only",
                                                rgb=True)
    return ImageSet(images, c[:, 0].clone(), list(CLASSES), f"UrbanCars ({split})", extra)


def load_wnid_folder(root, wnids=None, size: int = 64, name: str = "ImageNet-R") -> ImageSet:
    """ImageNet-R / ImageNet-A: ``root/<wnid>/*.jpg`` over a 200-class subset of ImageNet.

    Labels index ``wnids`` (default: the sorted folder names found), i.e. the 200-way head's
    order; pass the list your classifier uses so labels line up with its outputs.

    Raises:
        FileNotFoundError: root missing. ValueError: a folder not in ``wnids``, no images,
            a bad image.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name} folder {root} is missing; download {name} and extract "
                                "it there (one folder per WordNet id)")
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    wnids = list(found if wnids is None else wnids)
    unknown = sorted(set(found) - set(wnids))
    if unknown:
        raise ValueError(f"{name}: folders {unknown[:5]} are not in the given wnids list "
                         f"({len(wnids)} classes); pass the classifier's full list")
    paths, labels = [], []
    for w in found:
        files = _images_in(root / w)
        paths += files
        labels += [wnids.index(w)] * len(files)
    if not paths:
        raise ValueError(f"{name}: no images under {root}")
    return ImageSet(_stack(paths, size), torch.tensor(labels, dtype=torch.int64), wnids, name)


def load_backgrounds_challenge(root, variant: str = "mixed_rand", size: int = 64) -> ImageSet:
    """The Backgrounds Challenge (Xiao et al. 2021): ``root/<variant>/val/NN_<class>/*``, 9
    ImageNet-9 classes labelled by their two-digit prefix (00 dog .. 08 fish).

    Raises:
        FileNotFoundError: the variant's folder is missing. ValueError: a class folder without
            a two-digit prefix in 00..08, no images, a bad image.
    """
    base = Path(root) / variant / "val"
    if not base.is_dir():
        raise FileNotFoundError(f"Backgrounds Challenge folder {base} is missing; download the "
                                "bg_challenge archive and extract it under root")
    paths, labels = [], []
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        prefix = folder.name.split("_", 1)[0]
        if not (prefix.isdigit() and 0 <= int(prefix) < len(BACKGROUNDS_CLASSES)):
            raise ValueError(f"{folder}: expected a class folder named NN_<name> with NN in "
                             "00..08 (ImageNet-9)")
        files = _images_in(folder)
        paths += files
        labels += [int(prefix)] * len(files)
    if not paths:
        raise ValueError(f"no images under {base}")
    return ImageSet(_stack(paths, size), torch.tensor(labels, dtype=torch.int64),
                    list(BACKGROUNDS_CLASSES), f"Backgrounds Challenge ({variant})")
