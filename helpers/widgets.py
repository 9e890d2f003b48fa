"""Interactive explorers for the chapters, with a static figure for the rendered page.

A chapter describes what to draw once, as ``draw(axes, **values)`` (matplotlib axes, one
keyword per control), and gets two views of it:

* :func:`explorer` - ipywidgets sliders that redraw the figure in a live notebook (Jupyter,
  Colab). A built page has no kernel behind it, so the chapter tags that cell ``remove-output``.
* :func:`static_panels` - the same drawing at a few chosen settings, one row each: the figure
  the rendered page shows, and what a reader without ipywidgets sees.

Used from the chapter "Expansion and shrinkage" on (``expansion.cell_drawer``).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt

Draw = Callable[..., None]


def _check(draw, controls: Mapping[str, Sequence], n_axes: int) -> None:
    if not callable(draw):
        raise TypeError(f"draw must be callable as draw(axes, **values), got {type(draw).__name__}")
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls must be a non-empty mapping {name: sequence of values}")
    for name, values in controls.items():
        if isinstance(values, (str, bytes)) or len(values) == 0:
            raise ValueError(f"control {name!r} needs a non-empty sequence of values, got {values!r}")
    if isinstance(n_axes, bool) or not isinstance(n_axes, int) or n_axes < 1:
        raise ValueError(f"n_axes must be an int >= 1, got {n_axes!r}")


def _figure(n_rows: int, n_axes: int, panel_size: tuple[float, float]):
    fig, axes = plt.subplots(n_rows, n_axes, squeeze=False,
                             figsize=(panel_size[0] * n_axes, panel_size[1] * n_rows))
    return fig, axes


def static_panels(draw: Draw, settings: Sequence[Mapping], *, n_axes: int = 1,
                  panel_size: tuple[float, float] = (4.6, 3.3), caption: str = ""):
    """``draw`` at each of ``settings`` (dicts of control values), one row of ``n_axes`` panels each.

    Returns the matplotlib Figure.

    Raises:
        TypeError: draw not callable. ValueError: no settings, or n_axes < 1.
    """
    if not settings:
        raise ValueError("settings must list at least one {name: value} dict to draw")
    _check(draw, {k: [v] for k, v in settings[0].items()} or {"_": [0]}, n_axes)
    fig, axes = _figure(len(settings), n_axes, panel_size)
    for row, values in zip(axes, settings):
        draw(row if n_axes > 1 else row[0], **values)
    fig.tight_layout()
    if caption:
        from helpers.plots import add_caption

        add_caption(fig, caption)
    return fig


def explorer(draw: Draw, controls: Mapping[str, Sequence], *, n_axes: int = 1,
             panel_size: tuple[float, float] = (4.6, 3.3), initial: Mapping | None = None,
             description: str = ""):
    """Sliders over ``controls`` ({name: values}) that redraw ``draw(axes, **values)``.

    Each control is a ``SelectionSlider`` over its listed values (so a chapter can offer exactly
    the grid it computed, and the explorer never needs to recompute). Returns the widget
    (display it as the cell's last expression), or None when ipywidgets is not installed, in
    which case it says so and draws the initial setting once.

    Raises:
        TypeError: draw not callable. ValueError: empty controls, a control without values,
            an initial value not among a control's values, or n_axes < 1.
    """
    _check(draw, controls, n_axes)
    start = {name: list(values)[0] for name, values in controls.items()}
    for name, value in (initial or {}).items():
        if name not in controls or value not in list(controls[name]):
            raise ValueError(f"initial value {name}={value!r} is not one of the control's values")
        start[name] = value
    try:
        import ipywidgets as W
    except ImportError:
        print("ipywidgets is not installed (pip install ipywidgets); showing one setting instead.")
        static_panels(draw, [start], n_axes=n_axes, panel_size=panel_size)
        plt.show()
        return None

    sliders = {name: W.SelectionSlider(options=list(values), value=start[name], description=name,
                                       continuous_update=False,
                                       layout=W.Layout(width="420px"))
               for name, values in controls.items()}
    out = W.Output()

    def redraw(*_):
        with out:
            out.clear_output(wait=True)
            static_panels(draw, [{k: s.value for k, s in sliders.items()}], n_axes=n_axes,
                          panel_size=panel_size)
            plt.show()

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    header = [W.HTML(f"<b>{description}</b>")] if description else []
    return W.VBox(header + list(sliders.values()) + [out])
