"""Linear probes on any layer: closed-form ridge (GPU-friendly) and L2 logistic regression.

A linear probe (Alain & Bengio 2017, "Understanding intermediate layers using linear classifier
probes") measures how linearly decodable the class is from a layer's representation. Features
are standardised with training statistics, and the penalty is chosen on a validation split
carved from the training data, never from the test data. Used from Chapter 1 on.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def _shape(x) -> tuple:
    return tuple(getattr(x, "shape", ()))


def _check_xy(X, y, name: str = "X") -> None:
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} and its labels must be torch tensors, got "
                        f"{type(X).__name__} and {type(y).__name__}; convert with torch.as_tensor")
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty (n, dim) tensor, got {_shape(X)}; "
                         "flatten or pool the layer's output first")
    if y.shape != (len(X),):
        raise ValueError(f"y must be ({len(X)},) to match {name}, got {_shape(y)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got {y.dtype}; use y.long()")
    if X.is_complex():
        raise TypeError(f"{name} must be real, got {X.dtype}; a probe would drop the imaginary "
                        "part: pass X.real or X.abs()")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf; check the layer (e.g. a diverged run)")


def _integer(name: str, value, minimum: int) -> int:
    """``value`` as an int (numpy integers included), else a clear error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} "
                        f"{value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_labels(y: torch.Tensor, n_classes: int, need_two: bool = True) -> int:
    """``n_classes`` as an int, after checking the labels lie in [0, n_classes)."""
    n_classes = _integer("n_classes", n_classes, 2)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{lo}, {hi}]; "
                         "relabel them 0..n_classes-1 or raise n_classes")
    if need_two and lo == hi:
        raise ValueError("a probe needs at least 2 classes in the training labels, got only "
                         f"class {lo}; use a larger or stratified training split")
    return n_classes


def _check_l2(l2) -> float:
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not math.isfinite(l2) or l2 < 0:
        raise ValueError(f"l2 must be a finite number >= 0, got {type(l2).__name__} {l2!r}")
    return float(l2)


