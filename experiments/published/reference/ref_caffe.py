"""Independent reference forward of a Caffe net from its layer list (Caffe's layer semantics).

torch.nn.functional only; the blobs and layers come from the .caffemodel's protobuf.
"""

from itertools import pairwise

import torch
import torch.nn.functional as F

from srlab.published.caffe import read_caffemodel


class CaffeNet:
    def __init__(self, path):
        self.raw = read_caffemodel(path)

    def run(self, data, output):
        B = {"data": data}
        t = self.raw.tensors
        for L in self.raw.meta["layers"]:
            typ = L["type"]
            if typ in ("HDF5Data", "Data", "EuclideanLoss") or "Loss" in typ:
                continue
            if not all(b in B for b in L["bottom"]):
                continue
            x = [B[b] for b in L["bottom"]]
            if typ == "Split":
                ys = [x[0]] * len(L["top"])
            elif typ in ("Convolution", "Deconvolution"):
                c = L["conv"]
                w = t[L["name"] + ".0"]
                b = t.get(L["name"] + ".1")
                fn = F.conv2d if typ == "Convolution" else F.conv_transpose2d
                ys = [fn(x[0], w, b, stride=c["stride"], padding=c["pad"], groups=c["group"])]
            elif typ == "ReLU":
                s = L["negative_slope"]
                ys = [torch.where(x[0] > 0, x[0], s * x[0])]
            elif typ == "Slice":
                pts = [0] + L["slice"]["points"] + [x[0].shape[1]]
                ys = [x[0][:, a:b] for a, b in pairwise(pts)]
            elif typ == "Concat":
                ys = [torch.cat(x, 1)]
            elif typ == "Eltwise":
                assert L["eltwise"]["operation"] == 1
                ys = [sum(x)]
            else:
                raise ValueError(typ)
            for name, y in zip(L["top"], ys):
                B[name] = y
            if output in B and L["top"][0] == output:
                break
        return B[output]
