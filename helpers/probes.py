"""Linear probes on any layer: closed-form ridge (GPU-friendly) and L2 logistic regression.

The penalty is chosen on a validation split carved from the training data, never the test data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _check(X: torch.Tensor, y: torch.Tensor, n_classes: int | None = None) -> None:
    if not isinstance(X, torch.Tensor) or X.ndim != 2:
        raise ValueError(f"X must be a (n, dim) tensor, got {tuple(getattr(X, 'shape', ()))}")
    if not isinstance(y, torch.Tensor) or y.shape != (len(X),):
        raise ValueError(f"y must be ({len(X)},) to match X, got {tuple(getattr(y, 'shape', ()))}")
    if n_classes is not None:
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(f"labels must lie in [0, {n_classes}), got [{int(y.min())}, {int(y.max())}]")
        if len(torch.unique(y)) < 2:
            raise ValueError("a probe needs at least 2 classes in the training labels")


def _check_l2(l2: float) -> None:
    if not isinstance(l2, (int, float)) or not math.isfinite(l2) or l2 < 0:
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")


@dataclass
class LinearProbe:
    """A fitted probe: scores = ((X - mean) / std) @ W + b."""

    weight: torch.Tensor  # (dim, n_classes)
    bias: torch.Tensor  # (n_classes,)
    mean: torch.Tensor  # (dim,)
    std: torch.Tensor  # (dim,)

    def decision(self, X: torch.Tensor) -> torch.Tensor:
        Xs = (X.to(self.weight) - self.mean) / self.std
        return Xs @ self.weight + self.bias

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return self.decision(X).argmax(dim=1)

    def score(self, X: torch.Tensor, y: torch.Tensor) -> float:
        return (self.predict(X).cpu() == y.cpu()).double().mean().item()


def _standardize(X: torch.Tensor, standardize: bool):
    X = X.double() if X.device.type == "cpu" else X.float()
    mean = X.mean(dim=0) if standardize else torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    std = X.std(dim=0, unbiased=False).clamp_min(1e-8) if standardize else torch.ones_like(mean)
    return (X - mean) / std, mean, std


def ridge_probe_fit(X: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3,
                    standardize: bool = True) -> LinearProbe:
    r"""Multi-class ridge regression on one-hot targets, in closed form.

    Minimises :math:`\frac1n\lVert X_c W - Y_c\rVert_F^2 + l2\,\lVert W\rVert_F^2` on centred X, Y
    (so the bias is unpenalised): :math:`W = (X_c^\top X_c + n\,l2\,I)^{-1} X_c^\top Y_c`, i.e.
    scikit-learn's ``Ridge(alpha=n * l2)``. Uses the dual form :math:`X_c^\top (X_c X_c^\top + n\,l2\,I)^{-1} Y_c`
    when dim > n. Runs on X's device.

    Args: X (n, dim), y (n,) int labels in [0, n_classes).
    Raises: ValueError for bad shapes, labels, or l2.
    """
    _check(X, y, n_classes)
    _check_l2(l2)
    Xs, mean, std = _standardize(X, standardize)
    n, d = Xs.shape
    Y = torch.nn.functional.one_hot(y.to(Xs.device).long(), n_classes).to(Xs.dtype)
    x_mean, y_mean = Xs.mean(0), Y.mean(0)
    Xc, Yc = Xs - x_mean, Y - y_mean
    reg = n * l2
    if d <= n:
        A = Xc.T @ Xc + reg * torch.eye(d, dtype=Xs.dtype, device=Xs.device)
        W = torch.linalg.solve(A, Xc.T @ Yc)
    else:
        K = Xc @ Xc.T + reg * torch.eye(n, dtype=Xs.dtype, device=Xs.device)
        W = Xc.T @ torch.linalg.solve(K, Yc)
    return LinearProbe(W, y_mean - x_mean @ W, mean, std)


def logistic_probe_fit(X: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3,
                       max_iter: int = 200, standardize: bool = True) -> LinearProbe:
    r"""Multinomial logistic regression with an L2 penalty, full-batch L-BFGS.

    Minimises :math:`\frac1n\sum_i \mathrm{CE}(W^\top x_i + b, y_i) + \frac{l2}{2}\lVert W\rVert_F^2`
    (bias unpenalised), the same optimum as scikit-learn's ``LogisticRegression(C=1/(n * l2))``.

    Raises: ValueError for bad shapes, labels, or l2.
    """
    _check(X, y, n_classes)
    _check_l2(l2)
    Xs, mean, std = _standardize(X, standardize)
    target = y.to(Xs.device).long()
    W = torch.zeros(Xs.shape[1], n_classes, dtype=Xs.dtype, device=Xs.device, requires_grad=True)
    b = torch.zeros(n_classes, dtype=Xs.dtype, device=Xs.device, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xs @ W + b, target) + 0.5 * l2 * W.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearProbe(W.detach(), b.detach(), mean, std)


FITTERS = {"ridge": ridge_probe_fit, "logistic": logistic_probe_fit}


def probe_accuracy(train_X, train_y, test_X, test_y, method: str = "logistic",
                   l2: float | None = None, val_fraction: float = 0.2,
                   l2_grid=L2_GRID, seed: int = 0) -> tuple[float, float]:
    """Test accuracy of a probe and the l2 used. With ``l2=None`` the penalty is chosen on a
    validation split of the training data (``val_fraction``), then refit on all of it.

    Raises: ValueError for an unknown method or bad inputs.
    """
    if method not in FITTERS:
        raise ValueError(f"unknown probe method {method!r}; valid: {', '.join(FITTERS)}")
    _check(test_X, test_y)
    fit = FITTERS[method]
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    if l2 is None:
        order = torch.randperm(len(train_X), generator=torch.Generator().manual_seed(seed))
        n_val = max(1, int(val_fraction * len(train_X)))
        val, tr = order[:n_val], order[n_val:]
        scores = [fit(train_X[tr], train_y[tr], n_classes, l2=c).score(train_X[val], train_y[val])
                  for c in l2_grid]
        l2 = l2_grid[int(np.argmax(scores))]  # first best: the strongest-regularised tie loses
    probe = fit(train_X, train_y, n_classes, l2=l2)
    return probe.score(test_X, test_y), l2


def probe_layers(train_feats: dict, train_y, test_feats: dict, test_y, **kwargs) -> dict[str, float]:
    """Test accuracy of one probe per layer (same keys, same order)."""
    if set(train_feats) != set(test_feats):
        raise ValueError(f"train and test layers differ: {sorted(train_feats)} vs {sorted(test_feats)}")
    return {name: probe_accuracy(train_feats[name], train_y, test_feats[name], test_y, **kwargs)[0]
            for name in train_feats}


@torch.no_grad()
def extract_features(model_fn, images: torch.Tensor, batch_size: int = 512,
                     device=None) -> dict[str, torch.Tensor]:
    """Run ``model_fn(batch) -> {layer: (batch, dim)}`` over ``images`` (n, ...) in batches.

    Returns CPU float32 tensors, one (n, dim) per layer.
    """
    device = torch.device(device) if device is not None else images.device
    chunks: dict[str, list] = {}
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="features", leave=False, disable=len(starts) <= 4):
        out = model_fn(images[start:start + batch_size].to(device))
        for name, value in out.items():
            chunks.setdefault(name, []).append(value.float().cpu())
    return {name: torch.cat(parts) for name, parts in chunks.items()}
