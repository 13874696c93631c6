"""srlab: single-image super-resolution research framework (PyTorch Lightning + Hydra + W&B).

Public API::

    import srlab

    lr = srlab.imresize(hr, 1 / 3)  # MATLAB-exact bicubic, (C,H,W) or (B,C,H,W)
    srlab.psnr(sr, hr, crop_border=3)  # SR protocol: 8-bit, Y (BT.601), border crop
    model = srlab.load_model("best.ckpt")  # rebuilt from the checkpoint alone
    sr = srlab.upscale(model, "photo.png")  # float (3, sH, sW) in [0, 1]
"""

__version__ = "0.1.0"

from importlib import import_module
from typing import Any

# Public names -> the module that defines them. Imported on first use (PEP 562), so that tools
# which need no torch (e.g. `srlab-mos`) start fast; `from srlab import psnr` works as usual.
_EXPORTS = {
    "rgb_to_y": ".core.color",
    "rgb_to_ycbcr": ".core.color",
    "ycbcr_to_rgb": ".core.color",
    "imresize": ".core.imresize",
    "SRLabError": ".errors",
    "upscale": ".inference",
    "PSNR": ".metrics",
    "SSIM": ".metrics",
    "psnr": ".metrics",
    "ssim": ".metrics",
    "SRModule": ".models",
    "load_model": ".models",
    "load_net_weights": ".models",
    "interpolate_checkpoints": ".models",
    "interpolate_state_dicts": ".models",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "__version__",
    "imresize",
    "psnr",
    "ssim",
    "PSNR",
    "SSIM",
    "load_model",
    "load_net_weights",
    "interpolate_checkpoints",
    "interpolate_state_dicts",
    "upscale",
    "SRModule",
    "SRLabError",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]
