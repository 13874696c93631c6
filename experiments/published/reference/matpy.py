import numpy as np
import scipy.io as sio


def conv(x):
    if isinstance(x, np.ndarray):
        if x.dtype.names:
            items = [{k: conv(e[k]) for k in x.dtype.names} for e in x.flatten(order="F")]
            return items[0] if x.size == 1 else items
        if x.dtype.kind == "O":
            return [conv(e) for e in x.flatten(order="F")]
        if x.dtype.kind == "U":
            return "".join(x.flatten().tolist()) if x.size else ""
        return x
    return x


def load(p):
    m = sio.loadmat(p, squeeze_me=False, struct_as_record=True, mat_dtype=False)
    return {k: conv(v) for k, v in m.items() if not k.startswith("__")}
