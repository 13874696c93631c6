"""MATLAB releases: the ``.mat`` reader (scipy.io, no MATLAB) and their recognisers.

The recognisers read the MatConvNet / plain-MATLAB releases of the classic networks. Layouts
:func:`read_mat` understands (``RawRelease.meta["layout"]``):

- ``"dagnn"``: a MatConvNet DagNN saved with ``net = dag.saveobj()``: a struct ``net`` with
  ``layers`` (name, type, inputs, outputs, params, block) and ``params`` (name, value). The
  tensors are named by their param name (``level1_conv1_f``); ``meta["layers"]`` keeps the
  layer list (types, connections and block options such as ``crop``/``upsample``/``leak``).
- ``"simplenn"``: a MatConvNet SimpleNN ``net.layers`` cell of structs with ``weights``; the
  tensors are named ``<layer>_f`` / ``<layer>_b`` (MatConvNet's own SimpleNN->DagNN names).
- ``"plain"``: any other variables, flattened to names such as ``weights_conv1`` or
  ``model.weight{3}`` (SRCNN's and caffe-vdsr's MATLAB releases).

Every tensor is kept in the file's own layout (MATLAB order, trailing singleton dimensions
dropped as MATLAB stores them); the recognisers convert: a MatConvNet filter ``(H, W, in, out)``
(``(H, W, out, in)`` for ``ConvTranspose``, whose ``vl_nnconvt`` is the transpose of the
correlation ``vl_nnconv``) becomes PyTorch's ``(out, in, H, W)`` (``(in, out, H, W)``) by
``permute(3, 2, 0, 1)`` after re-adding the dropped singleton dimensions; nothing is flipped
(MatConvNet and PyTorch both correlate).

Recognised releases:

- ``lapsrn``: LapSRN x2/x4/x8 (phoenix104104/LapSRN ``pretrained_models/LapSRN_x{2,4,8}.mat``):
  depth per level (10, or 5 in ``LapSRN_x8.mat``) and the level order are read from the file
  (its ``level<k>`` numbering runs from the last level, ``level1`` = the output level; the
  order is taken from the image-branch graph).
- ``mslapsrn``: MS-LapSRN D5R2/D5R5/D5R8 (same repository, ``MSLapSRN_D5R*.mat``): one set of
  222,801 parameters shared by the x2/x4/x8 sub-networks; D and R are read from the graph.
- ``srcnn``: SRCNN's MATLAB release (``weights_conv1``/``biases_conv1``... as in the authors'
  ``SRCNN.m``: column-major ``k*k`` kernels, conv2 ``(n1, k2*k2, n2)``).
- ``fsrcnn``: FSRCNN / FSRCNN-s MATLAB release (the FSRCNN_test package's
  ``model/FSRCNN/x{2,3,4}.mat`` and ``model/FSRCNN-s/x{2,3,4}.mat``: cells ``weights_conv``/
  ``biases_conv``/``prelu_conv`` as read by the authors' ``FSRCNN.m`` and ``deconv.m``); d, s, m
  from the shapes, the scale from the file name (the deconvolution's weights do not fix it).
- ``vdsr``: MATLAB VDSR cells ``model.weight{i}``/``model.bias{i}`` (huangzehao/caffe-vdsr
  ``Test/VDSR_Official.mat``, run by ``vl_nnconv`` with pad 1) and 20-conv SimpleNN files.

LapSRN/MS-LapSRN/VDSR/SRCNN/FSRCNN take MATLAB's ``rgb2ycbcr`` Y of a double image, i.e.
BT.601 Y in [16, 235]/255: the same as srlab's :func:`srlab.core.color.rgb_to_y`, so no range
conversion is needed for them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeAlias, TypedDict, TypeGuard

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from typing_extensions import NotRequired

from .core import RawRelease, Release, ReleaseError, TensorLedger, recogniser, scale_from_name

__all__ = ["read_mat", "mat_filter", "ParamFiller", "MatLayer", "ConvLayer"]

#: the layers :meth:`ParamFiller.conv` fills: a convolution or a transposed convolution
ConvLayer: TypeAlias = nn.Conv2d | nn.ConvTranspose2d

#: a layer-option rule of :func:`_check_blocks`: (layer-name regex, layer type, block key,
#: expected value)
_BlockRule: TypeAlias = tuple[str, str, str, list[float]]


class MatLayer(TypedDict):
    """One layer of a MatConvNet network, as :func:`read_mat` keeps it in ``meta["layers"]``.

    Attributes:
        name: the layer's name (SimpleNN layers without one are named ``layer<i>``).
        type: its MatConvNet type (``"dagnn.Conv"``, ``"conv"``, ...; ``""`` when absent).
        params: the names of its tensors in :attr:`RawRelease.tensors`.
        block: its options (``pad``, ``stride``, ``crop``, ``leak``, ...) as scipy.io read them.
        inputs: the variables it reads (DagNN only).
        outputs: the variables it writes (DagNN only).
    """

    name: str
    type: str
    params: list[str]
    block: dict[str, Any]
    inputs: NotRequired[list[str]]
    outputs: NotRequired[list[str]]


# ----------------------------------------------------------------------------- reading


def _to_py(x: Any) -> Any:
    """Convert scipy.io's MATLAB values to Python values.

    Structs become dicts (struct arrays lists of dicts), cells lists, char arrays str; numeric
    arrays are kept as they are (MATLAB shape).
    """
    if isinstance(x, np.ndarray):
        if x.dtype.names:
            items = [{k: _to_py(e[k]) for k in x.dtype.names} for e in x.flatten(order="F")]
            return items[0] if x.size == 1 else items
        if x.dtype.kind == "O":
            return [_to_py(e) for e in x.flatten(order="F")]
        if x.dtype.kind == "U":
            return "".join(x.flatten(order="F").tolist()) if x.size else ""
    return x


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, list):
        return x
    if isinstance(x, (str, dict)):
        return [x]
    if isinstance(x, np.ndarray) and x.size == 0:
        return []
    return [x]


def _is_numeric(x: Any) -> TypeGuard[npt.NDArray[Any]]:
    return isinstance(x, np.ndarray) and x.dtype.kind in "fiub" and x.size > 0


def _tensor(x: npt.NDArray[Any]) -> Tensor:
    return torch.from_numpy(np.array(x, dtype=np.float32, order="C"))


def _block_value(block: Any, key: str) -> Any:
    v = block.get(key) if isinstance(block, dict) else None
    if isinstance(v, np.ndarray):
        return [float(a) for a in v.flatten(order="F")]
    return v


def read_mat(path: str | os.PathLike[str]) -> RawRelease:
    """Read a MATLAB ``.mat`` release (v5/v7 files; scipy.io) into a :class:`RawRelease`.

    Args:
        path: the ``.mat`` file.

    Returns:
        its tensors in MATLAB layout, format ``"matconvnet"``; ``meta["layout"]`` says which
        layout (``"dagnn"``, ``"simplenn"``, ``"plain"``) was read, ``meta["layers"]`` holds
        the :class:`MatLayer` list of a network.

    Raises:
        ReleaseError: the file is not a readable v5/v7 ``.mat`` file or holds no numbers.
    """
    p = str(path)
    try:
        import scipy.io
    except ImportError:  # pragma: no cover - scipy is a core dependency
        raise ReleaseError("reading MATLAB .mat releases needs scipy (pip install scipy)") from None
    try:
        mat = scipy.io.loadmat(p, squeeze_me=False, struct_as_record=True)
    except NotImplementedError:
        raise ReleaseError(
            f"{p}: MATLAB v7.3 (HDF5) .mat files are not supported; "
            "re-save it in MATLAB with save(name, '-v7')"
        ) from None
    except Exception as e:  # noqa: BLE001 - any scipy.io error on bad bytes: the file is at fault
        raise ReleaseError(
            f"{p}: not a readable MATLAB .mat file "
            f"({type(e).__name__}: {str(e).strip() or 'truncated'})"
        ) from None
    variables = {k: _to_py(v) for k, v in mat.items() if not k.startswith("__")}
    net = variables.get("net")
    if isinstance(net, dict) and isinstance(net.get("layers"), (list, dict)) and "params" in net:
        return _read_dagnn(p, net)
    if isinstance(net, dict) and "layers" in net:
        return _read_simplenn(p, net["layers"])
    if "layers" in variables and not isinstance(variables["layers"], np.ndarray):
        return _read_simplenn(p, variables["layers"])
    return _read_plain(p, variables)


def _read_dagnn(path: str, net: dict[str, Any]) -> RawRelease:
    tensors: dict[str, Tensor] = {}
    for prm in _as_list(net["params"]):
        if not isinstance(prm, dict) or not isinstance(prm.get("name"), str):
            raise ReleaseError(f"{path}: a MatConvNet DagNN param has no name")
        value = prm.get("value")
        if not _is_numeric(value):
            raise ReleaseError(
                f"{path}: MatConvNet DagNN param {prm['name']!r} holds no numeric value"
            )
        tensors[prm["name"]] = _tensor(value)
    layers: list[MatLayer] = []
    for lay in _as_list(net["layers"]):
        if not isinstance(lay, dict) or not isinstance(lay.get("name"), str):
            raise ReleaseError(f"{path}: a MatConvNet DagNN layer has no name")
        typ, block = lay.get("type"), lay.get("block")
        layers.append(
            {
                "name": lay["name"],
                "type": typ if isinstance(typ, str) else "",
                "inputs": [s for s in _as_list(lay.get("inputs")) if isinstance(s, str)],
                "outputs": [s for s in _as_list(lay.get("outputs")) if isinstance(s, str)],
                "params": [s for s in _as_list(lay.get("params")) if isinstance(s, str)],
                "block": block if isinstance(block, dict) else {},
            }
        )
    return RawRelease(path, "matconvnet", tensors, {"layout": "dagnn", "layers": layers})


def _read_simplenn(path: str, layers_in: Any) -> RawRelease:
    tensors: dict[str, Tensor] = {}
    layers: list[MatLayer] = []
    for i, lay in enumerate(_as_list(layers_in)):
        if not isinstance(lay, dict):
            raise ReleaseError(f"{path}: MatConvNet SimpleNN layer {i + 1} is not a struct")
        given = lay.get("name")
        name = given if isinstance(given, str) and given else f"layer{i + 1}"
        params = []
        weights = [w for w in _as_list(lay.get("weights")) if _is_numeric(w)]
        for suffix, w in zip(("f", "b"), weights):
            tensors[f"{name}_{suffix}"] = _tensor(w)
            params.append(f"{name}_{suffix}")
        block = {k: v for k, v in lay.items() if k not in ("weights", "name", "type")}
        layers.append({"name": name, "type": lay.get("type", ""), "params": params, "block": block})
    return RawRelease(path, "matconvnet", tensors, {"layout": "simplenn", "layers": layers})


def _read_plain(path: str, variables: dict[str, Any]) -> RawRelease:
    tensors: dict[str, Tensor] = {}

    def walk(name: str, v: Any) -> None:
        if _is_numeric(v):
            tensors[name] = _tensor(v)
        elif isinstance(v, dict):
            for k, sub in v.items():
                walk(f"{name}.{k}", sub)
        elif isinstance(v, list):
            for i, sub in enumerate(v):
                walk(f"{name}{{{i + 1}}}", sub)

    for k, v in variables.items():
        walk(k, v)
    if not tensors:
        raise ReleaseError(f"{path}: the .mat file holds no numeric arrays")
    return RawRelease(path, "matconvnet", tensors, {"layout": "plain"})


# ----------------------------------------------------------------------------- conversions


def mat_filter(t: Tensor) -> Tensor:
    """Permute a MatConvNet filter ``(H, W, a, b)`` to ``(b, a, H, W)``.

    That is PyTorch's ``Conv2d`` weight ``(out, in, H, W)`` for a conv filter ``(H, W, in, out)``
    and ``ConvTranspose2d`` weight ``(in, out, H, W)`` for a ``vl_nnconvt`` filter
    ``(H, W, out, in)``. Trailing singleton dimensions MATLAB dropped are added back first.

    Raises:
        ValueError: the filter has more than 4 dimensions.
    """
    if t.dim() > 4:
        raise ValueError(f"a MatConvNet filter has at most 4 dimensions, got {tuple(t.shape)}")
    while t.dim() < 4:
        t = t.unsqueeze(-1)
    return t.permute(3, 2, 0, 1).contiguous()


def mat_dims(t: Tensor) -> tuple[int, int, int, int]:
    """The 4 MATLAB dimensions of a filter whose trailing singletons MATLAB dropped.

    Raises:
        ValueError: the filter has more than 4 dimensions.
    """
    if t.dim() > 4:
        raise ValueError(f"a MatConvNet filter has at most 4 dimensions, got {tuple(t.shape)}")
    h, w, a, b = (*t.shape, 1, 1, 1, 1)[:4]
    return int(h), int(w), int(a), int(b)


class ParamFiller:
    """Copies release tensors into an srlab network's parameters.

    :meth:`finish` proves that every parameter of the network received one (the
    :class:`TensorLedger` proves the converse: every tensor of the file was used).

    Args:
        net: the srlab network to fill.
        path: the release file (for messages).
    """

    def __init__(self, net: nn.Module, path: str) -> None:
        self.net, self.path = net, path
        self._names = {id(p): n for n, p in net.named_parameters()}
        self._done: set[int] = set()

    def set(self, param: Tensor, value: Tensor, what: str) -> None:
        """Copy ``value`` into the parameter (or buffer) ``param`` and mark it filled.

        Args:
            param: a parameter or buffer of the network.
            value: the release's tensor, already converted to srlab's layout.
            what: how messages name the tensor.

        Raises:
            ReleaseError: the shapes differ.
        """
        if tuple(param.shape) != tuple(value.shape):
            raise ReleaseError(
                f"{self.path}: {what} has shape {tuple(value.shape)} after conversion "
                f"where srlab's {type(self.net).__name__} needs {tuple(param.shape)}"
            )
        with torch.no_grad():
            param.copy_(value.to(param.dtype))
        self._done.add(id(param))

    def conv(self, module: ConvLayer, weight: Tensor, bias: Tensor | None, what: str) -> None:
        """Fill a (transposed) convolution's weight and, when the release has one, its bias.

        Args:
            module: the srlab layer.
            weight: the weight in PyTorch's layout.
            bias: the bias (any shape holding one value per output channel), or ``None``.
            what: how messages name the layer.

        Raises:
            ReleaseError: a shape differs, or the release has a bias the layer has not.
        """
        self.set(module.weight, weight, f"{what} weight")
        if bias is not None:
            if module.bias is None:
                raise ReleaseError(f"{self.path}: {what} has a bias the srlab layer does not have")
            self.set(module.bias, bias.reshape(-1), f"{what} bias")

    def finish(self) -> nn.Module:
        """Check that every parameter was filled.

        Returns:
            the network, in eval mode.

        Raises:
            ReleaseError: some parameters received no value (the message names the first four).
        """
        missing = [n for i, n in self._names.items() if i not in self._done]
        if missing:
            raise ReleaseError(
                f"{self.path}: the file gives no value for {len(missing)} parameter(s) of "
                f"srlab's {type(self.net).__name__} "
                f"({', '.join(missing[:4])}{'...' if len(missing) > 4 else ''})"
            )
        return self.net.eval()

    def release(
        self,
        led: TensorLedger,
        spec: dict[str, Any],
        name: str,
        arch: str,
        notes: list[str] | None = None,
    ) -> Release:
        """Run both proofs, then wrap the filled network as a :class:`Release`.

        Every tensor of the file was used (``led.finish()``) and every parameter of the network
        filled (:meth:`finish`).

        Args:
            led: the ledger the release's tensors were taken from.
            spec: the network description (see :attr:`Release.spec`).
            name: what the file was recognised as.
            arch: the recogniser's registry key.
            notes: the conversions applied.

        Returns:
            the :class:`Release` of the filled network (eval mode).

        Raises:
            ReleaseError: either proof fails.
        """
        led.finish()
        return Release(net=self.finish(), spec=spec, name=name, arch=arch, notes=list(notes or []))


def convs(module: nn.Module) -> list[nn.Conv2d]:
    """The ``Conv2d`` layers of ``module`` in definition order (transposed convs excluded)."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def deconvs(module: nn.Module) -> list[nn.ConvTranspose2d]:
    """The ``ConvTranspose2d`` layers of ``module`` in definition order."""
    return [m for m in module.modules() if isinstance(m, nn.ConvTranspose2d)]


