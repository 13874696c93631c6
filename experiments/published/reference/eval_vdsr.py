"""srlab's loaded VDSR releases against the authors' forward on the same bicubic inputs.

The reference of a MATLAB ``.mat`` (``model.weight{i}``/``model.bias{i}`` cells) is
``VDSR_Matconvnet.m``'s loop (3x3 ``vl_nnconv`` with pad 1, ReLU between, plus the input); that
of a ``.caffemodel`` is ``ref_caffe.py`` up to ``conv20``, plus the input. Both take the MATLAB
bicubic upscale of the LR image, as srlab's VDSR does.

Usage::

    RELEASES=DIR python eval_vdsr.py Set5 2,3,4 VDSR_Official.mat[,VDSR_Adam.caffemodel]

``DIR`` holds ``vdsr/<file>`` and the ``Set5/``, ``Set14/`` BMPs.
"""

import os
import sys
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
import torch
import torch.nn.functional as F
from eval_common import RELEASES, pairs, score
from matpy import load
from ref_caffe import CaffeNet
from ref_dagnn import filt

from srlab import imresize
from srlab.published import load_release


def reference(path: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The authors' forward of the release at ``path`` (global residual included)."""
    if not path.endswith(".mat"):
        cn = CaffeNet(path)
        return lambda x: cn.run(x, "conv20") + x
    m = load(path)["model"]
    weights = [filt(w) for w in m["weight"]]
    biases = [torch.from_numpy(np.asarray(b, np.float32).reshape(-1)) for b in m["bias"]]

    def run(x: torch.Tensor) -> torch.Tensor:  # VDSR_Matconvnet.m
        y = F.conv2d(x, weights[0], biases[0], padding=1)
        for w, b in zip(weights[1:], biases[1:]):
            y = F.conv2d(y.clamp(min=0), w, b, padding=1)
        return y + x

    return run


sets = sys.argv[1].split(",")
scales = [int(s) for s in sys.argv[2].split(",")]
files = sys.argv[3].split(",")
for f in files:
    path = f"{RELEASES}/vdsr/{f}"
    rel = load_release(path)
    ref = reference(path)
    for st in sets:
        for s in scales:
            a, b, md = [], [], 0.0
            for _name, ly, hy in pairs(st, s):
                up = imresize(ly, s)
                sr = rel.net(up, s)
                r = ref(up)
                md = max(md, float((sr - r).abs().max()))
                a.append(score(sr, hy, s))
                b.append(score(r, hy, s))
            print(
                f"{f} x{s} {st}: srlab {np.mean(a):.4f}  reference {np.mean(b):.4f}  "
                f"max|diff| {md:.2e}",
                flush=True,
            )