@dataclass
class LinearProbe:
    r"""A fitted probe: scores :math:`s(x) = \frac{x - \mu}{\sigma} W + b`, prediction argmax.

    Attributes:
        weight: (dim, n_classes). bias: (n_classes,). mean, std: (dim,) training statistics
        (0 and 1 without standardisation). l2: the penalty it was fit with. method: its fitter.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    l2: float
    method: str

    def decision(self, X: torch.Tensor) -> torch.Tensor:
        """Class scores (n, n_classes), on the probe's device and dtype.

        Raises:
            ValueError: X is not (n, dim) with the training dim. TypeError: X is complex.
        """
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(f"X must be (n, {len(self.mean)}) like the training features, got {_shape(X)}")
        if X.is_complex():
            raise TypeError(f"X must be real, got {X.dtype}; pass X.real or X.abs()")
        return (X.to(self.weight) - self.mean) / self.std @ self.weight + self.bias

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Predicted labels (n,), on the probe's device."""
        return self.decision(X).argmax(dim=1)

    def score(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy in [0, 1] on (X, y)."""
        _check_xy(X, y)
        return (self.predict(X).cpu() == y.cpu()).double().mean().item()


def _standardize(X: torch.Tensor, standardize: bool, dtype: torch.dtype | None):
    """(X - mean) / std with the statistics of X itself, the training split."""
    # float64 on CPU for exact agreement with closed forms; float32 elsewhere (MPS has no float64).
    dtype = dtype or (torch.float64 if X.device.type == "cpu" else torch.float32)
    X = X.to(dtype)
    if not standardize:
        return X, torch.zeros(X.shape[1], dtype=dtype, device=X.device), torch.ones(
            X.shape[1], dtype=dtype, device=X.device)
    mean, std = X.mean(dim=0), X.std(dim=0, unbiased=False)  # population std, as StandardScaler
    # A constant feature keeps scale 1 (as scikit-learn does) instead of amplifying rounding noise.
    tiny = 10 * torch.finfo(dtype).eps * mean.abs().clamp_min(1.0)
    std = torch.where(std > tiny, std, torch.ones_like(std))
    return (X - mean) / std, mean, std


def ridge_probe_fit(X: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3,
                    standardize: bool = True, dtype: torch.dtype | None = None) -> LinearProbe:
    r"""Multi-class ridge regression on one-hot targets, in closed form, on X's device.

    With Y (n, k) the one-hot targets and :math:`X_c, Y_c` the centred (standardised) data,
    it minimises

    .. math:: \frac1n \lVert X_c W - Y_c \rVert_F^2 + l2\,\lVert W \rVert_F^2,
              \qquad b = \bar y - \bar x W \ \text{(unpenalised bias, by centring)},

    solved as :math:`W = (X_c^\top X_c + n\,l2\,I_d)^{-1} X_c^\top Y_c` when dim <= n and in the
    dual (kernel) form :math:`W = X_c^\top (X_c X_c^\top + n\,l2\,I_n)^{-1} Y_c` when dim > n.
    Multiplying the objective by n gives scikit-learn's ``Ridge(alpha=n * l2)`` on the
    standardised features (``StandardScaler``) and one-hot targets. ``l2 = 0`` gives the
    minimum-norm least-squares solution :math:`W = X_c^+ Y_c`, the ``l2 -> 0`` limit.

    Args:
        X: (n, dim) features. y: (n,) integer labels in [0, n_classes).
        l2: penalty >= 0. standardize: z-score features with the training mean/std.
        dtype: working precision; default float64 on CPU, float32 on accelerators.

    Returns:
        :class:`LinearProbe` with weight (dim, n_classes), bias (n_classes,).

    Raises:
        TypeError: X or y not tensors, complex X, non-integer labels, or n_classes not an int
            (numpy integers are ints; integer X is converted to ``dtype``).
        ValueError: bad shapes, non-finite X, labels outside [0, n_classes), n_classes < 2,
            fewer than 2 classes present, or l2 not a finite number >= 0.
    """
    _check_xy(X, y)
    n_classes = _check_labels(y, n_classes)
    l2 = _check_l2(l2)
    Xs, mean, std = _standardize(X, standardize, dtype)
    n, d = Xs.shape
    Y = F.one_hot(y.to(Xs.device).long(), n_classes).to(Xs.dtype)
    x_mean, y_mean = Xs.mean(0), Y.mean(0)
    Xc, Yc = Xs - x_mean, Y - y_mean  # centring = an unpenalised bias
    if l2 == 0:
        W = torch.linalg.pinv(Xc) @ Yc
    elif d <= n:  # primal: a (d, d) system
        A = Xc.T @ Xc + (n * l2) * torch.eye(d, dtype=Xs.dtype, device=Xs.device)
        W = torch.linalg.solve(A, Xc.T @ Yc)
    else:  # dual: an (n, n) system, cheaper when dim > n
        K = Xc @ Xc.T + (n * l2) * torch.eye(n, dtype=Xs.dtype, device=Xs.device)
        W = Xc.T @ torch.linalg.solve(K, Yc)
    return LinearProbe(W, y_mean - x_mean @ W, mean, std, float(l2), "ridge")


def logistic_probe_fit(X: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3,
                       max_iter: int = 200, standardize: bool = True,
                       dtype: torch.dtype | None = None) -> LinearProbe:
    r"""Multinomial logistic regression with an L2 penalty, full-batch L-BFGS on X's device.

    Minimises exactly

    .. math:: \frac1n \sum_{i=1}^n \mathrm{CE}\big(\mathrm{softmax}(W^\top x_i + b), y_i\big)
              + \frac{l2}{2} \lVert W \rVert_F^2 \qquad (b \text{ unpenalised})

    on standardised features, with ``torch.optim.LBFGS`` (strong Wolfe line search) from zero.
    scikit-learn's ``LogisticRegression`` minimises :math:`C \sum_i \mathrm{CE}_i + \frac12\lVert
    W\rVert^2`; dividing by :math:`Cn` shows the two share their optimum when
    ``C = 1 / (n * l2)``. The objective is strictly convex for l2 > 0; with l2 = 0 on separable
    data it has no minimiser and the weights grow until ``max_iter``.

    Args:
        X: (n, dim). y: (n,) integer labels in [0, n_classes). l2: penalty >= 0.
        max_iter: L-BFGS iterations. standardize, dtype: as :func:`ridge_probe_fit`.

    Returns:
        :class:`LinearProbe`; ``softmax(probe.decision(X))`` are the class probabilities.

    Raises:
        TypeError / ValueError: as :func:`ridge_probe_fit`; ValueError for max_iter < 1.
    Warns:
        RuntimeWarning: L-BFGS used all ``max_iter`` iterations (raise it, or raise l2).
    """
    _check_xy(X, y)
    n_classes = _check_labels(y, n_classes)
    l2 = _check_l2(l2)
    try:
        max_iter = _integer("max_iter", max_iter, 1)
    except TypeError as err:
        raise ValueError(str(err)) from None
    Xs, mean, std = _standardize(X, standardize, dtype)
    target = y.to(Xs.device).long()
    W = torch.zeros(Xs.shape[1], n_classes, dtype=Xs.dtype, device=Xs.device, requires_grad=True)
    b = torch.zeros(n_classes, dtype=Xs.dtype, device=Xs.device, requires_grad=True)
    tol = 1e-9 if Xs.dtype == torch.float64 else 1e-6
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, tolerance_grad=tol,
                            tolerance_change=tol * 1e-3, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(Xs @ W + b, target) + 0.5 * l2 * W.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():  # callers may sit inside torch.no_grad()
        opt.step(closure)
    state = opt.state[W]  # LBFGS stops at max_iter iterations or 1.25 * max_iter evaluations
    if state.get("n_iter", 0) >= max_iter or state.get("func_evals", 0) >= opt.defaults["max_eval"]:
        warnings.warn(f"logistic probe: L-BFGS stopped at max_iter={max_iter} before converging "
                      f"(l2={l2}); raise max_iter or l2", RuntimeWarning, stacklevel=2)
    return LinearProbe(W.detach(), b.detach(), mean, std, float(l2), "logistic")


FITTERS = {"ridge": ridge_probe_fit, "logistic": logistic_probe_fit}


def _stratified_split(y: torch.Tensor, val_fraction: float, seed: int):
    """(train_idx, val_idx): round(val_fraction * count) random members of each class to val."""
    y = y.cpu().long()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    order = perm[torch.argsort(y[perm], stable=True)]  # grouped by class, random within a class
    counts = torch.bincount(y)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(y)) - starts[y[order]]  # position of each sample within its class
    to_val = rank < torch.round(val_fraction * counts.double()).long()[y[order]]
    return order[~to_val], order[to_val]


def probe_accuracy(train_X: torch.Tensor, train_y: torch.Tensor, test_X: torch.Tensor,
                   test_y: torch.Tensor, method: str = "ridge", l2: float | None = None,
                   val_fraction: float = 0.2, l2_grid=L2_GRID, seed: int = 0,
                   n_classes: int | None = None) -> tuple[float, float]:
    """Test accuracy of a linear probe, and the l2 it used.

    With ``l2=None`` the penalty is chosen from ``l2_grid`` by accuracy on a validation split
    (``val_fraction`` of each class, drawn with ``seed``) carved from the TRAINING data only;
    ties go to the larger l2 (the simpler model). The probe is then refit on all training data
    and scored once on the test data, which plays no part in the choice.

    Args:
        train_X: (n, dim), train_y: (n,); test_X: (m, dim), test_y: (m,).
        method: 'ridge' (:func:`ridge_probe_fit`) or 'logistic' (:func:`logistic_probe_fit`).
        n_classes: label-space size; default ``max(train_y) + 1``.

    Returns:
        (test accuracy in [0, 1], l2 used).

    Raises:
        ValueError: unknown method, bad shapes or labels (a test label >= n_classes: pass
            n_classes), train/test dims differ, val_fraction outside (0, 1), empty or bad
            ``l2_grid``, or a training part of the split with fewer than 2 classes.
        TypeError: non-tensor inputs or non-integer labels.
    """
    if method not in FITTERS:
        raise ValueError(f"unknown probe method {method!r}; use one of: {', '.join(FITTERS)}")
    _check_xy(train_X, train_y, "train_X")
    _check_xy(test_X, test_y, "test_X")
    if train_X.shape[1] != test_X.shape[1]:
        raise ValueError(f"train and test features differ in dim: {train_X.shape[1]} vs "
                         f"{test_X.shape[1]}; probe the same layer on both splits")
    n_classes = int(train_y.max()) + 1 if n_classes is None else n_classes
    n_classes = _check_labels(train_y, n_classes)
    _check_labels(test_y, n_classes, need_two=False)
    seed = _integer("seed", seed, 0)
    fit = FITTERS[method]
    if l2 is None:
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}")
        grid = list(l2_grid)
        if not grid:
            raise ValueError("l2_grid is empty; give at least one penalty, or pass l2")
        for c in grid:
            _check_l2(c)
        tr, val = _stratified_split(train_y, val_fraction, seed)
        if len(val) == 0:
            raise ValueError(f"val_fraction={val_fraction} leaves no validation samples out of "
                             f"{len(train_y)}; raise it, or pass l2")
        with warnings.catch_warnings():  # an unconverged weak-penalty fit is still scored as is
            warnings.simplefilter("ignore", RuntimeWarning)
            scores = [fit(train_X[tr], train_y[tr], n_classes, l2=c).score(train_X[val], train_y[val])
                      for c in grid]
        best = max(scores)
        l2 = max(c for c, s in zip(grid, scores) if s == best)
    # The refit is scored as is too: on (nearly) separable features a weak penalty runs L-BFGS to
    # max_iter, and what a chapter measures is the accuracy, not the convergence. Call the
    # fitter itself (logistic_probe_fit) to see its non-convergence warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="logistic probe: L-BFGS stopped",
                                category=RuntimeWarning)
        probe = fit(train_X, train_y, n_classes, l2=l2)
    return probe.score(test_X, test_y), l2


def probe_layers(train_feats: dict[str, torch.Tensor], train_y: torch.Tensor,
                 test_feats: dict[str, torch.Tensor], test_y: torch.Tensor,
                 **kwargs) -> dict[str, float]:
    """Test accuracy of one probe per layer: {layer: accuracy}, in ``train_feats``' order.

    Each layer's penalty is chosen separately (``kwargs`` go to :func:`probe_accuracy`).

    Raises:
        TypeError: the feature sets are not dicts.
        ValueError: train and test name different layers, or as :func:`probe_accuracy`.
    """
    if not isinstance(train_feats, dict) or not isinstance(test_feats, dict):
        raise TypeError("train_feats and test_feats must be dicts {layer name: (n, dim) tensor}, "
                        f"got {type(train_feats).__name__} and {type(test_feats).__name__}")
    if set(train_feats) != set(test_feats):
        raise ValueError(f"train and test layers differ: {list(train_feats)} vs {list(test_feats)}; "
                         "extract both splits with the same model_fn")
    return {name: probe_accuracy(train_feats[name], train_y, test_feats[name], test_y, **kwargs)[0]
            for name in train_feats}


@torch.no_grad()
def extract_features(model_fn, images: torch.Tensor, batch_size: int = 512,
                     device=None) -> dict[str, torch.Tensor]:
    """Run ``model_fn(batch) -> {layer: (batch, dim)}`` over ``images`` (n, ...) in batches.

    Runs under ``torch.no_grad()``; put the model in eval mode first (BatchNorm). Each batch
    goes to ``device`` (default: the images' device); a progress bar shows past 4 batches.

    Returns:
        {layer: (n, dim) CPU float32 tensor}, in ``model_fn``'s key order.

    Raises:
        TypeError: model_fn not callable, images not a tensor, or model_fn not returning a dict.
        ValueError: empty images, batch_size < 1, or an output that is not (batch, dim) or
            whose layers change between batches.
    """
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable, got {type(model_fn).__name__}")
    if not isinstance(images, torch.Tensor) or images.ndim < 1 or len(images) == 0:
        raise (TypeError if not isinstance(images, torch.Tensor) else ValueError)(
            f"images must be a non-empty tensor (n, ...), got {_shape(images) or type(images).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    batch_size = int(batch_size)
    device = torch.device(device) if device is not None else images.device
    chunks: dict[str, list] = {}
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="features", leave=False, disable=len(starts) <= 4):
        batch = images[start:start + batch_size].to(device)
        out = model_fn(batch)
        if not isinstance(out, dict):
            raise TypeError(f"model_fn must return a dict {{layer: (batch, dim)}}, got {type(out).__name__}")
        if chunks and list(out) != list(chunks):
            raise ValueError(f"model_fn returned layers {list(out)} after {list(chunks)}")
        for name, value in out.items():
            if not isinstance(value, torch.Tensor) or value.ndim != 2 or len(value) != len(batch):
                raise ValueError(f"layer {name!r} must be ({len(batch)}, dim), got {_shape(value)}; "
                                 "pool or flatten it inside model_fn")
            chunks.setdefault(name, []).append(value.float().cpu())
    return {name: torch.cat(parts) for name, parts in chunks.items()}
