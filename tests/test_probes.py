"""Probes against scikit-learn, chance and separable cases, and the rule never to tune on test."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from helpers.probes import (extract_features, logistic_probe_fit, probe_accuracy, probe_layers,
                            ridge_probe_fit)


def blobs(n, d, k, seed, sep=3.0):
    g = torch.Generator().manual_seed(seed)
    centres = sep * torch.randn(k, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % k
    return centres[y] + torch.randn(n, d, generator=g, dtype=torch.float64), y


@pytest.mark.parametrize("n, d", [(60, 5), (20, 40)])  # primal (n > d) and dual (d > n) paths
def test_ridge_matches_sklearn(n, d):
    X, y = blobs(n, d, 3, seed=0)
    l2 = 0.05
    probe = ridge_probe_fit(X, y, 3, l2=l2)
    Xs = StandardScaler().fit_transform(X.numpy())
    ref = Ridge(alpha=n * l2).fit(Xs, np.eye(3)[y.numpy()])
    np.testing.assert_allclose(probe.weight.numpy(), ref.coef_.T, atol=1e-8)
    np.testing.assert_allclose(probe.decision(X).numpy(), ref.predict(Xs), atol=1e-8)


def test_logistic_matches_sklearn():
    X, y = blobs(200, 4, 3, seed=1, sep=1.0)
    l2 = 0.01
    probe = logistic_probe_fit(X, y, 3, l2=l2)
    Xs = StandardScaler().fit_transform(X.numpy())
    ref = LogisticRegression(C=1 / (len(X) * l2), tol=1e-10, max_iter=5000).fit(Xs, y.numpy())
    got = torch.softmax(probe.decision(X), dim=1).numpy()
    np.testing.assert_allclose(got, ref.predict_proba(Xs), atol=1e-4)


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_separable_near_one_random_labels_near_chance(method):
    X, y = blobs(400, 10, 4, seed=2, sep=5.0)
    acc, _ = probe_accuracy(X[:200], y[:200], X[200:], y[200:], method=method)
    assert acc > 0.97
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(800, 10, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (800,), generator=g)
    acc, _ = probe_accuracy(noise[:400], labels[:400], noise[400:], labels[400:], method=method)
    assert abs(acc - 0.25) < 4 * (0.25 * 0.75 / 400) ** 0.5


def test_penalty_is_chosen_without_the_test_split():
    X, y = blobs(300, 20, 3, seed=4, sep=0.7)
    _, l2_a = probe_accuracy(X[:200], y[:200], X[200:], y[200:], method="ridge")
    _, l2_b = probe_accuracy(X[:200], y[:200], X[200:], (y[200:] + 1) % 3, method="ridge")
    assert l2_a == l2_b


def test_probe_layers_keeps_order():
    X, y = blobs(100, 3, 2, seed=5)
    feats = {"b": X, "a": X[:, :1]}
    out = probe_layers(feats, y, feats, y, method="ridge", l2=0.1)
    assert list(out) == ["b", "a"] and all(0 <= v <= 1 for v in out.values())


def test_extract_features_batches():
    images = torch.randn(10, 3)
    feats = extract_features(lambda x: {"x": x, "sum": x.sum(1, keepdim=True)}, images, batch_size=3)
    torch.testing.assert_close(feats["x"], images)
    assert feats["sum"].shape == (10, 1) and feats["x"].dtype == torch.float32


def test_bad_input():
    X, y = blobs(20, 3, 2, seed=6)
    with pytest.raises(ValueError, match="y must be"):
        ridge_probe_fit(X, y[:5], 2)
    with pytest.raises(ValueError, match="labels must lie"):
        ridge_probe_fit(X, y + 5, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        logistic_probe_fit(X, torch.zeros(20, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="l2 must be"):
        ridge_probe_fit(X, y, 2, l2=-1.0)
    with pytest.raises(ValueError, match="unknown probe method"):
        probe_accuracy(X, y, X, y, method="svm")
    with pytest.raises(ValueError, match=r"\(n, dim\)"):
        ridge_probe_fit(X[:, 0], y, 2)
