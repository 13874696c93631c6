"""User-facing errors: one clear sentence naming the thing at fault.

Entry points catch :class:`SRLabError` and print its message without a traceback.
"""

from __future__ import annotations

__all__ = ["SRLabError"]


class SRLabError(Exception):
    """An error caused by the user's input (a path, an image, a config value), not by srlab."""
