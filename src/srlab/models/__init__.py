"""LightningModules. They receive built objects (net, loss, optimizer factory) and never name a
concrete architecture."""

from .checkpoint import load_model, load_net_weights, read_checkpoint
from .gan_module import GANModule
from .sr_module import SRModule, final_output

__all__ = ["SRModule", "GANModule", "final_output", "load_model", "load_net_weights", "read_checkpoint"]