def _layer_list(raw: RawRelease) -> list[MatLayer]:
    layers: list[MatLayer] = raw.meta.get("layers", [])
    return layers


def _layer_map(raw: RawRelease) -> dict[str, MatLayer]:
    return {lay["name"]: lay for lay in _layer_list(raw)}


def _check_blocks(raw: RawRelease, arch: str, rules: Iterable[_BlockRule]) -> None:
    """Refuse a graph whose layer options srlab's network does not implement.

    Args:
        raw: the release (its ``meta["layers"]`` are checked).
        arch: srlab's network, for messages.
        rules: (layer-name regex, layer type, block key, expected value); a layer without the
            key passes.

    Raises:
        ReleaseError: a matching layer has another value.
    """
    rules = list(rules)
    for lay in _layer_list(raw):
        for pattern, typ, key, want in rules:
            if lay["type"] == typ and re.search(pattern, lay["name"]):
                got = _block_value(lay["block"], key)
                if got is None:
                    continue
                if len(got) != len(want) or any(abs(a - b) > 1e-6 for a, b in zip(got, want)):
                    raise ReleaseError(
                        f"{raw.path}: layer {lay['name']!r} has {key} {got} "
                        f"where srlab's {arch} needs {want}"
                    )


# ----------------------------------------------------------------------------- LapSRN


