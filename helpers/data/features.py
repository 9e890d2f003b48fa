"""Part I's synthetic feature model: inputs made of features of set strengths, and an augmentation
that disrupts each feature with its own probability.

An input is :math:`x = \\sum_i \\phi_i z_i e_i`, i.e. ``x = phi * z`` in the feature basis, with
latent values ``z_i ~ N(0, 1)`` independent. A positive pair ``(x, x+)`` shares the latents except
that feature ``i`` is redrawn independently in ``x+`` with probability ``p_i``; both views then get
independent Gaussian noise of std ``sigma`` (the augmentation's own noise). So

* ``S = E[x x^T] = diag(phi^2 + sigma^2)``   (covariance of one view),
* ``M = E[x x+^T] = diag((1 - p) phi^2)``    (cross-view covariance),

the two matrices the spectral contrastive loss sees (``helpers.theory.linear.feature_moments``).
Downstream inputs are clean: ``x = phi * z``, no augmentation noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _as_vector(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence (one value per feature); "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has non-finite values: {arr}")
    return arr


@dataclass(frozen=True)
class FeatureModel:
    """Feature strengths ``phi`` (d,), drop probabilities ``p`` (d,), augmentation noise ``sigma``.

    Raises:
        ValueError: ``phi`` negative, ``p`` outside [0, 1], ``sigma`` < 0, or lengths differ.
    """

    phi: tuple
    p: tuple
    sigma: float = 0.0

    def __post_init__(self):
        phi, p = _as_vector("phi", self.phi), _as_vector("p", self.p)
        if phi.shape != p.shape:
            raise ValueError(f"phi and p need one value per feature; got {phi.size} and {p.size}")
        if np.any(phi < 0):
            raise ValueError(f"feature strengths phi must be >= 0; got {phi}")
        if np.any((p < 0) | (p > 1)):
            raise ValueError(f"drop probabilities p must lie in [0, 1]; got {p}")
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"augmentation noise sigma must be finite and >= 0; got {self.sigma}")
        object.__setattr__(self, "phi", tuple(phi.tolist()))
        object.__setattr__(self, "p", tuple(p.tolist()))

    @property
    def dim(self) -> int:
        return len(self.phi)

    def _tensors(self):
        return torch.tensor(self.phi), torch.tensor(self.p)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean inputs and their latents: ``(x, z)``, both (n, d) float64; ``x = phi * z``."""
        phi, _ = self._tensors()
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return phi * z, z

    def sample_pairs(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two augmented views ``(x, x_plus)``, each (n, d) float64, of n independent inputs."""
        phi, p = self._tensors()
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        redraw = torch.rand(n, self.dim, generator=generator, dtype=torch.float64) < p
        z_plus = torch.where(redraw, torch.randn(n, self.dim, generator=generator,
                                                 dtype=torch.float64), z)
        noise = self.sigma * torch.randn(2, n, self.dim, generator=generator, dtype=torch.float64)
        return phi * z + noise[0], phi * z_plus + noise[1]
