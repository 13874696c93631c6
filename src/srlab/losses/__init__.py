"""Loss terms (nn.Modules) and their weighted combination."""

from .pixel import CharbonnierLoss, L1Loss, MSELoss, charbonnier_loss
from .weighted import WeightedSum

__all__ = ["CharbonnierLoss", "L1Loss", "MSELoss", "charbonnier_loss", "WeightedSum"]