_LAP_CONV = re.compile(r"^level(\d+)_conv(\d+)_f$")
#: block options srlab's LapSRN/MSLapSRN implement; a release with other values is refused
_LAP_RULES: list[_BlockRule] = [
    (r"relu", "dagnn.ReLU", "leak", [0.2]),
    (r"upconv$", "dagnn.ConvTranspose", "crop", [0, 1, 0, 1]),
    (r"upconv$", "dagnn.ConvTranspose", "upsample", [2, 2]),
    (r"img_up$", "dagnn.ConvTranspose", "crop", [1, 1, 1, 1]),
    (r"img_up$", "dagnn.ConvTranspose", "upsample", [2, 2]),
    (r"(conv\d*|residual)$", "dagnn.Conv", "pad", [1, 1, 1, 1]),
    (r"(conv\d*|residual)$", "dagnn.Conv", "stride", [1, 1]),
]


def _lapsrn_order(raw: RawRelease, levels: list[int]) -> list[int]:
    """Order the LapSRN level numbers from the first (x2) to the last pyramid level.

    The order comes from the image branch of the DagNN graph (``level<k>_img_up`` takes the LR
    image, or the previous level's output).
    """
    layers = _layer_map(raw)
    if not layers:  # no graph: the official numbering (level1 = the output level)
        return sorted(levels, reverse=True)
    feeds: dict[str, int] = {}
    first = None
    for k in levels:
        lay = layers.get(f"level{k}_img_up")
        if lay is None or len(lay["inputs"]) != 1:
            raise ReleaseError(
                f"{raw.path}: LapSRN layer 'level{k}_img_up' is missing or malformed"
            )
        src = lay["inputs"][0]
        m = re.fullmatch(r"level(\d+)_output", src)
        if m:
            feeds[src] = k
        elif first is None:
            first = k
        else:
            raise ReleaseError(f"{raw.path}: two LapSRN levels take the LR image ({first} and {k})")
    if first is None:
        raise ReleaseError(f"{raw.path}: no LapSRN level takes the LR image")
    order = [first]
    while len(order) < len(levels):
        nxt = feeds.get(f"level{order[-1]}_output")
        if nxt is None:
            raise ReleaseError(f"{raw.path}: the LapSRN pyramid is broken after level{order[-1]}")
        order.append(nxt)
    return order


