"""Where the book lives: the single source of the repository URL and branch.

The package's own identity, for a reader's install and for anything that points back at the
repository. ``scripts/stamp_notebooks.py`` (book tooling) writes these into every chapter's
Colab install cell and into ``_config.yml`` (``repository.url`` / ``repository.branch``);
``--check`` verifies they agree. Change them here, then run ``make stamp``.
"""

REPO_URL = "https://github.com/projection-head-book/projection-head-book"
BRANCH = "main"
