"""A MATLAB ``.mat`` loader for the reference forwards, independent of srlab's reader.

``load(path)`` reads a v5/v7 file with scipy.io and turns structs into dicts (struct arrays
into lists of dicts), cells into lists and char arrays into str; numeric arrays keep their
MATLAB shape.
"""

from typing import Any

import numpy as np
import scipy.io as sio


def conv(x: Any) -> Any:
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


def load(p: str) -> dict[str, Any]:
    m = sio.loadmat(p, squeeze_me=False, struct_as_record=True, mat_dtype=False)
    return {k: conv(v) for k, v in m.items() if not k.startswith("__")}
