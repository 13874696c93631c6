"""Lightning callbacks."""

from .distributed import RankFailureGuard, rank_failures
from .ema import EMA
from .grad_clip import AdjustableGradientClipping
from .images import ValidationImages
from .loss_schedule import LossWeightSchedule
from .nan import AllRanksStopped, StopOnNonFiniteLoss
from .throughput import TrainingThroughput

__all__ = [
    "ValidationImages",
    "LossWeightSchedule",
    "AdjustableGradientClipping",
    "StopOnNonFiniteLoss",
    "EMA",
    "TrainingThroughput",
    "RankFailureGuard",
    "rank_failures",
    "AllRanksStopped",
]
