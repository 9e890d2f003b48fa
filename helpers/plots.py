"""One figure style for the whole book, and the caption every result figure carries."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from helpers.layers import label as layer_label

# Colour-blind-safe palette (Okabe-Ito), in the order chapters use it.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_book_style() -> None:
    """Set the rcParams once (called by ``helpers.setup()``)."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.8), "figure.dpi": 110, "savefig.dpi": 150,
        "savefig.bbox": "tight", "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.alpha": 0.3, "axes.prop_cycle": mpl.cycler(color=PALETTE),
        "font.size": 10, "axes.titlesize": 11, "legend.frameon": False,
    })


def provenance_caption(provenance: Mapping, extra: str = "") -> str:
    """'profile cpu | data: ... | device: ... | seed 0' plus ``extra`` (e.g. the network)."""
    text = (f"profile {provenance['profile']} | data: {provenance['data_source']} | "
            f"device: {provenance['device']} | seed {provenance['seed']}")
    return f"{text} | {extra}" if extra else text


def add_caption(fig: plt.Figure, text: str) -> None:
    """Write the provenance under the axes, so a saved figure still says where it came from."""
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=7.5, color="0.35", wrap=True)


def plot_layer_accuracy(layers: Sequence[str], runs: np.ndarray, *, ax=None, label=None,
                        chance: float | None = None, highlight: int | None = None,
                        color=None):
    """Probe accuracy per layer: mean over runs as a line, each run as a faint dot.

    Args:
        layers: layer names, bottom to top.
        runs: (n_runs, n_layers) accuracies in [0, 1].
        chance: draw the chance level as a dashed line.
        highlight: index of the layer to mark (e.g. the encoder output, before the head).
    """
    runs = np.atleast_2d(np.asarray(runs, dtype=float))
    if runs.shape[1] != len(layers):
        raise ValueError(f"runs has {runs.shape[1]} columns but there are {len(layers)} layers")
    ax = ax or plt.gca()
    x = np.arange(len(layers))
    mean = runs.mean(axis=0)
    line, = ax.plot(x, 100 * mean, marker="o", label=label, color=color, zorder=3)
    if len(runs) > 1:
        lo, hi = runs.min(axis=0), runs.max(axis=0)
        ax.fill_between(x, 100 * lo, 100 * hi, color=line.get_color(), alpha=0.18, lw=0)
    for r in runs:
        ax.scatter(x, 100 * r, s=10, color=line.get_color(), alpha=0.45, zorder=2)
    if chance is not None:
        ax.axhline(100 * chance, ls="--", color="0.5", lw=1)
        ax.text(x[-1], 100 * chance, " chance", va="bottom", ha="right", fontsize=8, color="0.4")
    if highlight is not None:
        ax.axvline(highlight, color="0.75", lw=6, alpha=0.35, zorder=0)
    ax.set_xticks(x, [layer_label(n) for n in layers], rotation=20, ha="right")
    ax.set_ylabel("linear-probe test accuracy (%)")
    return ax


def show_image_rows(rows: Mapping[str, "torch.Tensor"], titles: Sequence[str] = (),
                    caption: str = ""):
    """A grid of images, one row per entry of ``rows`` (label -> (n, 3, H, W) in [0, 1] or uint8).

    Used to show images next to their augmented views. Returns the figure.
    """
    labels = list(rows)
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(labels), n, figsize=(n, 1.05 * len(labels)), squeeze=False)
    for r, label in enumerate(labels):
        batch = rows[label]
        batch = batch if batch.dtype.is_floating_point else batch.float() / 255
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(batch[c].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(label, fontsize=8)
    for c, title in enumerate(titles):
        axes[0, c].set_title(title, fontsize=8)
    if caption:
        add_caption(fig, caption)
    return fig
