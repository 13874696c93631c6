"""Independent reference forward of a MatConvNet DagNN .mat, straight from its layer list.

scipy.io + torch.nn.functional only; no srlab code.
"""

import numpy as np
import torch
import torch.nn.functional as F
from matpy import load


def filt(v):
    v = np.asarray(v, np.float32)
    while v.ndim < 4:
        v = v[..., None]
    return torch.from_numpy(np.ascontiguousarray(v.transpose(3, 2, 0, 1)))


class Dag:
    def __init__(self, path):
        net = load(path)["net"]
        self.params = {p["name"]: p["value"] for p in net["params"]}
        self.layers = net["layers"]

    def run(self, inputs: dict, output: str):
        vars_ = dict(inputs)
        pending = [lay for lay in self.layers if "loss" not in lay["type"]]
        while output not in vars_:
            progressed = False
            for lay in list(pending):
                ins = lay["inputs"] if isinstance(lay["inputs"], list) else [lay["inputs"]]
                if not all(i in vars_ for i in ins):
                    continue
                x = [vars_[i] for i in ins]
                b = lay["block"]
                P = [self.params[p] for p in (lay["params"] or [])]
                t = lay["type"]
                if t == "dagnn.Conv":
                    pad = [int(a) for a in b["pad"].flatten()]
                    st = [int(a) for a in b["stride"].flatten()]
                    y = F.pad(x[0], (pad[2], pad[3], pad[0], pad[1]))
                    y = F.conv2d(
                        y,
                        filt(P[0]),
                        torch.from_numpy(np.asarray(P[1], np.float32).reshape(-1))
                        if len(P) > 1
                        else None,
                        stride=st,
                    )
                elif t == "dagnn.ConvTranspose":
                    up = [int(a) for a in b["upsample"].flatten()]
                    cr = [int(a) for a in b["crop"].flatten()]
                    y = F.conv_transpose2d(
                        x[0],
                        filt(P[0]),
                        torch.from_numpy(np.asarray(P[1], np.float32).reshape(-1))
                        if len(P) > 1
                        else None,
                        stride=up,
                    )
                    y = y[..., cr[0] : y.shape[-2] - cr[1], cr[2] : y.shape[-1] - cr[3]]
                elif t == "dagnn.ReLU":
                    leak = (
                        float(np.asarray(b.get("leak", 0)).flatten()[0])
                        if isinstance(b, dict) and np.asarray(b.get("leak", 0)).size
                        else 0.0
                    )
                    y = torch.where(x[0] > 0, x[0], leak * x[0])
                elif t == "dagnn.Sum":
                    y = sum(x)
                else:
                    raise ValueError(t)
                outs = lay["outputs"] if isinstance(lay["outputs"], list) else [lay["outputs"]]
                vars_[outs[0]] = y
                pending.remove(lay)
                progressed = True
            if not progressed:
                raise RuntimeError("stuck before " + output)
        return vars_[output]
