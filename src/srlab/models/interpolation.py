"""ESRGAN's network interpolation: a blend of a PSNR-oriented and a GAN generator.

``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN`` for every floating-point tensor of the
generator (Wang et al., ESRGAN, ECCVW 2018, section 3.4): alpha 0 gives the PSNR model and 1 the
GAN model, exactly; the values between trade PSNR for perceptual quality without the GAN's
artefacts. Integer buffers (BN's ``num_batches_tracked``) are taken from the nearer end.

    ckpt = interpolate_checkpoints("esrnet/best.ckpt", "esrgan/last.ckpt", 0.8, out="interp.ckpt")
    model = srlab.load_model("interp.ckpt")

The two checkpoints must hold one network: the same class with the same arguments, compared
after the renames of :func:`srlab.utils.upgrade_spec` (a checkpoint written before an argument
was renamed describes the same network as one written after) and with the constructor's
defaults filled in.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..data.io import atomic_path
from ..errors import SRLabError
from ..utils import check_spec, upgrade_spec
from .checkpoint import net_state_dict, read_checkpoint

__all__ = ["interpolate_state_dicts", "interpolate_checkpoints"]


def interpolate_state_dicts(
    psnr: Mapping[str, Tensor], gan: Mapping[str, Tensor], alpha: float
) -> dict[str, Tensor]:
    """``(1 - alpha) * psnr + alpha * gan``, tensor by tensor, of two state dicts of one network.

    Args:
        psnr: the PSNR-oriented generator's state dict (``alpha = 0``).
        gan: the GAN generator's state dict (``alpha = 1``), with the same names and shapes.
        alpha: the weight of ``gan``, in [0, 1]. 0 and 1 give exact copies of one input;
            non-floating tensors (``num_batches_tracked``) come from the nearer end.

    Returns:
        A new state dict (in ``psnr``'s order and dtypes) that the network loads.

    Raises:
        SRLabError: ``alpha`` is outside [0, 1], or the state dicts differ in names or shapes.

    Example:
        >>> a, b = (
        ...     {"w": torch.zeros(2), "n": torch.tensor(1)},
        ...     {"w": torch.ones(2), "n": torch.tensor(9)},
        ... )
        >>> out = interpolate_state_dicts(a, b, 0.8)
        >>> out["w"], out["n"]
        (tensor([0.8000, 0.8000]), tensor(9))
    """
    if not 0.0 <= alpha <= 1.0:
        raise SRLabError(f"alpha must be in [0, 1], got {alpha}")
    if set(psnr) != set(gan):
        only = sorted(set(psnr) ^ set(gan))
        raise SRLabError(
            f"the two generators have different tensors ({', '.join(only[:6])}...): "
            "not the same network"
        )
    out = {}
    for name, a in psnr.items():
        b = gan[name]
        if a.shape != b.shape:
            raise SRLabError(
                f"tensor {name} has shape {tuple(a.shape)} in the PSNR generator but "
                f"{tuple(b.shape)} in the GAN generator"
            )
        if alpha == 0.0 or alpha == 1.0 or not a.is_floating_point():
            out[name] = (b if alpha >= 0.5 else a).clone()
        else:
            out[name] = torch.lerp(a, b.to(a.dtype), alpha)
    return out


def _net_spec(ckpt: Mapping[str, Any], path: Path) -> tuple[type, dict[str, Any]]:
    """The network class and description of a checkpoint, argument names upgraded."""
    spec = (ckpt.get("srlab") or {}).get("net")
    if not spec:
        raise SRLabError(f"{path} has no srlab network description; was it written by srlab-train?")
    cls = check_spec(spec, f"{path}: the network description")
    try:
        return cls, upgrade_spec(spec, cls)
    except SRLabError as e:
        raise SRLabError(f"{path}: {e}") from None


def _arguments(cls: type, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments ``spec`` gives ``cls``, its defaults filled in.

    Arguments the constructor does not take are kept as they are (building the network reports
    them).
    """
    kwargs = {k: v for k, v in spec.items() if not str(k).startswith("_")}
    try:
        bound = inspect.signature(cls).bind_partial(**kwargs)
    except TypeError:
        return kwargs
    bound.apply_defaults()
    return dict(bound.arguments)


def _spec_difference(
    spec_a: tuple[type, dict[str, Any]], spec_b: tuple[type, dict[str, Any]]
) -> str | None:
    """How two network descriptions differ, in words; ``None`` when they are one network."""
    (cls_a, a), (cls_b, b) = spec_a, spec_b
    if cls_a is not cls_b:
        return f"{cls_a.__name__} vs {cls_b.__name__}"
    args_a, args_b = _arguments(cls_a, a), _arguments(cls_b, b)
    if args_a == args_b:
        return None
    missing = object()
    keys = [k for k in {**args_a, **args_b} if args_a.get(k, missing) != args_b.get(k, missing)]

    def shown(args: Mapping[str, Any], key: str) -> str:
        return repr(args[key]) if key in args else "not given"

    return f"{cls_a.__name__} with " + ", ".join(
        f"{k} {shown(args_a, k)} vs {shown(args_b, k)}" for k in keys
    )


def interpolate_checkpoints(
    psnr_path: str | os.PathLike[str],
    gan_path: str | os.PathLike[str],
    alpha: float,
    out: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """The network interpolation of two srlab-train checkpoints of the same generator.

    Args:
        psnr_path: checkpoint of the PSNR-oriented model (``alpha = 0``), e.g. of
            ``experiment=esrnet_x4``.
        gan_path: checkpoint of the GAN model (``alpha = 1``), e.g. of ``experiment=esrgan_x4``.
        alpha: the weight of the GAN model, in [0, 1] (ESRGAN shows 0.8).
        out: also write the checkpoint to this file (under a temporary name, then renamed).

    Returns:
        A generator-only checkpoint for :func:`srlab.load_model`, ``srlab-eval`` and
        ``srlab-upscale``: ``state_dict`` (``net.*`` keys), the GAN checkpoint's ``srlab``
        metadata without its discriminator (its network description with today's argument
        names) plus ``interpolation`` (both paths and alpha), and the evaluation
        ``hyper_parameters`` (``crop_border``, ``metric_y_channel``). It holds no
        discriminator or optimizer state, so it does not resume training.

    Raises:
        SRLabError: a checkpoint is missing or unreadable, has no srlab network description, the
            two describe different networks (class or arguments, see the module notes), or
            ``alpha`` is outside [0, 1].
    """
    psnr_path, gan_path = Path(psnr_path), Path(gan_path)
    a, b = read_checkpoint(psnr_path), read_checkpoint(gan_path)
    spec_a, spec_b = _net_spec(a, psnr_path), _net_spec(b, gan_path)
    difference = _spec_difference(spec_a, spec_b)
    if difference is not None:
        raise SRLabError(f"{psnr_path} and {gan_path} hold different networks: {difference}")
    state = interpolate_state_dicts(net_state_dict(a), net_state_dict(b), float(alpha))
    hp = b.get("hyper_parameters") or {}
    meta = dict(b["srlab"])
    meta.pop("disc", None)
    meta["net"] = spec_b[1]
    meta["interpolation"] = {"psnr": str(psnr_path), "gan": str(gan_path), "alpha": float(alpha)}
    ckpt = {
        "state_dict": {f"net.{k}": v for k, v in state.items()},
        "srlab": meta,
        "hyper_parameters": {k: hp[k] for k in ("crop_border", "metric_y_channel") if k in hp},
    }
    if out is not None:
        with atomic_path(out) as tmp:
            torch.save(ckpt, tmp)
    return ckpt
