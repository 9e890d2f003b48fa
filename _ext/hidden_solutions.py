"""Sphinx extension (``_config.yml``: ``sphinx.local_extensions``): ``hide_solutions`` for gated
solutions too.

sphinx-exercise's ``hide_solutions: true`` (``make book-public``, a course's public site) drops
a ``{solution}`` directive, but for a gated one (``{solution-start}`` ... cells ...
``{solution-end}``, the chapters' code solutions) it drops only the start: the cells in between
stay on the page and the lone end node crashes the HTML writer. Here the gated solution is
assembled as usual, then every solution is removed from the page before sphinx-exercise
registers its label. With ``hide_solutions`` false this changes nothing.
"""

from __future__ import annotations

from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_node


class GatedSolutionStart(SolutionStartDirective):
    """``solution-start`` that always makes its node, so the gated content can be merged into it."""

    def run(self):
        config = self.env.app.config
        hidden, config.hide_solutions = config.hide_solutions, False
        try:
            return super().run()
        finally:
            config.hide_solutions = hidden


def drop_solutions(app, doctree) -> None:
    """With ``hide_solutions``, remove every (merged) solution from the page."""
    if not app.config.hide_solutions:
        return
    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for node in list(doctree.findall(solution_node)):
        registry.pop(node.get("label"), None)
        node.parent.remove(node)


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_directive("solution-start", GatedSolutionStart, override=True)
    app.connect("doctree-read", drop_solutions, priority=400)  # before sphinx-exercise's (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
