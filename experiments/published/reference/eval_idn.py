"""srlab's loaded IDN Caffe releases against the authors' graph on the same LR inputs.

The reference is ``ref_caffe.py`` (the ``.caffemodel``'s layer list run with Caffe's layer
semantics) up to the ``upsample`` deconvolution, whose output is added to the MATLAB-bicubic
image from HR pixel ``s - 1`` on, as ``test_IDN.m`` does. ``NOREF=1`` skips the reference.

Usage::

    RELEASES=DIR python eval_idn.py Set5,Set14 [IDN_x2,IDN_x3,IDN_x4,IDN_x4_mscoco]

``DIR`` holds ``idn/<name>.caffemodel`` and the ``Set5/``, ``Set14/`` BMPs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
from eval_common import RELEASES, pairs, score
from ref_caffe import CaffeNet

from srlab import imresize
from srlab.published import load_release

sets = sys.argv[1].split(",")
files = (
    sys.argv[2].split(",") if len(sys.argv) > 2 else ["IDN_x2", "IDN_x3", "IDN_x4", "IDN_x4_mscoco"]
)
for f in files:
    rel = load_release(f"{RELEASES}/idn/{f}.caffemodel")
    ref = CaffeNet(f"{RELEASES}/idn/{f}.caffemodel")
    s = rel.spec["scale"]
    for st in sets:
        a, b, md = [], [], 0.0
        for _name, ly, hy in pairs(st, s):
            sr = rel.net(ly)
            # test_IDN.m: im_h = caffe_out + mycrop(im_b, s): Caffe's (H-1)s+1 px start at HR
            # pixel s-1
            bic = imresize(ly, s)
            res = (
                ref.run(ly, "upsample")
                if os.environ.get("NOREF") != "1"
                else (sr - bic)[..., s - 1 :, s - 1 :]
            )
            full = bic.clone()
            full[..., s - 1 :, s - 1 :] += res
            md = max(md, float((sr - full)[..., s - 1 :, s - 1 :].abs().max()))
            a.append(score(sr, hy, s))
            b.append(score(full, hy, s))
        print(
            f"{f} x{s} {st}: srlab {np.mean(a):.4f}  reference {np.mean(b):.4f}  "
            f"max|diff| {md:.2e}",
            flush=True,
        )
