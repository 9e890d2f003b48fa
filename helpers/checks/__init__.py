"""Auto-checks for the exercises: compare a student's function with a reference.

Used from the chapters as ``from helpers import checks; checks.check_nt_xent(my_nt_xent)``.
:mod:`helpers.checks.core` holds the machinery every check shares (seeded cases, messages
that name the case, the time limit, refusing the book's own implementation); each chapter's
checks live in their own module, named like its experiment, and are re-exported here:

========================  ===================================================================
``puzzle``                Chapter 1: ``check_nt_xent``
``feature_weighting``     Chapter 2: ``check_optimal_gains``, ``check_spectral``
``lower_layer``           Chapter 3: ``check_ridge_simulation``, ``check_loo_ridge``
``expansion``             Chapter 4: ``check_expansion_measure``
``nonlinear``             Chapter 5: ``check_sign_keeping_net``, ``check_null_fraction``,
                          ``check_gap_map``
``class_collapse``        Chapter 6: ``check_positive_mask``, ``check_fine_gap``,
                          ``check_coarse_accuracy``, ``check_supcon``
``shortcuts``             Chapter 7: ``check_shortcut_metrics``, ``check_lle_mixture``
``reweighting``           Chapter 8: ``check_fixed_head``, ``check_encoder_gains``,
                          ``check_choose_kappa``
========================  ===================================================================

Success prints ``✓ ... passed (n cases)`` and returns True; anything else raises
:class:`~helpers.checks.core.CheckFailed` (an ``AssertionError``) with a message for the
student: a stub still raising ``NotImplementedError`` gives ``ExerciseNotImplementedError``,
a function stopped by the time limit ``ExerciseTimeoutError``. Every module imports only
:mod:`helpers.checks.core`, so any of them can be imported first.
"""

from helpers.checks.core import (CheckFailed, ExerciseNotImplementedError,  # noqa: F401
                                 ExerciseTimeoutError, check_close, check_function)
from helpers.checks.puzzle import check_nt_xent  # noqa: F401
from helpers.checks.feature_weighting import check_optimal_gains, check_spectral  # noqa: F401
from helpers.checks.lower_layer import check_loo_ridge, check_ridge_simulation  # noqa: F401
from helpers.checks.expansion import check_expansion_measure  # noqa: F401
from helpers.checks.nonlinear import (check_gap_map, check_null_fraction,  # noqa: F401
                                      check_sign_keeping_net)
from helpers.checks.class_collapse import (check_coarse_accuracy, check_fine_gap,  # noqa: F401
                                           check_positive_mask, check_supcon)
from helpers.checks.shortcuts import check_lle_mixture, check_shortcut_metrics  # noqa: F401
from helpers.checks.reweighting import (check_choose_kappa, check_encoder_gains,  # noqa: F401
                                        check_fixed_head)
