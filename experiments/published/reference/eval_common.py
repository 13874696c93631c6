import glob
import os

import numpy as np
import torch

# folder with the release files (lap/, idn/, vdsr/) and the benchmark BMPs (Set5/, Set14/)
RELEASES = os.environ.get("RELEASES", "/tmp/rel")
from PIL import Image

from srlab import psnr
from srlab.core.color import rgb_to_y
from srlab.data.degradation import bicubic_downscale, mod_crop

torch.set_grad_enabled(False)


def images(setname):
    for p in sorted(glob.glob(f"{RELEASES}/{setname}/*.bmp")):
        im = np.asarray(Image.open(p).convert("RGB"))
        yield os.path.basename(p), torch.from_numpy(im.copy()).permute(2, 0, 1).float() / 255


def pairs(setname, s):
    for name, hr in images(setname):
        hr = mod_crop(hr, s)
        lr = bicubic_downscale(
            hr, s, quantize=os.environ.get("LRQ", "1") == "1"
        )  # srlab protocol: 8-bit LR
        yield name, rgb_to_y(lr)[None], rgb_to_y(hr)[None]


def score(sr, hr_y, s):
    return float(psnr(sr.clamp(0, 1), hr_y, crop_border=s)[0])
