"""Probes against scikit-learn and numpy closed forms, chance and separable cases, and the rule
never to tune on the test split."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from helpers import probes
from helpers.probes import (extract_features, logistic_probe_fit, probe_accuracy, probe_layers,
                            ridge_probe_fit)


def blobs(n, d, k, seed, sep=3.0):
    """k Gaussian classes in d dims, centres ~ N(0, sep^2), unit noise; balanced labels."""
    g = torch.Generator().manual_seed(seed)
    centres = sep * torch.randn(k, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % k
    return centres[y] + torch.randn(n, d, generator=g, dtype=torch.float64), y


# Mapping: ours minimises (1/n)||Xc W - Yc||^2 + l2 ||W||^2; times n it is sklearn's
# ||Xc W - Yc||^2 + alpha ||W||^2 with alpha = n * l2.
@pytest.mark.parametrize("n, d", [(60, 5), (20, 40)])  # primal (n > d) and dual (d > n) paths
@pytest.mark.parametrize("standardize", [True, False])
def test_ridge_matches_sklearn(n, d, standardize):
    X, y = blobs(n, d, 3, seed=0)
    X = X * torch.linspace(0.1, 10, d, dtype=torch.float64) + 2.0  # scales/offsets matter
    l2 = 0.05
    probe = ridge_probe_fit(X, y, 3, l2=l2, standardize=standardize)
    Xs = StandardScaler().fit_transform(X.numpy()) if standardize else X.numpy()
    ref = Ridge(alpha=n * l2).fit(Xs, np.eye(3)[y.numpy()])
    np.testing.assert_allclose(probe.weight.numpy(), ref.coef_.T, atol=1e-6, rtol=0)
    np.testing.assert_allclose(probe.bias.numpy(), ref.intercept_, atol=1e-6, rtol=0)
    X_new, _ = blobs(15, d, 3, seed=9)
    Xn = StandardScaler().fit(X.numpy()).transform(X_new.numpy()) if standardize else X_new.numpy()
    np.testing.assert_allclose(probe.decision(X_new).numpy(), ref.predict(Xn), atol=1e-6, rtol=0)
    assert probe.weight.dtype == torch.float64


def test_ridge_dual_path_is_used_and_l2_zero_is_min_norm():
    X, y = blobs(12, 30, 3, seed=1)
    Y = np.eye(3)[y.numpy()]
    Xc = StandardScaler().fit_transform(X.numpy())
    probe = ridge_probe_fit(X, y, 3, l2=0.0)
    # Minimum-norm least squares on centred data (numpy's SVD-based lstsq) -- the l2 -> 0 limit.
    W_ref = np.linalg.lstsq(Xc, Y - Y.mean(0), rcond=None)[0]
    np.testing.assert_allclose(probe.weight.numpy(), W_ref, atol=1e-8)
    assert probe.score(X, y) == 1.0  # d > n: interpolates the training labels
    small = ridge_probe_fit(X, y, 3, l2=1e-10)
    np.testing.assert_allclose(small.weight.numpy(), W_ref, atol=1e-5)


def test_standardisation_uses_training_statistics_only():
    X, y = blobs(50, 4, 2, seed=2)
    probe = ridge_probe_fit(X, y, 2, l2=0.1)
    np.testing.assert_allclose(probe.mean.numpy(), X.numpy().mean(0))
    np.testing.assert_allclose(probe.std.numpy(), X.numpy().std(0))
    shifted = X + 100.0  # a test set far away is not re-standardised to look like training
    assert not torch.allclose(probe.decision(shifted), probe.decision(X))


# Mapping: ours minimises mean CE + (l2/2)||W||^2; sklearn C * sum CE + (1/2)||W||^2. Dividing
# sklearn's by C n gives ours with l2 = 1 / (C n), i.e. C = 1 / (n * l2).
def test_logistic_matches_sklearn():
    X, y = blobs(200, 4, 3, seed=1, sep=1.0)
    l2 = 0.01
    probe = logistic_probe_fit(X, y, 3, l2=l2)
    Xs = StandardScaler().fit_transform(X.numpy())
    ref = LogisticRegression(C=1 / (len(X) * l2), tol=1e-10, max_iter=5000).fit(Xs, y.numpy())
    got = torch.softmax(probe.decision(X), dim=1).numpy()
    np.testing.assert_allclose(got, ref.predict_proba(Xs), atol=1e-4)
    # The penalty pins W's class-shift freedom (columns sum to 0), so W itself is comparable.
    np.testing.assert_allclose(probe.weight.numpy(), ref.coef_.T, atol=1e-3)
    assert probe.score(X, y) == pytest.approx(ref.score(Xs, y.numpy()))
    # A different C is really distinguishable: the test can fail.
    other = LogisticRegression(C=1 / (len(X) * l2 * 10), tol=1e-10, max_iter=5000).fit(Xs, y.numpy())
    assert np.abs(got - other.predict_proba(Xs)).max() > 1e-2


def test_logistic_warns_when_out_of_iterations():
    X, y = blobs(100, 5, 3, seed=3, sep=1.0)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        logistic_probe_fit(X, y, 3, l2=1e-3, max_iter=2)


def test_probe_accuracy_scores_an_unconverged_refit_quietly(monkeypatch):
    import functools
    import warnings

    X, y = blobs(200, 10, 4, seed=2, sep=5.0)
    short = functools.partial(logistic_probe_fit, max_iter=2)  # sure to run out of iterations
    with pytest.warns(RuntimeWarning, match="L-BFGS stopped"):
        short(X, y, 4, l2=1e-3)  # the fitter says so ...
    monkeypatch.setitem(probes.FITTERS, "logistic", short)
    with warnings.catch_warnings():  # ... probe_accuracy, which measures accuracy, does not
        warnings.simplefilter("error")
        acc, l2 = probe_accuracy(X[:100], y[:100], X[100:], y[100:], method="logistic", l2=1e-3)
    assert 0 <= acc <= 1 and l2 == 1e-3


# Logistic fits with a weak penalty on separable data run L-BFGS to max_iter: a shorter grid
# keeps the test fast on 2 cores.
@pytest.mark.parametrize("method, grid", [("ridge", probes.L2_GRID), ("logistic", (1e-2, 1.0, 100.0))])
def test_separable_near_one_random_labels_near_chance(method, grid):
    X, y = blobs(400, 10, 4, seed=2, sep=5.0)
    acc, l2 = probe_accuracy(X[:200], y[:200], X[200:], y[200:], method=method, l2_grid=grid)
    assert acc > 0.97 and l2 in grid
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(600, 10, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 4, (600,), generator=g)
    acc, _ = probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:], method=method,
                            l2_grid=grid)
    assert abs(acc - 0.25) < 4 * (0.25 * 0.75 / 400) ** 0.5  # 4 binomial standard errors


def test_penalty_is_chosen_without_the_test_split(monkeypatch):
    X, y = blobs(300, 20, 3, seed=4, sep=0.7)
    train_X, train_y, test_X, test_y = X[:200], y[:200], X[200:], y[200:]
    seen = []
    real_fit = probes.ridge_probe_fit

    def spy(Xf, yf, *args, **kw):
        seen.append(Xf)
        return real_fit(Xf, yf, *args, **kw)

    monkeypatch.setitem(probes.FITTERS, "ridge", spy)
    acc_a, l2_a = probe_accuracy(train_X, train_y, test_X, test_y, method="ridge")
    # Every fit (the grid and the refit) saw training rows only.
    train_rows = {tuple(r) for r in train_X.tolist()}
    assert all(tuple(r) in train_rows for Xf in seen for r in Xf.tolist())
    assert len(seen) == len(probes.L2_GRID) + 1 and len(seen[0]) == 161  # 67, 67, 66 per class; 13 + 13 + 13 held out
    # Scrambling the test labels, or the test features, changes the accuracy but not l2.
    acc_b, l2_b = probe_accuracy(train_X, train_y, test_X, (test_y + 1) % 3, method="ridge")
    _, l2_c = probe_accuracy(train_X, train_y, torch.randn_like(test_X), test_y, method="ridge")
    assert l2_a == l2_b == l2_c and acc_a != acc_b
    # ...while the training data does decide it: separable data rejects a crushing penalty.
    sep_X, sep_y = blobs(200, 2, 3, seed=5, sep=5.0)
    _, l2_d = probe_accuracy(sep_X, sep_y, test_X[:, :2], test_y, l2_grid=(1e-4, 1e4))
    assert l2_d == 1e-4
    # Equal validation accuracy (both perfect here): the larger penalty, the simpler model, wins.
    _, l2_tie = probe_accuracy(sep_X, sep_y, test_X[:, :2], test_y, l2_grid=(1e-4, 1e-2))
    assert l2_tie == 1e-2
    chosen = {probe_accuracy(train_X, train_y, test_X, test_y, seed=s)[1] for s in range(3)}
    assert chosen <= set(probes.L2_GRID)


def test_validation_split_is_stratified_and_seeded():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    tr, val = probes._stratified_split(y, 0.2, seed=0)
    assert sorted(torch.cat([tr, val]).tolist()) == list(range(100))
    assert torch.bincount(y[val]).tolist() == [10, 6, 4]
    tr2, val2 = probes._stratified_split(y, 0.2, seed=0)
    assert torch.equal(val, val2)
    assert not torch.equal(val, probes._stratified_split(y, 0.2, seed=1)[1])


def test_probe_layers_keeps_order():
    X, y = blobs(100, 3, 2, seed=5)
    feats = {"b": X, "a": X[:, :1]}
    out = probe_layers(feats, y, feats, y, method="ridge", l2=0.1)
    assert list(out) == ["b", "a"] and all(0 <= v <= 1 for v in out.values())
    assert out["b"] == ridge_probe_fit(X, y, 2, l2=0.1).score(X, y)
    with pytest.raises(ValueError, match="layers differ"):
        probe_layers(feats, y, {"b": X}, y)


def test_extract_features_batches():
    images = torch.randn(10, 3, dtype=torch.float64)
    calls = []

    def model_fn(x):
        calls.append(len(x))
        assert not torch.is_grad_enabled()
        return {"x": x, "sum": x.sum(1, keepdim=True)}

    feats = extract_features(model_fn, images, batch_size=3)
    assert calls == [3, 3, 3, 1] and list(feats) == ["x", "sum"]
    torch.testing.assert_close(feats["x"], images.float())
    assert feats["sum"].shape == (10, 1) and feats["x"].dtype == torch.float32
    with pytest.raises(ValueError, match="pool or flatten"):
        extract_features(lambda x: {"map": x[:, :, None]}, images)
    with pytest.raises(TypeError, match="dict"):
        extract_features(lambda x: x, images)
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(model_fn, images, batch_size=0)


def test_bad_input():
    X, y = blobs(20, 3, 2, seed=6)
    with pytest.raises(ValueError, match="y must be"):
        ridge_probe_fit(X, y[:5], 2)
    with pytest.raises(ValueError, match="labels must lie"):
        ridge_probe_fit(X, y + 5, 2)
    with pytest.raises(ValueError, match="at least 2 classes"):
        logistic_probe_fit(X, torch.zeros(20, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="integer"):
        ridge_probe_fit(X, y.double(), 2)
    with pytest.raises(TypeError, match="torch tensors"):
        ridge_probe_fit(X.numpy(), y, 2)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="l2 must be"):
            ridge_probe_fit(X, y, 2, l2=bad)
    with pytest.raises(ValueError, match=r"\(n, dim\)"):
        ridge_probe_fit(X[:, 0], y, 2)
    with pytest.raises(ValueError, match="NaN"):
        ridge_probe_fit(torch.full_like(X, float("nan")), y, 2)
    with pytest.raises(ValueError, match="unknown probe method"):
        probe_accuracy(X, y, X, y, method="svm")
    with pytest.raises(ValueError, match="pass n_classes|raise n_classes"):
        probe_accuracy(X, y, X, y + 1, method="ridge")
    with pytest.raises(ValueError, match="differ in dim"):
        probe_accuracy(X, y, X[:, :2], y)
    with pytest.raises(ValueError, match="val_fraction"):
        probe_accuracy(X, y, X, y, val_fraction=1.5)
    with pytest.raises(ValueError, match="l2_grid is empty"):
        probe_accuracy(X, y, X, y, l2_grid=())
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        ridge_probe_fit(X, y, 2).predict(X[:, :2])


# ---------------------------------- numpy scalars and dtypes (issue 20): accepted or clear


def _two_class(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    return torch.randn(n, 3, generator=g) + y[:, None].double(), y


def test_probes_accept_numpy_integer_and_float_scalars():
    X, y = _two_class()
    want = ridge_probe_fit(X, y, 2, l2=1e-3)
    got = ridge_probe_fit(X, y, np.int64(2), l2=np.float32(1e-3))
    assert torch.allclose(got.weight, want.weight, atol=1e-6)
    logistic_probe_fit(X, y, np.int32(2), l2=np.float64(1e-2), max_iter=np.int64(50))
    acc, _ = probe_accuracy(X, y, X, y, n_classes=np.int64(2), seed=np.int64(1),
                            val_fraction=np.float32(0.25))
    assert acc == probe_accuracy(X, y, X, y, n_classes=2, seed=1, val_fraction=0.25)[0]
    feats = extract_features(lambda b: {"h": b}, X.float(), batch_size=np.int64(7))
    assert feats["h"].shape == (40, 3)


@pytest.mark.parametrize("bad", [2.0, True, "2", np.float64(2.0)])
def test_probes_refuse_non_integer_n_classes_with_its_type(bad):
    X, y = _two_class()
    with pytest.raises((TypeError, ValueError), match="n_classes"):
        ridge_probe_fit(X, y, bad)


def test_probes_convert_integer_features_and_refuse_complex_ones():
    X, y = _two_class()
    Xi = (X * 10).round().long()
    assert torch.allclose(ridge_probe_fit(Xi, y, 2).weight, ridge_probe_fit(Xi.double(), y, 2).weight)
    probe = ridge_probe_fit(X, y, 2)
    assert torch.equal(probe.decision(Xi), probe.decision(Xi.double()))
    with pytest.raises(TypeError, match="complex"):
        ridge_probe_fit(X.to(torch.complex128), y, 2)
    with pytest.raises(TypeError, match="complex"):
        probe.decision(X.to(torch.complex128))
