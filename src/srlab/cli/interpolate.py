"""srlab-interp: ESRGAN's network interpolation, a blend of a PSNR-oriented and a GAN generator.

``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN`` for every floating-point tensor of the
generator (alpha 0: the PSNR model, 1: the GAN model, exactly); integer buffers (BN's
``num_batches_tracked``) are taken from the nearer end. The two checkpoints must hold the same
network (same ``_target_`` and arguments), e.g. ``experiment=esrnet_x4`` and its GAN stage
``experiment=esrgan_x4``. The output is a generator-only checkpoint for ``srlab.load_model``,
``srlab-eval`` and ``srlab-upscale`` (no discriminator or optimizer state: it does not resume
training), written to a temporary name and renamed.

    srlab-interp --psnr esrnet/best.ckpt --gan esrgan/last.ckpt --alpha 0.8 --out interp.ckpt
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import SRLabError
from ..models.checkpoint import net_state_dict, read_checkpoint
from .common import report_user_errors

__all__ = ["interpolate_state_dicts", "interpolate_checkpoints", "main"]


def interpolate_state_dicts(psnr: Mapping[str, Tensor], gan: Mapping[str, Tensor], alpha: float) -> dict[str, Tensor]:
    """``(1 - alpha) * psnr + alpha * gan`` tensor by tensor (alpha 0 and 1 give exact copies)."""
    if not 0.0 <= alpha <= 1.0:
        raise SRLabError(f"--alpha must be in [0, 1], got {alpha}")
    if set(psnr) != set(gan):
        only = sorted(set(psnr) ^ set(gan))
        raise SRLabError(f"the two generators have different tensors ({', '.join(only[:6])}...): not the same network")
    out = {}
    for name, a in psnr.items():
        b = gan[name]
        if a.shape != b.shape:
            raise SRLabError(f"tensor {name} has shape {tuple(a.shape)} in --psnr but {tuple(b.shape)} in --gan")
        if alpha == 0.0 or alpha == 1.0 or not a.is_floating_point():
            out[name] = (b if alpha >= 0.5 else a).clone()
        else:
            out[name] = torch.lerp(a, b.to(a.dtype), alpha)
    return out


def _net_spec(ckpt: dict[str, Any], path: Path) -> dict[str, Any]:
    spec = (ckpt.get("srlab") or {}).get("net")
    if not spec:
        raise SRLabError(f"{path} has no srlab network description; was it written by srlab-train?")
    return dict(spec)


def interpolate_checkpoints(psnr_path: str | os.PathLike, gan_path: str | os.PathLike, alpha: float) -> dict[str, Any]:
    """A generator-only checkpoint (``state_dict`` with ``net.*`` keys, ``srlab`` metadata) that
    :func:`srlab.load_model` reads."""
    psnr_path, gan_path = Path(psnr_path), Path(gan_path)
    a, b = read_checkpoint(psnr_path), read_checkpoint(gan_path)
    spec_a, spec_b = _net_spec(a, psnr_path), _net_spec(b, gan_path)
    if spec_a != spec_b:
        raise SRLabError(f"{psnr_path} and {gan_path} hold different networks: {spec_a} vs {spec_b}")
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


def _atomic_save(obj: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="srlab-interp",
        description="Blend a PSNR-oriented and a GAN generator (ESRGAN network interpolation): "
        "(1 - alpha) * PSNR + alpha * GAN.",
    )
    p.add_argument("--psnr", required=True, help="checkpoint of the PSNR-oriented model (alpha = 0)")
    p.add_argument("--gan", required=True, help="checkpoint of the GAN model (alpha = 1)")
    p.add_argument("--alpha", type=float, required=True, help="weight of the GAN model, in [0, 1] (ESRGAN shows 0.8)")
    p.add_argument("--out", required=True, help="checkpoint to write")
    return p


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    out = Path(args.out)
    ckpt = interpolate_checkpoints(args.psnr, args.gan, args.alpha)
    _atomic_save(ckpt, out)
    print(f"wrote {out} (alpha {args.alpha}: {1 - args.alpha:g} x {args.psnr} + {args.alpha:g} x {args.gan})")


if __name__ == "__main__":
    main()
