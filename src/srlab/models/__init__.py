"""LightningModules, and rebuilding them from checkpoints.

They receive built objects (net, loss, optimizer factory) and never name a concrete
architecture.
"""

from .checkpoint import load_model, load_net_weights, read_checkpoint
from .gan_module import GANModule
from .interpolation import interpolate_checkpoints, interpolate_state_dicts
from .sr_module import SRModule

__all__ = [
    "SRModule",
    "GANModule",
    "load_model",
    "load_net_weights",
    "read_checkpoint",
    "interpolate_checkpoints",
    "interpolate_state_dicts",
]
