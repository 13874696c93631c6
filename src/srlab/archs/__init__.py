"""Super-resolution networks: plain ``nn.Module``s with keyword arguments (torch only)."""

from .base import SRNet, check_scale
from .espcn import ESPCN
from .srcnn import SRCNN

__all__ = ["SRNet", "check_scale", "ESPCN", "SRCNN"]
