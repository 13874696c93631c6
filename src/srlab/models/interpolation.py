"""ESRGAN's network interpolation: a blend of a PSNR-oriented and a GAN generator.

``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN`` for every floating-point tensor of the
generator (Wang et al., ESRGAN, ECCVW 2018, section 3.4): alpha 0 gives the PSNR model and 1 the
GAN model, exactly; the values between trade PSNR for perceptual quality without the GAN's
artefacts. Integer buffers (BN's ``num_batches_tracked``) are taken from the nearer end.

    ckpt = interpolate_checkpoints("esrnet/best.ckpt", "esrgan/last.ckpt", alpha=0.8)
    torch.save(ckpt, "interp.ckpt")          # srlab-interp writes it atomically
    model = srlab.load_model("interp.ckpt")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import SRLabError
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


def _net_spec(ckpt: Mapping[str, Any], path: Path) -> dict[str, Any]:
    spec = (ckpt.get("srlab") or {}).get("net")
    if not spec:
        raise SRLabError(f"{path} has no srlab network description; was it written by srlab-train?")
    return dict(spec)


def interpolate_checkpoints(
    psnr_path: str | os.PathLike[str], gan_path: str | os.PathLike[str], alpha: float
) -> dict[str, Any]:
    """The network interpolation of two srlab-train checkpoints of the same generator.

    Args:
        psnr_path: checkpoint of the PSNR-oriented model (``alpha = 0``), e.g. of
            ``experiment=esrnet_x4``.
        gan_path: checkpoint of the GAN model (``alpha = 1``), e.g. of ``experiment=esrgan_x4``.
        alpha: the weight of the GAN model, in [0, 1] (ESRGAN shows 0.8).

    Returns:
        A generator-only checkpoint for :func:`srlab.load_model`, ``srlab-eval`` and
        ``srlab-upscale``: ``state_dict`` (``net.*`` keys), the GAN checkpoint's ``srlab``
        metadata without its discriminator plus ``interpolation`` (both paths and alpha), and
        the evaluation ``hyper_parameters`` (``crop_border``, ``metric_y_channel``). It holds no
        discriminator or optimizer state, so it does not resume training.

    Raises:
        SRLabError: a checkpoint is missing or unreadable, has no srlab network description, the
            two describe different networks (``_target_`` or arguments), or ``alpha`` is outside
            [0, 1].
    """
    psnr_path, gan_path = Path(psnr_path), Path(gan_path)
    a, b = read_checkpoint(psnr_path), read_checkpoint(gan_path)
    spec_a, spec_b = _net_spec(a, psnr_path), _net_spec(b, gan_path)
    if spec_a != spec_b:
        raise SRLabError(
            f"{psnr_path} and {gan_path} hold different networks: {spec_a} vs {spec_b}"
        )
    state = interpolate_state_dicts(net_state_dict(a), net_state_dict(b), float(alpha))
    hp = b.get("hyper_parameters") or {}
    meta = dict(b["srlab"])
    meta.pop("disc", None)
    meta["interpolation"] = {"psnr": str(psnr_path), "gan": str(gan_path), "alpha": float(alpha)}
    return {
        "state_dict": {f"net.{k}": v for k, v in state.items()},
        "srlab": meta,
        "hyper_parameters": {k: hp[k] for k in ("crop_border", "metric_y_channel") if k in hp},
    }
