"""Where the book lives: the single source of the repository URL and branch.

``scripts/stamp_notebooks.py`` writes these into every chapter's Colab install cell and into
``_config.yml`` (``repository.url`` / ``repository.branch``); ``--check`` verifies they agree.
Change them here, then run ``make stamp``.
"""

REPO_URL = "https://github.com/projection-head-book/projection-head-book"
BRANCH = "main"

#: Cell tag that marks each chapter's install cell (always its first code cell).
INSTALL_TAG = "colab-install"


def pip_spec(repo_url: str = REPO_URL, branch: str = BRANCH) -> str:
    """The pip requirement that installs the book's ``helpers`` from the repository."""
    return f"git+{repo_url}@{branch}"
