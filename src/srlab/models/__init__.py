"""LightningModules. They receive built objects (net, loss, optimizer factory) and never name a
concrete architecture."""

from .checkpoint import load_model, load_net_weights, read_checkpoint
from .sr_module import SRModule, final_output

__all__ = ["SRModule", "final_output", "load_model", "load_net_weights", "read_checkpoint"]