@recogniser("lapsrn", formats=("matconvnet",))
def lapsrn_matconvnet(raw: RawRelease) -> Release | None:
    """LapSRN (CVPR 2017) MatConvNet DagNN release."""
    t = raw.tensors
    if "input_conv_f" not in t or not any(_LAP_CONV.match(k) for k in t):
        return None
    levels = sorted({int(m.group(1)) for k in t if (m := _LAP_CONV.match(k))})
    if levels != list(range(1, len(levels) + 1)) or len(levels) > 3:
        raise ReleaseError(f"{raw.path}: LapSRN pyramid levels {levels} are not 1..L with L <= 3")
    depths = {
        k: len([1 for n in t if (m := _LAP_CONV.match(n)) and int(m.group(1)) == k]) for k in levels
    }
    depth = depths[levels[0]]
    if any(d != depth for d in depths.values()):
        raise ReleaseError(
            f"{raw.path}: LapSRN levels have different depths {sorted(depths.values())}"
        )
    _check_blocks(raw, "LapSRN", _LAP_RULES)
    order = _lapsrn_order(raw, levels)
    first = mat_dims(t["input_conv_f"])
    in_ch, num_feat = first[2], first[3]
    scale = 2 ** len(levels)

    from ..archs.lapsrn import LapSRN

    net = LapSRN(scale=scale, in_channels=in_ch, num_feat=num_feat, num_layer=depth)
    led, fill = TensorLedger(raw), ParamFiller(net, raw.path)

    def conv(module: ConvLayer, prefix: str, fname: str | None = None, bias: bool = True) -> None:
        f = led.take(fname or f"{prefix}_f")
        b = led.take(f"{prefix}_b") if bias else None
        fill.conv(module, mat_filter(f), b, prefix)

    conv(convs(net.conv_in)[0], "input_conv")
    for i, k in enumerate(order):
        level_convs = convs(net.feature_levels[i])
        for j in range(depth):
            conv(level_convs[j], f"level{k}_conv{j + 1}")
        conv(deconvs(net.feature_levels[i])[0], f"level{k}_upconv")
        conv(convs(net.residual_levels[i])[0], f"level{k}_residual_conv")
        conv(deconvs(net.image_levels[i])[0], f"level{k}_img_up", bias=False)
    return fill.release(
        led,
        spec={
            "_target_": "srlab.archs.lapsrn.LapSRN",
            "scale": scale,
            "in_channels": in_ch,
            "num_feat": num_feat,
            "num_layer": depth,
        },
        name=f"LapSRN x{scale} (MatConvNet DagNN release, {len(levels)} levels of depth {depth})",
        arch="lapsrn",
        notes=[
            "MatConvNet filters permuted (H, W, in, out) -> (out, in, H, W)",
            f"file levels {[f'level{k}' for k in order]} taken as pyramid levels "
            f"1..{len(order)} (x2 first)",
        ],
    )


