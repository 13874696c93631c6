"""srlab: single-image super-resolution research framework (PyTorch Lightning + Hydra + W&B).

Public API::

    import srlab
    lr = srlab.imresize(hr, 1 / 3)                # MATLAB-exact bicubic, (C,H,W) or (B,C,H,W)
    srlab.psnr(sr, hr, crop_border=3)             # SR protocol: 8-bit, Y (BT.601), border crop
    model = srlab.load_model("best.ckpt")          # rebuilt from the checkpoint alone
    sr = srlab.upscale(model, "photo.png")         # float (3, sH, sW) in [0, 1]
"""

__version__ = "0.1.0"

from .color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb  # noqa: E402
from .data.imresize import imresize  # noqa: E402
from .errors import SRLabError  # noqa: E402
from .inference import upscale  # noqa: E402
from .metrics import PSNR, SSIM, psnr, ssim  # noqa: E402
from .models import SRModule, load_model, load_net_weights  # noqa: E402

__all__ = [
    "__version__",
    "imresize",
    "psnr",
    "ssim",
    "PSNR",
    "SSIM",
    "load_model",
    "load_net_weights",
    "upscale",
    "SRModule",
    "SRLabError",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]
