"""Shared inputs and scoring of the reference comparisons (``eval_*.py``).

The benchmark BMPs are read from ``$RELEASES/<set>/*.bmp``; the LR input is srlab's protocol
(mod-crop, MATLAB bicubic downscale, 8-bit LR unless ``LRQ=0``) and both srlab's output and the
reference's are scored as 8-bit Y PSNR with the border crop equal to the scale.
"""

import glob
import os
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image

from srlab import psnr
from srlab.core.color import rgb_to_y
from srlab.data.degradation import bicubic_downscale, mod_crop

# folder with the release files (lap/, idn/, vdsr/) and the benchmark BMPs (Set5/, Set14/)
RELEASES = os.environ.get("RELEASES", "/tmp/rel")

torch.set_grad_enabled(False)


def images(setname: str) -> Iterator[tuple[str, torch.Tensor]]:
    for p in sorted(glob.glob(f"{RELEASES}/{setname}/*.bmp")):
        im = np.asarray(Image.open(p).convert("RGB"))
        yield os.path.basename(p), torch.from_numpy(im.copy()).permute(2, 0, 1).float() / 255


def pairs(setname: str, s: int) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    for name, hr in images(setname):
        hr = mod_crop(hr, s)
        lr = bicubic_downscale(
            hr, s, quantize=os.environ.get("LRQ", "1") == "1"
        )  # srlab protocol: 8-bit LR
        yield name, rgb_to_y(lr)[None], rgb_to_y(hr)[None]


def score(sr: torch.Tensor, hr_y: torch.Tensor, s: int) -> float:
    return float(psnr(sr.clamp(0, 1), hr_y, crop_border=s)[0])
