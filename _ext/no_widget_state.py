"""Sphinx extension (``_config.yml``: ``sphinx.local_extensions``): no ipywidgets state on the pages.

myst-nb embeds a notebook's saved widget state (``metadata.widgets``) in its page, with
require.js and the widget manager loaded from a CDN, even when every widget output is removed
(the explorers' cells are tagged ``remove-output``: a built page has no kernel; the page shows
their static panels instead). Chapter 4's state alone was 138 of its 268 KiB, and offline the
CDN scripts fail. A built page here never shows a live widget (progress bars are text in the
build, ``helpers.runtime``), so this drops the state and those scripts from every page.
"""

from __future__ import annotations

WIDGET_KEYS = "ipywidgets"  # myst-nb's keys: 'ipywidgets_state', 'ipywidgets_0', 'ipywidgets_1', ...


def drop_widget_state(app, pagename, *args) -> None:
    """Before myst-nb adds a page's scripts (priority 500), remove its widget entries."""
    pages = getattr(app.env, "nb_metadata", None) or {}
    scripts = pages.get(pagename, {}).get("js_files", {})
    for key in [k for k in scripts if k.startswith(WIDGET_KEYS)]:
        del scripts[key]


def setup(app):
    app.connect("html-page-context", drop_widget_state, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
