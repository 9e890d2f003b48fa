"""Closed forms the chapters derive, each checked against a simulation in ``tests/``.

* :mod:`helpers.theory.linear` - Part I: spectral contrastive loss on the feature model, its
  optimal end-to-end weights, progressive feature weighting across layers, ridge-probe risk.
* :mod:`helpers.theory.expansion` - Part II: expansion measure and the W_alpha projector model.
* :mod:`helpers.theory.collapse` - Part IV, class collapse: probe accuracies of the sub-class
  model before and after a head that merges sub-classes.
* :mod:`helpers.theory.reweighting` - Part V: a linear encoder under the fixed reweighting head
  (which coordinate each feature takes, its gain below the head, the probe's R^2 by k).
"""
