"""Training settings that follow from the model and the data.

The rules ``srlab-train`` applies to its config before building the run, as plain functions
(plain values or mappings in, values out; an OmegaConf container works as a mapping).

- :func:`fit_disc_to_patches`: a discriminator with a dense head takes inputs of one size, the
  HR training patch side (``input_size: null`` is filled in from the data config).
- :func:`resolve_ddp_strategy`: multi-scale networks and GANs leave parameters without a gradient
  in a step, which DDP must be told (``find_unused_parameters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SRLabError

__all__ = [
    "hr_patch_size",
    "fit_disc_to_patches",
    "needs_unused_parameters",
    "resolve_ddp_strategy",
]


def hr_patch_size(data: Mapping[str, Any], scale: int) -> int | None:
    """The HR training patch side of a data config.

    ``hr_patch_size``, else ``patch_size`` (LR pixels) times ``scale``; ``None`` when the config
    gives neither.

    Example:
        >>> (
        ...     hr_patch_size({"patch_size": 24}, 4),
        ...     hr_patch_size({"hr_patch_size": 128}, 4),
        ...     hr_patch_size({}, 4),
        ... )
        (96, 128, None)
    """
    hr = data.get("hr_patch_size") or (data.get("patch_size") or 0) * scale
    return int(hr) if hr else None


def fit_disc_to_patches(
    disc_spec: Mapping[str, Any], data: Mapping[str, Any], scale: int
) -> dict[str, Any]:
    """A discriminator's description sized to the HR training patches.

    A dense head (SRGAN's, ESRGAN's VGG-style discriminator) fixes the input size:
    ``input_size: None`` becomes the HR patch side of ``data`` (:func:`hr_patch_size`); an
    explicit size must equal it. A data config without a patch size leaves an explicit size as is.

    Args:
        disc_spec: ``{"_target_": ..., "input_size": ..., **kwargs}`` of the discriminator.
        data: the data config (``hr_patch_size`` or ``patch_size``).
        scale: the network's scale.

    Returns:
        The description with ``input_size`` set (a new dict when it was filled in).

    Raises:
        SRLabError: ``input_size`` is null and ``data`` gives no patch size, or it differs from
            the HR patch side.

    Example:
        >>> fit_disc_to_patches(
        ...     {"_target_": "srlab.archs.VGGDiscriminator", "input_size": None},
        ...     {"patch_size": 32},
        ...     4,
        ... )
        {'_target_': 'srlab.archs.VGGDiscriminator', 'input_size': 128}
    """
    hr = hr_patch_size(data, scale)
    size = disc_spec.get("input_size")
    if size is None:
        if not hr:
            raise SRLabError(
                "model.disc.input_size is null and the data config gives no patch size "
                "to take it from"
            )
        return {**disc_spec, "input_size": hr}
    if hr and int(size) != hr:
        raise SRLabError(
            f"the discriminator expects {size}x{size} inputs (model.disc.input_size={size}) "
            f"but the HR training patches are {hr}x{hr} (data.patch_size * scale); "
            "leave input_size null or make them equal"
        )
    return dict(disc_spec)


def needs_unused_parameters(model: Any) -> bool:
    """Whether a step of ``model`` leaves parameters without a gradient.

    DDP must then run with ``find_unused_parameters``. The answer is the model's
    ``ddp_find_unused_parameters`` (a GAN: each network's step leaves the other alone; a
    multi-scale network: one scale's head and upsampler per step), else its ``multi_scale``.
    """
    return bool(getattr(model, "ddp_find_unused_parameters", getattr(model, "multi_scale", False)))


def resolve_ddp_strategy(strategy: Any, model: Any) -> Any:
    """The Lightning ``strategy`` setting to train ``model`` with.

    When :func:`needs_unused_parameters`: ``"ddp"`` becomes ``"ddp_find_unused_parameters_true"``
    and a ``{"_target_": ...DDPStrategy, ...}`` description gets ``find_unused_parameters: True``
    (a new dict; one that sets it already is kept). Anything else is returned as is (the same
    object), so ``result is strategy`` tells whether something changed.

    Example:
        >>> class MultiScale:
        ...     multi_scale = True
        >>> resolve_ddp_strategy("ddp", MultiScale()), resolve_ddp_strategy("auto", MultiScale())
        ('ddp_find_unused_parameters_true', 'auto')
        >>> resolve_ddp_strategy(
        ...     {"_target_": "pytorch_lightning.strategies.DDPStrategy"}, MultiScale()
        ... )
        {'_target_': 'pytorch_lightning.strategies.DDPStrategy', 'find_unused_parameters': True}
    """
    if not needs_unused_parameters(model):
        return strategy
    if strategy == "ddp":
        return "ddp_find_unused_parameters_true"
    if (
        isinstance(strategy, Mapping)
        and str(strategy.get("_target_", "")).endswith("DDPStrategy")
        and strategy.get("find_unused_parameters") is None
    ):
        return {**strategy, "find_unused_parameters": True}
    return strategy
