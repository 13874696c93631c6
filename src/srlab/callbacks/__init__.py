"""Lightning callbacks."""

from .images import ValidationImages

__all__ = ["ValidationImages"]
