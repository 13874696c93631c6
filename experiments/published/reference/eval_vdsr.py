import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch.nn.functional as F
from eval_common import *
from matpy import load
from ref_caffe import CaffeNet
from ref_dagnn import filt

from srlab import imresize
from srlab.published import load_release

sets = sys.argv[1].split(",")
scales = [int(s) for s in sys.argv[2].split(",")]
files = sys.argv[3].split(",")
for f in files:
    path = f"{RELEASES}/vdsr/{f}"
    rel = load_release(path)
    if f.endswith(".mat"):
        m = load(path)["model"]
        W = [filt(w) for w in m["weight"]]
        Bb = [torch.from_numpy(np.asarray(b, np.float32).reshape(-1)) for b in m["bias"]]

        def ref(x):  # VDSR_Matconvnet.m
            y = F.conv2d(x, W[0], Bb[0], padding=1)
            for w, b in zip(W[1:], Bb[1:]):
                y = F.conv2d(y.clamp(min=0), w, b, padding=1)
            return y + x
    else:
        cn = CaffeNet(path)

        def ref(x):
            return cn.run(x, "conv20") + x

    for st in sets:
        for s in scales:
            a, b, md = [], [], 0.0
            for name, ly, hy in pairs(st, s):
                up = imresize(ly, s)
                sr = rel.net(up, s)
                r = ref(up)
                md = max(md, float((sr - r).abs().max()))
                a.append(score(sr, hy, s))
                b.append(score(r, hy, s))
            print(
                f"{f} x{s} {st}: srlab {np.mean(a):.4f}  reference {np.mean(b):.4f}  max|diff| {md:.2e}",
                flush=True,
            )