# ----------------------------------------------------------------------------- MS-LapSRN


_MS_PREFIX = re.compile(r"^x(\d+)SR_")
_MS_REC = re.compile(r"^x(\d+)SR_level1_R(\d+)_conv1$")
# the same layer options as LapSRN's (leak 0.2, the [0 1 0 1] feature-upsampler crop, ...)
_MS_RULES = _LAP_RULES


@recogniser("mslapsrn", formats=("matconvnet",))
def mslapsrn_matconvnet(raw: RawRelease) -> Release | None:
    """MS-LapSRN (TPAMI 2018) MatConvNet DagNN release: D and R read from the graph."""
    t = raw.tensors
    if not {"input_conv_f", "conv1_f", "upconv_f", "img_up_f", "residual_conv_f"} <= set(t):
        return None
    layers = _layer_list(raw)
    if not layers:
        raise ReleaseError(
            f"{raw.path}: MS-LapSRN weights without the DagNN layer list: "
            "the recursion count R cannot be known"
        )
    depth = len([k for k in t if re.fullmatch(r"conv\d+_f", k)])
    if sorted(t) != sorted(
        [
            "input_conv_f",
            "input_conv_b",
            "upconv_f",
            "upconv_b",
            "img_up_f",
            "residual_conv_f",
            "residual_conv_b",
        ]
        + [f"conv{j}_{s}" for j in range(1, depth + 1) for s in "fb"]
    ):
        extra = sorted(
            set(t)
            - {
                "input_conv_f",
                "input_conv_b",
                "upconv_f",
                "upconv_b",
                "img_up_f",
                "residual_conv_f",
                "residual_conv_b",
            }
            - {f"conv{j}_{s}" for j in range(1, depth + 1) for s in "fb"}
        )
        missing = sorted({f"conv{j}_{s}" for j in range(1, depth + 1) for s in "fb"} - set(t))
        raise ReleaseError(
            f"{raw.path}: MS-LapSRN params do not match conv1..conv{depth} "
            f"(extra {extra[:4]}, missing {missing[:4]})"
        )
    scales = sorted({int(m.group(1)) for lay in layers if (m := _MS_PREFIX.match(lay["name"]))})
    if not scales or any(s not in (2, 4, 8) for s in scales):
        raise ReleaseError(f"{raw.path}: MS-LapSRN sub-networks x{scales} are not among x2, x4, x8")
    top = scales[-1]
    recs = [
        int(m.group(2))
        for lay in layers
        if (m := _MS_REC.match(lay["name"])) and int(m.group(1)) == top
    ]
    if not recs:
        raise ReleaseError(
            f"{raw.path}: MS-LapSRN graph has no 'x{top}SR_level1_R<r>_conv1' layers"
        )
    recursions = max(recs)
    # the shared-source skip: every recursion adds the level's input features
    lm = _layer_map(raw)
    skip = lm.get(f"x{top}SR_level1_R1_output")
    if skip is None or f"x{top}SR_input_conv" not in skip["inputs"]:
        raise ReleaseError(
            f"{raw.path}: MS-LapSRN recursion output 'x{top}SR_level1_R1_output' "
            "does not add the level input"
        )
    _check_blocks(raw, "MSLapSRN", _MS_RULES)
    first = mat_dims(t["input_conv_f"])
    in_ch, num_feat = first[2], first[3]

    from ..archs.lapsrn import MSLapSRN

    net = MSLapSRN(
        scale=scales,
        in_channels=in_ch,
        num_feat=num_feat,
        num_layer=depth,
        num_recursion=recursions,
    )
    led, fill = TensorLedger(raw), ParamFiller(net, raw.path)

    def conv(module: ConvLayer, prefix: str, bias: bool = True) -> None:
        f = led.take(f"{prefix}_f")
        b = led.take(f"{prefix}_b") if bias else None
        fill.conv(module, mat_filter(f), b, prefix)

    conv(net.conv_in, "input_conv")
    block = convs(net.block)
    if len(block) != depth:
        raise ReleaseError(
            f"{raw.path}: srlab's MSLapSRN block has {len(block)} convs, the file {depth}"
        )
    for j in range(depth):
        conv(block[j], f"conv{j + 1}")
    conv(deconvs(net.feature_upsample)[0], "upconv")
    conv(convs(net.residual)[0], "residual_conv")
    conv(net.image_upsample, "img_up", bias=False)
    n = sum(int(v.numel()) for v in raw.tensors.values())
    return fill.release(
        led,
        spec={
            "_target_": "srlab.archs.lapsrn.MSLapSRN",
            "scale": scales,
            "in_channels": in_ch,
            "num_feat": num_feat,
            "num_layer": depth,
            "num_recursion": recursions,
        },
        name=f"MS-LapSRN D{depth}R{recursions} x{'/x'.join(map(str, scales))} "
        f"(MatConvNet DagNN release, {n:,} parameters)",
        arch="mslapsrn",
        notes=[
            "MatConvNet filters permuted (H, W, in, out) -> (out, in, H, W)",
            "one weight set shared by all scales and levels",
        ],
    )


