"""The book's shared package: every chapter imports what it runs from here.

Modules (each has one job; the chapter that uses it is named in its docstring):
``profiles`` run sizes, ``runtime`` device/seeding/setup, ``results`` cached results with
provenance (``result_files`` its atomic, concurrency-safe file handling), ``plots`` the figure style, ``losses``, ``heads``, ``models``, ``augment``,
``probes``, ``data``, ``train``, ``checks`` (exercise auto-checks), ``experiments``.
"""

__version__ = "0.1.0"
#: Marks this package as the book's: the Colab install cell checks it, because other packages
#: and a reader's own ``helpers.py`` share the name (``helpers.meta.PACKAGE``).
BOOK_PACKAGE = "projection-head-book"

from helpers.profiles import get_profile  # noqa: E402
from helpers.runtime import configure_progress_bars, setup  # noqa: E402

configure_progress_bars()  # before any module imports tqdm.auto's bar ($BOOK_PROGRESS)

__all__ = ["BOOK_PACKAGE", "__version__", "get_profile", "setup"]
