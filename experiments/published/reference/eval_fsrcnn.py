"""srlab's loaded FSRCNN MATLAB releases against the authors' test code on the same LR inputs.

The reference is ``ref_fsrcnn.py`` (the authors' ``FSRCNN.m`` + ``deconv.m``, numpy/scipy
only); both are scored the same way (Y in, Y out, 8-bit Y PSNR, crop = scale). At x3 the
reference output is also scored one HR pixel further down/right ("reference+1"): where srlab's
x3 build (``deconv_shift=1``) places it, and how the authors' ``test_FSRCNN.m`` scores x3
(``shave_x3``). ``max|diff|`` compares srlab with the reference (moved at x3) away from the
first row/column.

With ``--script``, the authors' test script ``test_FSRCNN.m`` end to end instead, on the same
reference forward: Y = ``rgb2ycbcr`` of the uint8 image rounded to uint8 (a one-channel file
as it is), ``modcrop``, ``single/255``, ``imresize(., 1/s, 'bicubic')`` kept in floating point
(no 8-bit LR), ``uint8(im_h * 255)``, ``shave`` by s (at x3 ``shave_x3``, taken here as the
output one pixel up/left of the ground truth: its source was not found), ``compute_psnr``.

Usage::

    RELEASES=DIR python eval_fsrcnn.py Set5,Set14 FSRCNN/x2,FSRCNN/x3,FSRCNN-s/x4 [--script]

``DIR`` holds ``fsrcnn/FSRCNN/x{2,3,4}.mat``, ``fsrcnn/FSRCNN-s/x{2,3,4}.mat`` and the
``Set5/``, ``Set14/`` BMPs.
"""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import torch
from eval_common import RELEASES, pairs, score
from PIL import Image
from ref_fsrcnn import FSRCNNm

from srlab import imresize
from srlab.published import load_release


def _matlab_y(path: str) -> np.ndarray:
    """``rgb2ycbcr`` of a uint8 image, channel Y, as uint8 (a one-channel file as it is)."""
    im = np.asarray(Image.open(path))
    if im.ndim == 2:
        return im
    rgb = im[..., :3].astype(np.float64)
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    return np.round(y).astype(np.uint8)


def script_psnr(ref: FSRCNNm, path: str, s: int) -> float:
    """``test_FSRCNN.m`` on one image (the x3 ``shave_x3`` as described in the module)."""
    y = _matlab_y(path)
    h, w = (y.shape[0] // s) * s, (y.shape[1] // s) * s
    gnd = y[:h, :w].astype(np.float32) / 255
    lr = imresize(torch.from_numpy(gnd)[None, None].double(), 1 / s)[0, 0].numpy()
    im_h = np.clip(np.round(ref(lr, s) * 255), 0, 255)
    gnd8 = np.round(gnd.astype(np.float64) * 255)
    off = 1 if s == 3 else 0
    a = im_h[s - off : h - s - off, s - off : w - s - off]
    b = gnd8[s : h - s, s : w - s]
    return float(20 * np.log10(255 / np.sqrt(np.mean((a - b) ** 2))))


def script(sets: list[str], files: list[str]) -> None:
    for f in files:
        path = f"{RELEASES}/fsrcnn/{f}.mat"
        ref = FSRCNNm(path)
        s = int(os.path.basename(f)[1])
        for st in sets:
            vals = [script_psnr(ref, p, s) for p in sorted(glob.glob(f"{RELEASES}/{st}/*.bmp"))]
            print(f"{f} x{s} {st}: test_FSRCNN.m {np.mean(vals):.4f}", flush=True)


def main(sets: list[str], files: list[str]) -> None:
    for f in files:
        path = f"{RELEASES}/fsrcnn/{f}.mat"
        rel = load_release(path)
        ref = FSRCNNm(path)
        s = rel.net.scale
        for st in sets:
            ours, theirs, moved, md = [], [], [], 0.0
            for _name, ly, hy in pairs(st, s):
                sr = rel.net(ly)
                r = torch.from_numpy(ref(ly[0, 0].double().numpy(), s)).float()[None, None]
                r1 = torch.zeros_like(r)
                r1[..., 1:, 1:] = r[..., :-1, :-1]
                md = max(md, float((sr - (r1 if s == 3 else r))[..., 1:, 1:].abs().max()))
                ours.append(score(sr, hy, s))
                theirs.append(score(r, hy, s))
                moved.append(score(r1, hy, s))
            print(
                f"{f} x{s} {st}: srlab {np.mean(ours):.4f}  reference {np.mean(theirs):.4f}  "
                f"reference+1 {np.mean(moved):.4f}  max|diff| {md:.2e}",
                flush=True,
            )


if __name__ == "__main__":
    run = script if "--script" in sys.argv[3:] else main
    run(sys.argv[1].split(","), sys.argv[2].split(","))
