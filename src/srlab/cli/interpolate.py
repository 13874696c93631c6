"""srlab-interp: ESRGAN's network interpolation, a blend of a PSNR-oriented and a GAN generator.

``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN`` for every floating-point tensor of the
generator (alpha 0: the PSNR model, 1: the GAN model, exactly); integer buffers (BN's
``num_batches_tracked``) are taken from the nearer end. The two checkpoints must hold the same
network (same class and arguments; an old checkpoint's renamed arguments count under their new
names), e.g. ``experiment=esrnet_x4`` and its GAN stage ``experiment=esrgan_x4``. The output
is a generator-only checkpoint for ``srlab.load_model``, ``srlab-eval`` and ``srlab-upscale`` (no
discriminator or optimizer state: it does not resume training), written to a temporary name and
renamed. The blend, the check and the writing are
:func:`srlab.models.interpolation.interpolate_checkpoints`'s.

    srlab-interp --psnr esrnet/best.ckpt --gan esrgan/last.ckpt --alpha 0.8 --out interp.ckpt
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..errors import SRLabError
from ..models.interpolation import interpolate_checkpoints
from .common import report_user_errors

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="srlab-interp",
        description="Blend a PSNR-oriented and a GAN generator (ESRGAN network interpolation): "
        "(1 - alpha) * PSNR + alpha * GAN.",
    )
    p.add_argument(
        "--psnr", required=True, help="checkpoint of the PSNR-oriented model (alpha = 0)"
    )
    p.add_argument("--gan", required=True, help="checkpoint of the GAN model (alpha = 1)")
    p.add_argument(
        "--alpha",
        type=float,
        required=True,
        help="weight of the GAN model, in [0, 1] (ESRGAN shows 0.8)",
    )
    p.add_argument("--out", required=True, help="checkpoint to write")
    return p


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    """``srlab-interp``: blend the two checkpoints and write the result atomically."""
    args = _parser().parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        raise SRLabError(f"--alpha must be in [0, 1], got {args.alpha}")
    out = Path(args.out)
    interpolate_checkpoints(args.psnr, args.gan, args.alpha, out=out)
    blend = f"{1 - args.alpha:g} x {args.psnr} + {args.alpha:g} x {args.gan}"
    print(f"wrote {out} (alpha {args.alpha}: {blend})")


if __name__ == "__main__":
    main()
