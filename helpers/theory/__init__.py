"""Closed forms the chapters derive, each checked against a simulation in ``tests/``.

* :mod:`helpers.theory.linear` - Part I: spectral contrastive loss on the feature model, its
  optimal end-to-end weights, progressive feature weighting across layers, ridge-probe risk.
* :mod:`helpers.theory.expansion` - Part II: expansion measure and the W_alpha projector model.
"""
