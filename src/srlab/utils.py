"""Small helpers shared by the entry points and the public API."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["build_from_spec", "locate"]


def locate(path: str) -> Any:
    """Import ``"package.module.Name"`` and return ``Name``."""
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ImportError(f"cannot import {path!r}: {e}") from None


def build_from_spec(spec: Mapping[str, Any]) -> Any:
    """Build an object from a flat ``{"_target_": "pkg.Class", **kwargs}`` spec.

    This is what a checkpoint stores about its network, so that a model can be rebuilt from the
    checkpoint alone without Hydra (nets take plain keyword arguments, so no recursion needed).
    """
    kwargs = {k: v for k, v in spec.items() if not (k.startswith("_") and k.endswith("_"))}
    return locate(spec["_target_"])(**kwargs)