# ----------------------------------------------------------------------------- SRCNN (plain MATLAB)


@recogniser("srcnn", formats=("matconvnet",))
def srcnn_matlab(raw: RawRelease) -> Release | None:
    """SRCNN's MATLAB release (``weights_conv1``..3, ``biases_conv1``..3; authors' ``SRCNN.m``).

    ``SRCNN.m`` filters with ``imfilter(..., 'same', 'replicate')`` (correlation, replicated
    borders); the kernels are MATLAB column-major reshapes: conv1 ``reshape(w1(:, i), k, k)``,
    conv2 ``reshape(w2(j, :, i), k, k)``, conv3 ``reshape(w3(i, :), k, k)``. srlab's SRCNN pads
    with zeros ("same"), which changes only the outermost ``k // 2`` pixels' receptive fields.
    """
    names = {f"{w}_conv{i}" for w in ("weights", "biases") for i in (1, 2, 3)}
    if not names <= set(raw.tensors):
        return None
    led = TensorLedger(raw)
    w1, w2, w3 = (led.take(f"weights_conv{i}") for i in (1, 2, 3))
    b1, b2, b3 = (led.take(f"biases_conv{i}").reshape(-1) for i in (1, 2, 3))
    try:
        k1 = math.isqrt(w1.shape[0])
        n1 = w1.shape[1] if w1.dim() == 2 else 1
        if w2.dim() == 2:  # (n1, n2) : 1x1 kernels, MATLAB dropped nothing but the middle is absent
            w2 = w2.unsqueeze(1)
        c2, kk2, n2 = w2.shape
        k2 = math.isqrt(kk2)
        c3, kk3 = w3.shape if w3.dim() == 2 else (w3.shape[0], 1)
        k3 = math.isqrt(kk3)
        ok = k1 * k1 == w1.shape[0] and k2 * k2 == kk2 and k3 * k3 == kk3 and c2 == n1 and c3 == n2
    except (ValueError, IndexError):
        ok = False
    if not ok:
        raise ReleaseError(
            f"{raw.path}: SRCNN weights have inconsistent shapes "
            f"{[tuple(x.shape) for x in (w1, w2, w3)]}"
        )
    # column-major k x k kernels: K[r, c] = v[r + k c]  ->  v.reshape(k, k).T in row-major terms
    conv1 = w1.reshape(k1, k1, n1).permute(2, 1, 0).unsqueeze(1)  # (n1, 1, k, k)
    conv2 = w2.reshape(c2, k2, k2, n2).permute(3, 0, 2, 1)  # (n2, n1, k, k)
    conv3 = w3.reshape(c3, k3, k3).permute(0, 2, 1).unsqueeze(0)  # (1, n2, k, k)
    led.finish()

    from ..archs.srcnn import SRCNN

    kwargs: dict[str, Any] = {
        "in_channels": 1,
        "kernel_sizes": [k1, k2, k3],
        "channels": [n1, n2],
        "padding": "same",
    }
    try:
        net = SRCNN(**kwargs)
    except TypeError as e:
        raise ReleaseError(
            f"{raw.path}: srlab's SRCNN does not take {sorted(kwargs)} ({e})"
        ) from None
    fill = ParamFiller(net, raw.path)
    c = convs(net)
    fill.conv(c[0], conv1, b1, "conv1")
    fill.conv(c[1], conv2, b2, "conv2")
    fill.conv(c[2], conv3, b3, "conv3")
    spec = {"_target_": "srlab.archs.srcnn.SRCNN", **kwargs}
    return fill.release(
        led,
        spec=spec,
        name=f"SRCNN {k1}-{k2}-{k3} (MATLAB release)",
        arch="srcnn",
        notes=[
            "MATLAB column-major kernels transposed",
            "authors' imfilter uses replicate borders; srlab pads with zeros",
        ],
    )


# ------------------------------------------------------------------------- FSRCNN (plain MATLAB)


_FSRCNN_W = re.compile(r"^weights_conv\{(\d+)\}$")


def _matlab_kernels(w: Tensor, k: int) -> Tensor:
    """MATLAB ``(a, k*k, b)`` kernel rows -> PyTorch ``(b, a, k, k)``.

    MATLAB turns the rows into ``k x k`` kernels with the column-major
    ``reshape(w(j, :, i), k, k)``: kernel ``[i, j]`` is row ``w[j, :, i]`` read column by column
    (``K[r, c] = w[j, r + k c, i]``). The same array is a ``Conv2d`` weight ``(out, in, k, k)``
    for a conv ``(in, k*k, out)`` and a ``ConvTranspose2d`` weight ``(in, out, k, k)`` for the
    deconvolution ``(out, k*k, in)``.
    """
    a, _, b = w.shape
    return w.reshape(a, k, k, b).permute(3, 0, 2, 1).contiguous()


