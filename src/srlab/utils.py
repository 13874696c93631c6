"""Small helpers shared by the entry points and the public API."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .errors import SRLabError

__all__ = ["build_from_spec", "check_spec", "network_classes", "upgrade_spec", "locate"]


def locate(path: str) -> Any:
    """Import ``"package.module.Name"`` and return ``Name``.

    Only for names that come from srlab's own code or configs: never call it on a name read
    from a file (a checkpoint's network description goes through :func:`build_from_spec`).
    """
    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise ImportError(f"cannot import {path!r}: {e}") from None


def network_classes() -> dict[str, type]:
    """The only classes a network description may name: ``_target_`` -> class.

    Every network and discriminator that :func:`srlab.archs.networks` finds in the modules of
    :mod:`srlab.archs` (a public ``SRNet`` or ``Discriminator`` subclass with its own
    constructor, defined in ``srlab/archs/<file>.py``), each under its public name
    (``srlab.archs.EDSR``) and its defining module's name (``srlab.archs.edsr.EDSR``). Finding
    them imports only the modules of that package, never a name taken from a file, and nothing
    outside :mod:`srlab.archs` is ever in the table.
    """
    from . import archs

    table: dict[str, type] = {}
    for name, cls in archs.networks().items():
        table[f"srlab.archs.{name}"] = cls
        table[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return table


def upgrade_spec(spec: Mapping[str, Any], cls: type | None = None) -> dict[str, Any]:
    """``spec`` with the argument names its network has since renamed replaced by the new ones.

    A network that renames a constructor argument records ``renamed_args = {old: new}`` on its
    class, so that checkpoints written before the rename (whose ``net_spec`` carries the old
    name) still build. Keys are kept in order; a spec without old names comes back as a copy.

    Args:
        spec: a network description, ``{"_target_": ..., **kwargs}``.
        cls: its class, when already looked up (otherwise :func:`check_spec` finds it).

    Raises:
        SRLabError: ``spec`` names no srlab network, or gives an argument under both its old and
            its new name.
    """
    cls = cls or check_spec(spec)
    renamed: Mapping[str, str] = getattr(cls, "renamed_args", {})
    both = [f"{k!r}/{renamed[k]!r}" for k in spec if k in renamed and renamed[k] in spec]
    if both:
        raise SRLabError(
            f"the network description of {cls.__name__} gives {', '.join(both)}: one argument "
            "under its old and its new name"
        )
    return {renamed.get(k, k) if isinstance(k, str) else k: v for k, v in spec.items()}


def _describe(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_spec(spec: Any, what: str = "the network description") -> type:
    """The srlab network class ``spec`` names, checked before anything is built.

    Nothing is imported or called besides the modules of :mod:`srlab.archs`.

    Args:
        spec: a network description, ``{"_target_": "srlab.archs.<Name>", **kwargs}``.
        what: how error messages name ``spec`` (e.g. ``"<file>: the network description"``).

    Returns:
        the class, one of :func:`network_classes`.

    Raises:
        SRLabError: one sentence, when ``spec`` is not such a mapping or names a class that is
            not one of :func:`network_classes`.
    """
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise SRLabError(f"{what} must be a mapping with a '_target_' key, got {_describe(spec)}")
    target = spec["_target_"]
    if not isinstance(target, str):
        raise SRLabError(
            f"{what} names {_describe(target)} as its '_target_'; "
            "expected the name of an srlab network"
        )
    table = network_classes()
    cls = table.get(target)
    if cls is None:
        known = ", ".join(sorted(k.rsplit(".", 1)[-1] for k in table if k.count(".") == 2))
        raise SRLabError(
            f"{what} names {target!r}, which is not an srlab network: only srlab.archs classes "
            f"are built ({known})"
        )
    return cls


def build_from_spec(spec: Mapping[str, Any]) -> Any:
    """Build an srlab network from a flat ``{"_target_": "srlab.archs.Class", **kwargs}`` spec.

    This is what a checkpoint stores about its network, so that a model can be rebuilt from the
    checkpoint alone without Hydra (nets take plain keyword arguments, so no recursion needed).
    Argument names the network has renamed since the checkpoint was written are mapped to the
    new ones first (:func:`upgrade_spec`).
    ``_target_`` is looked up in :func:`network_classes` before anything is imported or called:
    any other name (``subprocess.run``, ``os.system``, ...) is refused.

    Raises:
        SRLabError: ``spec`` is malformed or names something that is not an srlab network.
        TypeError, ValueError: the network's constructor refused the arguments (e.g. a scale
            it does not support), as raised by the constructor.
    """
    cls = check_spec(spec)
    spec = upgrade_spec(spec, cls)
    kwargs = {
        k: v
        for k, v in spec.items()
        if not (isinstance(k, str) and k.startswith("_") and k.endswith("_"))
    }
    bad = [k for k in kwargs if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise SRLabError(
            f"the network description of {cls.__name__} has invalid argument names: {bad[:4]}"
        )
    return cls(**kwargs)
