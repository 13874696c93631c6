"""Lightning callbacks."""

from .ema import EMA
from .grad_clip import AdjustableGradientClipping
from .images import ValidationImages
from .loss_schedule import LossWeightSchedule
from .nan import StopOnNonFiniteLoss
from .throughput import TrainingThroughput

__all__ = ["ValidationImages", "LossWeightSchedule", "AdjustableGradientClipping", "StopOnNonFiniteLoss", "EMA", "TrainingThroughput"]
