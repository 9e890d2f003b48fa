"""A feature whose sign the augmentation scrambles (Part III, Chapter 5).

Input ``x`` in R^d: coordinate 0 is the **signed feature** ``x_0 = c * a`` with a sign
``c = +-1`` (the label a downstream task wants) and a magnitude ``a = A |g|``, ``g ~ N(0, 1)``;
coordinates 1..d-1 are ordinary features, independent N(0, 1). A positive pair shares ``c``,
``a`` and the ordinary features; each view then flips ``c`` with probability ``p_flip``
(independently per view) and adds N(0, sigma^2) noise to every coordinate.

So the magnitude ``|x_0|`` is invariant to the augmentation while the sign is not: at
``p_flip = 1/2`` the two views' signs are independent and a contrastive loss has every reason
to discard the sign. What a network keeps of ``c`` is the chapter's question.
"""

from __future__ import annotations

import math

import torch


class SignFlipFeatures:
    """Sampler of the signed-feature model.

    Args:
        dim: input dimension d >= 2 (the signed feature plus d - 1 ordinary ones).
        amplitude: A > 0, the scale of the magnitude ``a = A |g|``.
        sigma: augmentation noise >= 0 on every coordinate of every view.

    Raises:
        ValueError: dim < 2, amplitude not > 0, sigma < 0, or a non-finite value.
    """

    def __init__(self, dim: int = 6, amplitude: float = 2.0, sigma: float = 0.3):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 2:
            raise ValueError(f"dim must be an int >= 2 (the signed feature plus at least one "
                             f"other), got {dim!r}")
        if not (isinstance(amplitude, (int, float)) and math.isfinite(amplitude) and amplitude > 0):
            raise ValueError(f"amplitude must be a finite number > 0, got {amplitude!r}")
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma >= 0):
            raise ValueError(f"sigma (augmentation noise) must be a finite number >= 0, got {sigma!r}")
        self.dim, self.amplitude, self.sigma = dim, float(amplitude), float(sigma)

    def _latents(self, shape: tuple, generator: torch.Generator | None):
        sign = torch.randint(0, 2, shape, generator=generator).float() * 2 - 1
        magnitude = self.amplitude * torch.randn(shape, generator=generator).abs()
        others = torch.randn(*shape, self.dim - 1, generator=generator)
        return sign, magnitude, others

    def sample(self, n: int, generator: torch.Generator | None = None):
        """Clean inputs (no augmentation) for probing.

        Returns:
            x: (n, d); sign: (n,) long labels in {0, 1} (1 means c = +1).
        """
        sign, magnitude, others = self._latents((n,), generator)
        x = torch.cat([(sign * magnitude)[:, None], others], dim=1)
        return x, (sign > 0).long()

    def sample_pairs(self, shape: tuple, p_flip, generator: torch.Generator | None = None):
        """Two augmented views of ``shape`` = (..., n) fresh samples.

        Args:
            shape: leading shape of the batch, e.g. (n,) or (models, n) for a batch of models.
            p_flip: flip probability in [0, 1]: a number, or a tensor broadcastable to
                ``shape[:-1] + (1,)`` (one per model).

        Returns:
            (view1, view2), each of shape (*shape, d).

        Raises:
            ValueError: a p_flip outside [0, 1].
        """
        p = torch.as_tensor(p_flip, dtype=torch.float32)
        if not bool(((p >= 0) & (p <= 1)).all()):
            raise ValueError(f"p_flip is a probability and must lie in [0, 1], got {p_flip!r}")
        sign, magnitude, others = self._latents(tuple(shape), generator)

        def view():
            flip = torch.rand(tuple(shape), generator=generator) < p
            signed = torch.where(flip, -sign, sign) * magnitude
            x = torch.cat([signed[..., None], others], dim=-1)
            return x + self.sigma * torch.randn(x.shape, generator=generator)

        return view(), view()
