"""Loss terms (nn.Modules) and their weighted combination."""

from .adversarial import (
    AdversarialLoss,
    relativistic_discriminator_loss,
    relativistic_generator_loss,
    standard_discriminator_loss,
    standard_generator_loss,
)
from .deep import DeepSupervision
from .perceptual import PerceptualLoss, TextureLoss, VGGFeatures
from .pixel import CharbonnierLoss, L1Loss, MSELoss, charbonnier_loss
from .weighted import WeightedSum

__all__ = [
    "CharbonnierLoss",
    "L1Loss",
    "MSELoss",
    "charbonnier_loss",
    "WeightedSum",
    "DeepSupervision",
]
__all__ += [
    "AdversarialLoss",
    "standard_generator_loss",
    "standard_discriminator_loss",
    "relativistic_generator_loss",
    "relativistic_discriminator_loss",
    "PerceptualLoss",
    "TextureLoss",
    "VGGFeatures",
]
