"""Where the book lives: the single source of the repository URL, branch and released version.

The package's own identity, for a reader's install and for anything that points back at the
repository. ``scripts/stamp_notebooks.py`` (book tooling) writes these into every chapter's
Colab install cell and into ``_config.yml`` (``repository.url`` / ``repository.branch``);
``--check`` verifies they agree. Change them here, then run ``make stamp``.

``RELEASE`` is the git tag a chapter's install cell installs, so a course's notebook keeps the
code it was written against instead of whatever ``main`` holds on the day a student runs it. It
is ``v`` + the package version (``pyproject.toml`` and ``helpers.__version__``;
``tests/test_colab_install.py`` keeps the three equal): bump the version, run ``make stamp``,
and push to ``main``: the publishing workflow's ``release`` job tags the first commit that carries
the new version ``v<version>`` once its book has built (``scripts/tag_release.py``; an existing tag
is never moved).
"""

REPO_URL = "https://github.com/projection-head-book/projection-head-book"
BRANCH = "main"
VERSION = "0.1.0"
RELEASE = f"v{VERSION}"
#: The distribution name; ``helpers.BOOK_PACKAGE`` carries it so the install cell can tell the
#: book's ``helpers`` from another package or file of that name (PyPI has a ``helpers``).
PACKAGE = "projection-head-book"