@recogniser("fsrcnn", formats=("matconvnet",))
def fsrcnn_matlab(raw: RawRelease) -> Release | None:
    """FSRCNN / FSRCNN-s MATLAB release (Dong, Loy, Tang, ECCV 2016).

    The project page's FSRCNN_test package, ``model/FSRCNN{,-s}/x{2,3,4}.mat``, written from the
    Caffe models by FSRCNN_train's ``saveFilters.m``.

    Layout: cells of L = m + 4 layers. ``weights_conv{l}`` is ``(in, k*k, out)`` for the
    convolutions (5x5 feature extraction, 1x1 shrinking, m 3x3 mappings, 1x1 expanding) and
    ``(C, 81, d)`` for the last layer, the 9x9 deconvolution; ``biases_conv{l}`` is ``(out, 1)``;
    ``prelu_conv{l}`` one PReLU slope per layer (``prelu_conv{L}`` empty: none after the
    deconvolution). ``FSRCNN.m`` filters with ``imfilter(..., 'same', 'replicate')``
    (correlation) and the column-major ``reshape(w(j, :, i), k, k)`` kernels, PReLU
    ``max(x, 0) + a * min(x, 0)``, then ``deconv.m`` adds ``x * filter`` unflipped around one
    replicated LR pixel: srlab's :class:`~srlab.archs.fsrcnn.FSRCNN` with
    ``padding_mode="replicate"`` is that function (the slopes copied to every channel).

    The scale is not in the weights (the deconvolution's shape does not depend on its stride):
    it is read from the file name (``x3.mat``, ``FSRCNN_x3.mat``). At x3 the network is built with
    ``deconv_shift=1``: the authors' test script ``test_FSRCNN.m`` scores x3 outputs with
    ``shave_x3`` instead of ``shave``, and the released x3 weights (FSRCNN and FSRCNN-s) give
    their paper's PSNR only with the output one HR pixel further down/right than ``deconv.m``
    places it (Set5: 33.14 dB against 26.31 unshifted; see ``experiments/published``).
    """
    t = raw.tensors
    if raw.meta.get("layout") != "plain":
        return None
    found = sorted(int(hit.group(1)) for k in t if (hit := _FSRCNN_W.match(k)))
    if not found or "biases_conv{1}" not in t or "prelu_conv{1}" not in t:
        return None
    n = len(found)
    if found != list(range(1, n + 1)):
        raise ReleaseError(f"{raw.path}: FSRCNN cells weights_conv{{1..{n}}} have gaps ({found})")
    if n < 4:
        raise ReleaseError(f"{raw.path}: FSRCNN needs at least 4 layers (m >= 0), the file has {n}")
    led = TensorLedger(raw)
    ws = []
    for i in range(1, n + 1):
        w = led.take(f"weights_conv{{{i}}}")
        if w.dim() == 2:  # MATLAB dropped the trailing singleton (one output map)
            w = w.unsqueeze(-1)
        ws.append(w)
    ks = [math.isqrt(int(w.shape[1])) for w in ws]
    if any(w.dim() != 3 or k * k != w.shape[1] for w, k in zip(ws, ks)):
        raise ReleaseError(
            f"{raw.path}: FSRCNN weights are not (in, k*k, out) arrays: "
            f"{[tuple(w.shape) for w in ws]}"
        )
    # the convolutions chain (out of one = in of the next); the deconvolution is (C, k*k, d)
    chain = [(int(w.shape[0]), int(w.shape[2])) for w in ws[:-1]]
    in_ch, d = chain[0]
    s = chain[1][1]
    m = n - 4
    want = [(in_ch, d), (d, s), *[(s, s)] * m, (s, d)]
    want_k = [5, 1, *[3] * m, 1]
    if chain != want or ks[:-1] != want_k or tuple(ws[-1].shape[::2]) != (in_ch, d):
        raise ReleaseError(
            f"{raw.path}: layers {[tuple(w.shape) for w in ws]} are not FSRCNN's 5x5 {in_ch}->d, "
            f"1x1 d->s, m x 3x3 s->s, 1x1 s->d and a {in_ch}-channel deconvolution"
        )
    scale = scale_from_name(raw.path)
    if scale is None:
        raise ReleaseError(
            f"{raw.path}: an FSRCNN MATLAB release, whose scale is not in its weights: name the "
            f"file with its scale as the authors do (x2.mat, x3.mat, x4.mat)"
        )
    deconv_k = ks[-1]
    shift = 1 if scale == 3 else 0
    kwargs: dict[str, Any] = {
        "scale": scale,
        "in_channels": in_ch,
        "num_feat": d,
        "num_shrink_ch": s,
        "num_map_layer": m,
        "deconv_kernel": deconv_k,
        "padding_mode": "replicate",
        "deconv_shift": shift,
    }

    from ..archs.fsrcnn import FSRCNN

    try:
        net = FSRCNN(**kwargs)
    except ValueError as e:
        raise ReleaseError(f"{raw.path}: {e}") from None
    fill = ParamFiller(net, raw.path)
    layers = convs(net.body)
    prelus = [mod for mod in net.body if isinstance(mod, nn.PReLU)]
    for i, (conv, prelu) in enumerate(zip(layers, prelus)):
        what = f"weights_conv{{{i + 1}}}"
        fill.conv(conv, _matlab_kernels(ws[i], ks[i]), led.take(f"biases_conv{{{i + 1}}}"), what)
        slope = led.take(f"prelu_conv{{{i + 1}}}").reshape(-1)
        if slope.numel() not in (1, prelu.weight.numel()):
            raise ReleaseError(
                f"{raw.path}: prelu_conv{{{i + 1}}} has {slope.numel()} slopes for "
                f"{prelu.weight.numel()} channels"
            )
        fill.set(prelu.weight, slope.expand_as(prelu.weight), f"prelu_conv{{{i + 1}}}")
    last = f"weights_conv{{{n}}}"
    fill.conv(net.deconv, _matlab_kernels(ws[-1], deconv_k), led.take(f"biases_conv{{{n}}}"), last)
    variant = "FSRCNN-s" if (d, s, m) == (32, 5, 1) else "FSRCNN"
    notes = [
        "MATLAB column-major kernels transposed",
        "one PReLU slope per layer copied to every channel",
        "padding_mode='replicate': imfilter(..., 'replicate') and deconv.m's replicated LR border",
    ]
    if shift:
        notes.append("x3: deconv_shift=1, where the authors' test_FSRCNN.m scores x3 (shave_x3)")
    return fill.release(
        led,
        spec={"_target_": "srlab.archs.fsrcnn.FSRCNN", **kwargs},
        name=f"{variant} d{d} s{s} m{m} x{scale} (authors' MATLAB release, {Path(raw.path).name})",
        arch="fsrcnn",
        notes=notes,
    )


