"""Adversarial losses for GAN super-resolution, for the generator and for the discriminator.

The standard GAN loss (SRGAN, EnhanceNet) and the relativistic average GAN loss (ESRGAN).

All functions take the discriminator's raw logits (``(B, 1)`` or ``(B,)``); the sigmoid of the
papers sits inside ``binary_cross_entropy_with_logits``. Written here because neither torch nor
kornia has GAN losses. Notation: ``BCE(z, y) = -[y log s(z) + (1 - y) log(1 - s(z))]``,
averaged over the batch, ``s`` the sigmoid.

- standard, discriminator: ``real = BCE(D(x), 1)``, ``fake = BCE(D(G(z)), 0)``.
- standard, generator: ``BCE(D(G(z)), 1) = -log s(D(G(z)))``, the non-saturating form SRGAN
  uses instead of ``log(1 - s(D(G(z))))``.
- relativistic average (``D_Ra(a, b) = s(C(a) - mean C(b))``), discriminator:
  ``real = BCE(C(x) - mean C(G(z)), 1)``, ``fake = BCE(C(G(z)) - mean C(x), 0)``.
- relativistic average, generator: the same with the labels swapped,
  ``(BCE(C(x) - mean C(G(z)), 0) + BCE(C(G(z)) - mean C(x), 1)) / 2``: the generator gets
  gradients from the real images' term too.

The discriminator loss (and the relativistic generator loss) is the *mean* of its two terms, as
in ESRGAN's released code and Lightning's GAN example; the papers write the sum. Adam is
invariant to that constant factor for the discriminator; for the generator it is what the
published weight (ESRGAN: 5e-3) was used with.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from ..errors import SRLabError

__all__ = [
    "AdversarialLoss",
    "standard_generator_loss",
    "standard_discriminator_loss",
    "relativistic_generator_loss",
    "relativistic_discriminator_loss",
]

KINDS = ("standard", "relativistic")


def _bce(logits: Tensor, label: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, logits.new_full(logits.shape, label))


def standard_generator_loss(d_fake: Tensor) -> Tensor:
    """Non-saturating generator loss ``-mean log s(D(G(z)))``.

    Example:
        >>> import torch
        >>> round(standard_generator_loss(torch.zeros(4, 1)).item(), 4)  # -log(1/2)
        0.6931
    """
    return _bce(d_fake, 1.0)


def standard_discriminator_loss(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(total, real term, fake term)`` with ``total = (real + fake) / 2``."""
    real, fake = _bce(d_real, 1.0), _bce(d_fake, 0.0)
    return (real + fake) / 2, real, fake


def _check_pair(d_real: Tensor, d_fake: Tensor) -> None:
    if d_real.shape != d_fake.shape:
        raise ValueError(
            "discriminator outputs differ in shape: "
            f"real {tuple(d_real.shape)}, fake {tuple(d_fake.shape)}"
        )


def relativistic_generator_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """ESRGAN's generator loss ``(BCE(C(x) - E C(G(z)), 0) + BCE(C(G(z)) - E C(x), 1)) / 2``.

    ``d_real`` is usually detached (the discriminator is fixed in the generator step).
    """
    _check_pair(d_real, d_fake)
    return (_bce(d_real - d_fake.mean(), 0.0) + _bce(d_fake - d_real.mean(), 1.0)) / 2


def relativistic_discriminator_loss(
    d_real: Tensor, d_fake: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """ESRGAN's discriminator loss as ``(total, real term, fake term)``.

    ``real = BCE(C(x) - E C(G(z)), 1)``, ``fake = BCE(C(G(z)) - E C(x), 0)``,
    ``total = (real + fake) / 2``.
    """
    _check_pair(d_real, d_fake)
    real = _bce(d_real - d_fake.mean(), 1.0)
    fake = _bce(d_fake - d_real.mean(), 0.0)
    return (real + fake) / 2, real, fake


class AdversarialLoss(nn.Module):
    """An adversarial term of a generator loss (a :class:`~srlab.losses.WeightedSum` term).

    Unlike the other terms it does not compare a prediction with a target: the GAN module
    (:class:`srlab.models.GANModule`) finds it by its ``adversarial`` flag and calls
    :meth:`generator_loss` with the discriminator's outputs, and :meth:`discriminator_loss` for
    the discriminator's step. The term's weight in the ``WeightedSum`` is the adversarial weight
    (SRGAN 1e-3, ESRGAN 5e-3).

    Args:
        kind: ``"standard"`` (SRGAN, EnhanceNet) or ``"relativistic"`` (ESRGAN's RaGAN).
    """

    adversarial = True

    def __init__(self, kind: str = "standard") -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"AdversarialLoss: kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind

    @property
    def needs_real(self) -> bool:
        """Whether the generator loss also needs ``D(real)`` (relativistic)."""
        return self.kind == "relativistic"

    def generator_loss(self, d_fake: Tensor, d_real: Tensor | None = None) -> Tensor:
        """The generator's adversarial loss.

        Args:
            d_fake: discriminator logits on the generated images.
            d_real: discriminator logits on the real images (the relativistic loss needs them).

        Returns:
            The scalar loss.
        """
        if self.kind == "standard":
            return standard_generator_loss(d_fake)
        if d_real is None:
            raise ValueError(
                "the relativistic generator loss needs the discriminator's output on real images"
            )
        return relativistic_generator_loss(d_real, d_fake)

    def discriminator_loss(self, d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(total, real term, fake term)``."""
        if self.kind == "standard":
            return standard_discriminator_loss(d_real, d_fake)
        return relativistic_discriminator_loss(d_real, d_fake)

    @override
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        raise SRLabError(
            "an adversarial loss term needs a discriminator: train with model=gan "
            "(conf/model/gan.yaml), not with the pixel-loss SRModule"
        )

    @override
    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
