"""Image sets for every chapter: one ``ImageSet`` type, one ``load_image_set`` entry point.

``procedural`` the offline CIFAR-10 stand-in (shapes with colour and texture cues), ``digits``
scikit-learn's bundled handwritten digits, ``cifar`` the real CIFAR-10/100 pickles,
``registry`` the ``ImageSet`` container and the name -> loader table, ``features`` Part I's
synthetic feature model, ``overlay`` digits blended over images and the DropDigit augmentation.
"""

from helpers.data.cifar import cifar100_coarse_classes, load_cifar10, load_cifar100
from helpers.data.digits import base_digit_indices, make_digits, split_digits
from helpers.data.features import FeatureModel
from helpers.data.overlay import DropDigit, check_drop_digit, digit_masks, overlay, with_mask_channel
from helpers.data.procedural import make_shapes
from helpers.data.registry import DATA_NAMES, ImageSet, data_root, load_image_set

__all__ = [
    "DATA_NAMES", "DropDigit", "FeatureModel", "check_drop_digit", "ImageSet", "base_digit_indices", "digit_masks",
    "overlay", "with_mask_channel", "cifar100_coarse_classes", "data_root",
    "load_cifar10", "load_cifar100", "load_image_set", "make_digits", "make_shapes",
    "split_digits",
]