# ----------------------------------------------------------------------------- VDSR (MATLAB cells)


_VDSR_W = re.compile(r"^(.*)weight\{(\d+)\}$")


@recogniser("vdsr", formats=("matconvnet",))
def vdsr_matlab(raw: RawRelease) -> Release | None:
    """VDSR as MATLAB cells or as a MatConvNet SimpleNN.

    The cells ``model.weight{i}``/``model.bias{i}`` are run by ``vl_nnconv(.., 'Pad', 1)`` with
    ReLU between (caffe-vdsr's ``VDSR_Matconvnet.m``); a SimpleNN is conv/relu layers ending in
    a conv. Both get the global residual of VDSR's test code (srlab VDSR's own).
    """
    t = raw.tensors
    if raw.meta.get("layout") == "simplenn":
        lays = _layer_list(raw)
        if not lays or not all(lay["type"] in ("conv", "relu") for lay in lays):
            return None
        conv_layers = [lay for lay in lays if lay["type"] == "conv"]
        for lay in conv_layers:
            pad, stride = _block_value(lay["block"], "pad"), _block_value(lay["block"], "stride")
            if (pad is not None and set(pad) != {1.0}) or (
                stride is not None and set(stride) != {1.0}
            ):
                raise ReleaseError(
                    f"{raw.path}: SimpleNN conv {lay['name']!r} has pad {pad} stride {stride}, "
                    "VDSR needs 1 and 1"
                )
        pairs = [(f"{lay['name']}_f", f"{lay['name']}_b") for lay in conv_layers]
    elif raw.meta.get("layout") == "plain":
        found = {int(m.group(2)): m.group(1) for k in t if (m := _VDSR_W.match(k))}
        if not found or len(set(found.values())) != 1:
            return None
        prefix = next(iter(found.values()))
        n = len(found)
        if sorted(found) != list(range(1, n + 1)):
            raise ReleaseError(f"{raw.path}: VDSR cells weight{{1..{n}}} have gaps")
        pairs = [(f"{prefix}weight{{{i}}}", f"{prefix}bias{{{i}}}") for i in range(1, n + 1)]
    else:
        return None
    if len(pairs) < 3:
        return None
    led = TensorLedger(raw)
    ws = [mat_filter(led.take(f)) for f, _ in pairs]
    bs = [led.take(b) if led.has(b) else None for _, b in pairs]
    led.finish()
    in_ch, num_feat = ws[0].shape[1], ws[0].shape[0]
    if ws[-1].shape[0] != in_ch or any(w.shape[-1] != 3 or w.shape[-2] != 3 for w in ws):
        raise ReleaseError(
            f"{raw.path}: VDSR layers are not 3x3 convolutions {in_ch}->...->{in_ch}"
        )

    from ..archs.vdsr import VDSR

    net = VDSR(scale=[2, 3, 4], in_channels=in_ch, num_feat=num_feat, num_layer=len(ws))
    fill = ParamFiller(net, raw.path)
    c = convs(net)
    if len(c) != len(ws):
        raise ReleaseError(
            f"{raw.path}: srlab's VDSR has {len(c)} convolutions, the file {len(ws)}"
        )
    for i, (layer, w, b) in enumerate(zip(c, ws, bs)):
        fill.conv(layer, w, b, f"conv{i + 1}")
    return fill.release(
        led,
        spec={
            "_target_": "srlab.archs.vdsr.VDSR",
            "scale": [2, 3, 4],
            "in_channels": in_ch,
            "num_feat": num_feat,
            "num_layer": len(ws),
        },
        name=f"VDSR {len(ws)} layers (MATLAB release, {Path(raw.path).name})",
        arch="vdsr",
        notes=["MatConvNet filters permuted (H, W, in, out) -> (out, in, H, W)"],
    )
