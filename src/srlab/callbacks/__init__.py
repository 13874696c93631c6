"""Lightning callbacks."""

from .grad_clip import AdjustableGradientClipping
from .images import ValidationImages
from .loss_schedule import LossWeightSchedule

__all__ = ["ValidationImages", "LossWeightSchedule", "AdjustableGradientClipping"]
