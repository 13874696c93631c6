"""Caffe releases: the ``.caffemodel`` reader (protobuf only, no Caffe) and their recognisers.

The recognisers read the Caffe releases of the classic networks. The schema is the subset of
BVLC Caffe's ``src/caffe/proto/caffe.proto`` (proto2, package ``caffe``) that a trained net
needs, built with ``descriptor_pb2`` at import time under the package name ``srlab_caffe`` (so
that it never clashes with a real ``caffe_pb2``). Field numbers are Caffe's own; every other
field of a file is skipped by protobuf as unknown:

- ``NetParameter``: ``name = 1``, ``layers = 2`` (V1LayerParameter, deprecated format),
  ``layer = 100`` (LayerParameter).
- ``LayerParameter``: ``name = 1``, ``type = 2`` (string), ``bottom = 3``, ``top = 4``,
  ``blobs = 7``, ``convolution_param = 106``, ``eltwise_param = 110``, ``relu_param = 123``,
  ``slice_param = 126``, ``concat_param = 104``, ``batch_norm_param = 139``,
  ``scale_param = 142``.
- ``V1LayerParameter``: ``bottom = 2``, ``top = 3``, ``name = 4``, ``type = 5`` (enum
  LayerType, read as its number; CONVOLUTION = 4, DECONVOLUTION = 39, RELU = 18, ELTWISE = 25,
  CONCAT = 3, SPLIT = 22, SLICE = 33), ``blobs = 6``, ``concat_param = 9``,
  ``convolution_param = 10``, ``eltwise_param = 24``, ``relu_param = 30``, ``slice_param = 31``.
- ``BlobProto``: ``num = 1``, ``channels = 2``, ``height = 3``, ``width = 4`` (legacy 4-D shape),
  ``data = 5`` (packed float), ``shape = 7`` (``BlobShape.dim = 1``, packed int64),
  ``double_data = 8`` (packed double).
- ``ConvolutionParameter``: ``num_output = 1``, ``bias_term = 2``, ``pad = 3``,
  ``kernel_size = 4``, ``group = 5``, ``stride = 6``, ``pad_h = 9``, ``pad_w = 10``,
  ``kernel_h = 11``, ``kernel_w = 12``, ``stride_h = 13``, ``stride_w = 14``, ``dilation = 18``.
- ``ReLUParameter.negative_slope = 1``; ``EltwiseParameter.operation = 1`` (PROD 0, SUM 1,
  MAX 2), ``coeff = 2``; ``SliceParameter``: ``slice_dim = 1``, ``slice_point = 2``,
  ``axis = 3``; ``ConcatParameter``: ``concat_dim = 1``, ``axis = 2``;
  ``BatchNormParameter``: ``use_global_stats = 1``, ``eps = 3``; ``ScaleParameter.bias_term = 4``.

:func:`read_caffemodel` names a layer's blobs ``<layer>.0``, ``<layer>.1``... in their Caffe
layout (a Convolution weight ``(out, in / group, kh, kw)``, a Deconvolution weight
``(in, out / group, kh, kw)``, which is PyTorch's ``ConvTranspose2d`` layout: Caffe's
deconvolution is the transpose of its correlation, so no flip is needed). ``meta["layers"]``
keeps each layer's name, type, bottoms, tops and options.

Recognised releases:

- ``idn``: IDN x2/x3/x4 (Zheng222/IDN-Caffe ``test/caffemodel/IDN_x{2,3,4}.caffemodel``, also
  ``IDN_x4_mscoco``): the scale is the ``upsample`` deconvolution's stride, the block count the
  number of ``down<k>`` layers. The deconvolution output is placed at HR offset ``s - 1`` and
  added to the MATLAB-bicubic image, as the authors' ``test_IDN.m`` does (srlab's
  :class:`~srlab.archs.idn.CaffeDeconv`).
- ``vdsr``: 20-conv VDSR (huangzehao/caffe-vdsr ``Train/VDSR_Adam.caffemodel``: ``conv1``..
  ``conv20``); the global residual is srlab's VDSR's own.
- ``drrn``: DRRN B1U<U> (tyshiwo/DRRN_CVPR17 ``DRRN_B1U{9,25}`` layer names: BatchNorm + Scale
  pre-activation, the unit convolutions shared by ``param`` name, so every unit's copy is read
  and checked equal). Written against the published prototxt; no DRRN ``.caffemodel`` was at
  hand to verify it against.

Not recognised: Caffe SRCNN/FSRCNN files (refused with the "not a recognised caffe release"
error).

All take Y in [0, 1] (the Caffe data layers are fed ``im / 255``), which is srlab's range, so
no range conversion is folded in.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from typing_extensions import NotRequired

from .core import RawRelease, Release, ReleaseError, TensorLedger, recogniser
from .matconvnet import ConvLayer, ParamFiller, convs, deconvs

__all__ = ["read_caffemodel", "caffe_schema", "V1_TYPES", "CaffeLayer", "ConvOptions"]

#: V1LayerParameter.LayerType numbers -> the V2 type strings (caffe.proto)
V1_TYPES = {
    3: "Concat",
    4: "Convolution",
    5: "Data",
    6: "Dropout",
    18: "ReLU",
    22: "Split",
    25: "Eltwise",
    33: "Slice",
    39: "Deconvolution",
    7: "EuclideanLoss",
    9: "HDF5Data",
    12: "ImageData",
    29: "MemoryData",
}


class ConvOptions(TypedDict):
    """A (de)convolution layer's ``convolution_param``, each 2-D option as ``[h, w]``."""

    num_output: int
    bias_term: bool
    kernel: list[int]
    stride: list[int]
    pad: list[int]
    group: int
    dilation: list[int]


class SliceOptions(TypedDict):
    """A ``Slice`` layer's ``slice_param``."""

    axis: int
    points: list[int]


class EltwiseOptions(TypedDict):
    """An ``Eltwise`` layer's ``eltwise_param`` (operation: PROD 0, SUM 1, MAX 2)."""

    operation: int
    coeff: list[float]


class CaffeLayer(TypedDict):
    """One layer of a ``.caffemodel``, as :func:`read_caffemodel` keeps it in ``meta["layers"]``.

    Attributes:
        name: the layer's name (its blobs are the tensors ``<name>.0``, ``<name>.1``...).
        type: the V2 type string (``"Convolution"``, ...; V1 files' enum numbers translated by
            :data:`V1_TYPES`, unknown ones as ``"V1:<number>"``).
        bottom: the blobs it reads.
        top: the blobs it writes.
        blobs: how many parameter blobs it holds.
        conv: its ``convolution_param``, when it has one.
        negative_slope: a ``ReLU``'s slope (0 when the file states none).
        slice: its ``slice_param``, when it has one.
        eltwise: its ``eltwise_param``, when it has one.
        eps: a V2 ``BatchNorm``'s epsilon, when the file states one.
        scale_bias: a V2 ``Scale`` layer's ``bias_term``, when it has a ``scale_param``.
    """

    name: str
    type: str
    bottom: list[str]
    top: list[str]
    blobs: NotRequired[int]
    conv: NotRequired[ConvOptions]
    negative_slope: NotRequired[float]
    slice: NotRequired[SliceOptions]
    eltwise: NotRequired[EltwiseOptions]
    eps: NotRequired[float]
    scale_bias: NotRequired[bool]


# ----------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def caffe_schema() -> dict[str, Any]:
    """The message classes of the Caffe subset (``{"NetParameter": cls, ...}``)."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="srlab_caffe_subset.proto", package="srlab_caffe", syntax="proto2"
    )

    def message(name: str, fields: list[tuple[str, int, int, int, str | None, bool]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name, packed in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".srlab_caffe.{type_name}"
            if packed:
                f.options.packed = True

    OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("BlobShape", [("dim", 1, F.TYPE_INT64, REP, None, True)])
    message(
        "BlobProto",
        [
            ("num", 1, F.TYPE_INT64, OPT, None, False),
            ("channels", 2, F.TYPE_INT64, OPT, None, False),
            ("height", 3, F.TYPE_INT64, OPT, None, False),
            ("width", 4, F.TYPE_INT64, OPT, None, False),
            ("data", 5, F.TYPE_FLOAT, REP, None, True),
            ("shape", 7, F.TYPE_MESSAGE, OPT, "BlobShape", False),
            ("double_data", 8, F.TYPE_DOUBLE, REP, None, True),
        ],
    )
    message(
        "ConvolutionParameter",
        [
            ("num_output", 1, F.TYPE_UINT32, OPT, None, False),
            ("bias_term", 2, F.TYPE_BOOL, OPT, None, False),
            ("pad", 3, F.TYPE_UINT32, REP, None, False),
            ("kernel_size", 4, F.TYPE_UINT32, REP, None, False),
            ("group", 5, F.TYPE_UINT32, OPT, None, False),
            ("stride", 6, F.TYPE_UINT32, REP, None, False),
            ("pad_h", 9, F.TYPE_UINT32, OPT, None, False),
            ("pad_w", 10, F.TYPE_UINT32, OPT, None, False),
            ("kernel_h", 11, F.TYPE_UINT32, OPT, None, False),
            ("kernel_w", 12, F.TYPE_UINT32, OPT, None, False),
            ("stride_h", 13, F.TYPE_UINT32, OPT, None, False),
            ("stride_w", 14, F.TYPE_UINT32, OPT, None, False),
            ("dilation", 18, F.TYPE_UINT32, REP, None, False),
        ],
    )
    message("ReLUParameter", [("negative_slope", 1, F.TYPE_FLOAT, OPT, None, False)])
    message(
        "EltwiseParameter",
        [
            ("operation", 1, F.TYPE_INT32, OPT, None, False),
            ("coeff", 2, F.TYPE_FLOAT, REP, None, False),
        ],
    )
    message(
        "SliceParameter",
        [
            ("slice_dim", 1, F.TYPE_UINT32, OPT, None, False),
            ("slice_point", 2, F.TYPE_UINT32, REP, None, False),
            ("axis", 3, F.TYPE_INT32, OPT, None, False),
        ],
    )
    message(
        "ConcatParameter",
        [
            ("concat_dim", 1, F.TYPE_UINT32, OPT, None, False),
            ("axis", 2, F.TYPE_INT32, OPT, None, False),
        ],
    )
    message(
        "BatchNormParameter",
        [
            ("use_global_stats", 1, F.TYPE_BOOL, OPT, None, False),
            ("eps", 3, F.TYPE_FLOAT, OPT, None, False),
        ],
    )
    message("ScaleParameter", [("bias_term", 4, F.TYPE_BOOL, OPT, None, False)])
    common = [
        ("concat_param", "ConcatParameter"),
        ("convolution_param", "ConvolutionParameter"),
        ("eltwise_param", "EltwiseParameter"),
        ("relu_param", "ReLUParameter"),
        ("slice_param", "SliceParameter"),
    ]
    v2_numbers = {
        "concat_param": 104,
        "convolution_param": 106,
        "eltwise_param": 110,
        "relu_param": 123,
        "slice_param": 126,
    }
    v1_numbers = {
        "concat_param": 9,
        "convolution_param": 10,
        "eltwise_param": 24,
        "relu_param": 30,
        "slice_param": 31,
    }
    message(
        "LayerParameter",
        [
            ("name", 1, F.TYPE_STRING, OPT, None, False),
            ("type", 2, F.TYPE_STRING, OPT, None, False),
            ("bottom", 3, F.TYPE_STRING, REP, None, False),
            ("top", 4, F.TYPE_STRING, REP, None, False),
            ("blobs", 7, F.TYPE_MESSAGE, REP, "BlobProto", False),
            ("batch_norm_param", 139, F.TYPE_MESSAGE, OPT, "BatchNormParameter", False),
            ("scale_param", 142, F.TYPE_MESSAGE, OPT, "ScaleParameter", False),
        ]
        + [(n, v2_numbers[n], F.TYPE_MESSAGE, OPT, t, False) for n, t in common],
    )
    message(
        "V1LayerParameter",
        [
            ("bottom", 2, F.TYPE_STRING, REP, None, False),
            ("top", 3, F.TYPE_STRING, REP, None, False),
            ("name", 4, F.TYPE_STRING, OPT, None, False),
            ("type", 5, F.TYPE_INT32, OPT, None, False),
            ("blobs", 6, F.TYPE_MESSAGE, REP, "BlobProto", False),
        ]
        + [(n, v1_numbers[n], F.TYPE_MESSAGE, OPT, t, False) for n, t in common],
    )
    message(
        "NetParameter",
        [
            ("name", 1, F.TYPE_STRING, OPT, None, False),
            ("layers", 2, F.TYPE_MESSAGE, REP, "V1LayerParameter", False),
            ("layer", 100, F.TYPE_MESSAGE, REP, "LayerParameter", False),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    try:
        from google.protobuf.message_factory import GetMessageClass

        def make(d: Any) -> Any:
            return GetMessageClass(d)
    except ImportError:  # protobuf < 4.21
        from google.protobuf import message_factory

        factory = message_factory.MessageFactory(pool)

        def make(d: Any) -> Any:
            return factory.GetPrototype(d)

    names = [m.name for m in fdp.message_type]
    return {n: make(pool.FindMessageTypeByName(f"srlab_caffe.{n}")) for n in names}


# ----------------------------------------------------------------------------- reading


def _blob_array(blob: Any, where: str) -> npt.NDArray[np.float32]:
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:  # legacy 4-D blobs
        shape = tuple(int(d) for d in (blob.num, blob.channels, blob.height, blob.width))
        if all(d == 0 for d in shape):
            shape = (len(blob.data) or len(blob.double_data),)
    values = (
        np.asarray(blob.data, dtype=np.float32)
        if len(blob.data)
        else np.asarray(blob.double_data, dtype=np.float32)
    )
    if int(np.prod(shape)) != values.size:
        raise ReleaseError(f"{where} holds {values.size} values for its shape {shape}")
    return values.reshape(shape)


def _layer_info(layer: Any, v1: bool) -> CaffeLayer:
    typ = V1_TYPES.get(layer.type, f"V1:{layer.type}") if v1 else layer.type
    info: CaffeLayer = {
        "name": layer.name,
        "type": typ,
        "bottom": list(layer.bottom),
        "top": list(layer.top),
    }
    if layer.HasField("convolution_param"):
        c = layer.convolution_param

        def two(rep: Any, h: int, w: int, has_hw: bool, default: int) -> list[int]:
            if has_hw:
                return [int(h), int(w)]
            vals = [int(v) for v in rep] or [default]
            return vals * 2 if len(vals) == 1 else vals[:2]

        info["conv"] = {
            "num_output": int(c.num_output),
            "bias_term": c.bias_term if c.HasField("bias_term") else True,
            "kernel": two(c.kernel_size, c.kernel_h, c.kernel_w, c.HasField("kernel_h"), 1),
            "stride": two(c.stride, c.stride_h, c.stride_w, c.HasField("stride_h"), 1),
            "pad": two(c.pad, c.pad_h, c.pad_w, c.HasField("pad_h"), 0),
            "group": int(c.group) if c.HasField("group") else 1,
            "dilation": [int(v) for v in c.dilation] or [1],
        }
    if layer.HasField("relu_param"):
        info["negative_slope"] = float(layer.relu_param.negative_slope)
    elif typ == "ReLU":
        info["negative_slope"] = 0.0
    if layer.HasField("slice_param"):
        s = layer.slice_param
        info["slice"] = {
            "axis": int(s.axis) if s.HasField("axis") else int(s.slice_dim or 1),
            "points": [int(p) for p in s.slice_point],
        }
    if layer.HasField("eltwise_param"):
        info["eltwise"] = {
            "operation": int(layer.eltwise_param.operation)
            if layer.eltwise_param.HasField("operation")
            else 1,
            "coeff": [float(v) for v in layer.eltwise_param.coeff],
        }
    if not v1 and layer.HasField("batch_norm_param") and layer.batch_norm_param.HasField("eps"):
        info["eps"] = float(layer.batch_norm_param.eps)
    if not v1 and layer.HasField("scale_param"):
        info["scale_bias"] = bool(layer.scale_param.bias_term)
    return info


def read_caffemodel(path: str | os.PathLike[str]) -> RawRelease:
    """Read a ``.caffemodel`` (binary ``NetParameter``) into a :class:`RawRelease`.

    Args:
        path: the ``.caffemodel`` file.

    Returns:
        its blobs as tensors ``<layer>.<i>`` in Caffe's layout, format ``"caffe"``;
        ``meta["layers"]`` holds the :class:`CaffeLayer` list, ``meta["name"]`` the net's name,
        ``meta["v1"]`` whether the file uses the deprecated V1 layers.

    Raises:
        ReleaseError: the file is not a readable ``NetParameter`` or holds no layers, or a blob's
            values do not fill its shape.
    """
    p = str(path)
    try:
        from google.protobuf.message import DecodeError
    except ImportError:  # pragma: no cover - protobuf is a core dependency
        raise ReleaseError("reading Caffe releases needs protobuf (pip install protobuf)") from None
    data = Path(p).read_bytes()
    net = caffe_schema()["NetParameter"]()
    try:
        net.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ReleaseError(
            f"{p}: not a readable .caffemodel (protobuf NetParameter): "
            f"{str(e).strip() or 'truncated or corrupt'}"
        ) from None
    v1 = not len(net.layer) and bool(len(net.layers))
    layers_in = net.layers if v1 else net.layer
    if not len(layers_in):
        raise ReleaseError(
            f"{p}: the .caffemodel holds no layers (empty, truncated, or not a Caffe file)"
        )
    tensors: dict[str, torch.Tensor] = {}
    layers: list[CaffeLayer] = []
    for layer in layers_in:
        info = _layer_info(layer, v1)
        for i, blob in enumerate(layer.blobs):
            tensors[f"{layer.name}.{i}"] = torch.from_numpy(
                _blob_array(blob, f"{p}: blob {i} of layer {layer.name!r}").copy()
            )
        info["blobs"] = len(layer.blobs)
        layers.append(info)
    return RawRelease(p, "caffe", tensors, {"layers": layers, "name": net.name, "v1": v1})


# ----------------------------------------------------------------------------- helpers


def _layer_list(raw: RawRelease) -> list[CaffeLayer]:
    layers: list[CaffeLayer] = raw.meta.get("layers", [])
    return layers


def _layers(raw: RawRelease) -> dict[str, CaffeLayer]:
    return {lay["name"]: lay for lay in _layer_list(raw)}


def _conv_opts(raw: RawRelease, name: str, kind: str = "Convolution") -> ConvOptions:
    lay = _layers(raw).get(name)
    if lay is None or lay["type"] != kind or "conv" not in lay:
        raise ReleaseError(f"{raw.path}: layer {name!r} is missing or is not a {kind}")
    return lay["conv"]


def _check_slopes(raw: RawRelease, arch: str, slope: float) -> None:
    for lay in _layer_list(raw):
        if lay["type"] == "ReLU" and abs(lay.get("negative_slope", 0.0) - slope) > 1e-6:
            raise ReleaseError(
                f"{raw.path}: ReLU layer {lay['name']!r} has negative_slope "
                f"{lay.get('negative_slope', 0.0)} where srlab's {arch} uses {slope}"
            )


def _check_conv(
    raw: RawRelease, name: str, arch: str, module: ConvLayer, kind: str = "Convolution"
) -> None:
    """Check that layer ``name``'s kernel/stride/pad/group are the srlab module's.

    Caffe's pad is PyTorch's padding; stride and pad are compared for a ``Convolution`` only.

    Raises:
        ReleaseError: the layer is missing, of another kind, or differs from ``module``.
    """
    c = _conv_opts(raw, name, kind)
    want_k = list(module.kernel_size)
    if c["kernel"] != want_k or c["group"] != module.groups or c["dilation"] not in ([1], [1, 1]):
        raise ReleaseError(
            f"{raw.path}: layer {name!r} is a {c['kernel']} conv with group {c['group']} "
            f"where srlab's {arch} has {want_k} with groups {module.groups}"
        )
    if kind == "Convolution" and (
        c["stride"] != list(module.stride) or c["pad"] != list(module.padding)
    ):
        raise ReleaseError(
            f"{raw.path}: layer {name!r} has stride {c['stride']} pad {c['pad']} "
            f"where srlab's {arch} has {list(module.stride)} {list(module.padding)}"
        )


# ----------------------------------------------------------------------------- IDN


@recogniser("idn", formats=("caffe",))
def idn_caffe(raw: RawRelease) -> Release | None:
    """IDN (CVPR 2018), Zheng222/IDN-Caffe."""
    t = raw.tensors
    if not {"conv1.0", "conv2.0", "conv3_1.0", "down1.0", "upsample.0"} <= set(t):
        return None
    num_block = len([k for k in t if re.fullmatch(r"down\d+\.0", k)])
    up = _conv_opts(raw, "upsample", "Deconvolution")
    scale = up["stride"][0]
    k = up["kernel"][0]
    if up["stride"][0] != up["stride"][1] or up["kernel"] != [17, 17] or up["pad"] != [8, 8]:
        raise ReleaseError(
            f"{raw.path}: IDN 'upsample' is kernel {up['kernel']} stride {up['stride']} "
            f"pad {up['pad']}, srlab's IDN needs a 17x17 one with pad 8"
        )
    _check_slopes(raw, "IDN", 0.05)
    layers = _layers(raw)
    slices = {n: lay["slice"] for n, lay in layers.items() if "slice" in lay}
    for i in range(1, num_block + 1):
        sl = slices.get(f"slice{i}")
        if sl is not None and (sl["axis"] != 1 or len(sl["points"]) != 1):
            raise ReleaseError(
                f"{raw.path}: IDN layer 'slice{i}' slices axis {sl['axis']} at {sl['points']}, "
                "expected one channel split"
            )
    w1 = t["conv1.0"]
    in_ch, num_feat = int(w1.shape[1]), int(w1.shape[0])
    d = num_feat - int(t["conv3_1.0"].shape[0])
    groups = int(_conv_opts(raw, "conv3_2")["group"])
    distilled = slices["slice1"]["points"][0] if "slice1" in slices else d
    slice_ratio = num_feat // distilled if distilled else 4

    from ..archs.idn import IDN

    try:
        net = IDN(
            scale=scale,
            in_channels=in_ch,
            num_feat=num_feat,
            num_block=num_block,
            num_distill_ch=d,
            slice_ratio=slice_ratio,
            groups=groups,
        )
    except ValueError as e:
        raise ReleaseError(
            f"{raw.path}: IDN hyper-parameters read from the file do not build: {e}"
        ) from None
    led, fill = TensorLedger(raw), ParamFiller(net, raw.path)

    def conv(module: ConvLayer, name: str, kind: str = "Convolution") -> None:
        _check_conv(raw, name, "IDN", module, kind)
        w = led.take(f"{name}.0")
        b = led.take(f"{name}.1") if led.has(f"{name}.1") else None
        fill.conv(module, w, b, name)

    fb = convs(net.fblock)
    conv(fb[0], "conv1")
    conv(fb[1], "conv2")
    for bi, block in enumerate(net.dblocks):
        c = convs(block)
        names = [f"conv{bi + 3}_{j}" for j in range(1, 7)] + [f"down{bi + 1}"]
        if len(c) != len(names):
            raise ReleaseError(
                f"{raw.path}: srlab's IDN DBlock has {len(c)} convs, the release {len(names)}"
            )
        for m, n in zip(c, names):
            conv(m, n)
    rb = deconvs(net.rblock)
    if not rb:
        raise ReleaseError(
            f"{raw.path}: srlab's IDN has no transposed-conv RBlock to receive 'upsample'"
        )
    conv(rb[0], "upsample", "Deconvolution")
    spec = {
        "_target_": "srlab.archs.idn.IDN",
        "scale": scale,
        "in_channels": in_ch,
        "num_feat": num_feat,
        "num_block": num_block,
        "num_distill_ch": d,
        "slice_ratio": slice_ratio,
        "groups": groups,
    }
    return fill.release(
        led,
        spec=spec,
        name=f"IDN x{scale} (Caffe release {os.path.basename(raw.path)})",
        arch="idn",
        notes=[
            f"Caffe deconvolution {k}x{k}/{scale} placed at HR offset {scale - 1} "
            "and added to the MATLAB bicubic image (test_IDN.m)"
        ],
    )


# ----------------------------------------------------------------------------- VDSR


@recogniser("vdsr", formats=("caffe",))
def vdsr_caffe(raw: RawRelease) -> Release | None:
    """VDSR as a Caffe chain ``conv1``..``conv<D>`` of 3x3 convolutions with ReLUs between.

    The layout of huangzehao/caffe-vdsr; the skip is srlab VDSR's ``x + body(x)``.
    """
    t = raw.tensors
    idx = sorted(int(m.group(1)) for k in t if (m := re.fullmatch(r"conv(\d+)\.0", k)))
    if (
        len(idx) < 3
        or idx != list(range(1, len(idx) + 1))
        or any(not re.fullmatch(r"conv\d+\.[01]", k) for k in t)
    ):
        return None
    ws = [t[f"conv{i}.0"] for i in idx]
    if (
        any(w.dim() != 4 or tuple(w.shape[-2:]) != (3, 3) for w in ws)
        or ws[0].shape[1] != ws[-1].shape[0]
    ):
        return None
    in_ch, num_feat = int(ws[0].shape[1]), int(ws[0].shape[0])
    _check_slopes(raw, "VDSR", 0.0)

    from ..archs.vdsr import VDSR

    net = VDSR(scale=[2, 3, 4], in_channels=in_ch, num_feat=num_feat, num_layer=len(idx))
    led, fill = TensorLedger(raw), ParamFiller(net, raw.path)
    layers = _layers(raw)
    for i, layer in zip(idx, convs(net)):
        lay = layers.get(f"conv{i}")
        if lay is not None and lay.get("conv"):
            _check_conv(raw, f"conv{i}", "VDSR", layer)
        fill.conv(
            layer,
            led.take(f"conv{i}.0"),
            led.take(f"conv{i}.1") if led.has(f"conv{i}.1") else None,
            f"conv{i}",
        )
    spec = {
        "_target_": "srlab.archs.vdsr.VDSR",
        "scale": [2, 3, 4],
        "in_channels": in_ch,
        "num_feat": num_feat,
        "num_layer": len(idx),
    }
    return fill.release(
        led, spec=spec, name=f"VDSR {len(idx)} layers (Caffe release)", arch="vdsr", notes=[]
    )


# ----------------------------------------------------------------------------- DRRN


def _bn_scale(
    raw: RawRelease,
    led: TensorLedger,
    fill: ParamFiller,
    preact: nn.Module,
    name: str,
    scale_name: str,
) -> None:
    """Fill srlab DRRN's pre-activation ``BatchNorm2d`` from Caffe ``BatchNorm`` + ``Scale``.

    Caffe's ``BatchNorm`` blobs are the mean sum, the variance sum and the moving-average
    factor: mean and variance are divided by the factor as Caffe does; ``Scale`` holds gamma
    and beta.

    Args:
        raw: the release.
        led: its ledger (``<name>.0..2`` and ``<scale_name>.0..1`` are taken).
        fill: the network's filler.
        preact: srlab's pre-activation ``Sequential`` (its first module is the ``BatchNorm2d``).
        name: the Caffe ``BatchNorm`` layer.
        scale_name: the Caffe ``Scale`` layer after it.

    Raises:
        ReleaseError: srlab's module is no ``BatchNorm2d`` with running statistics, the eps
            differs, or a blob is missing or of another shape.
    """
    bn = preact.get_submodule("0")
    if not isinstance(bn, nn.BatchNorm2d):
        raise ReleaseError(f"{raw.path}: srlab's module for {name!r} is not a BatchNorm2d")
    if bn.running_mean is None or bn.running_var is None:
        raise ReleaseError(f"{raw.path}: srlab's BatchNorm2d for {name!r} keeps no running stats")
    lay = _layers(raw).get(name)
    eps = lay.get("eps", 1e-5) if lay is not None else 1e-5
    if abs(eps - bn.eps) > 1e-9:
        raise ReleaseError(
            f"{raw.path}: BatchNorm {name!r} has eps {eps} where srlab uses {bn.eps}"
        )
    mean, var, factor = led.take(f"{name}.0"), led.take(f"{name}.1"), led.take(f"{name}.2")
    f = float(factor.reshape(-1)[0]) if factor.numel() else 1.0
    f = 0.0 if f == 0 else 1.0 / f
    fill.set(bn.running_mean, mean.reshape(-1) * f, f"{name} mean")
    fill.set(bn.running_var, var.reshape(-1) * f, f"{name} variance")
    fill.set(bn.weight, led.take(f"{scale_name}.0").reshape(-1), f"{scale_name} gamma")
    fill.set(bn.bias, led.take(f"{scale_name}.1").reshape(-1), f"{scale_name} beta")


def _shared(raw: RawRelease, led: TensorLedger, names: list[str]) -> list[torch.Tensor]:
    """The blobs of layers that share one parameter (Caffe ``param { name: ... }``).

    Every layer's copy is taken (so each is used once) and must equal the first layer's.

    Returns:
        the first layer's blobs (weight, then bias when there is one).

    Raises:
        ReleaseError: a copy holds other values.
    """
    first = [led.take(f"{names[0]}.{i}") for i in (0, 1) if led.has(f"{names[0]}.{i}")]
    for other in names[1:]:
        for i, t in enumerate(first):
            if led.has(f"{other}.{i}") and not torch.equal(led.take(f"{other}.{i}"), t):
                raise ReleaseError(
                    f"{raw.path}: layer {other!r} should share blob {i} of {names[0]!r} "
                    "but holds other values"
                )
    return first


@recogniser("drrn", formats=("caffe",))
def drrn_caffe(raw: RawRelease) -> Release | None:
    """DRRN B1U<U> with the layer names of tyshiwo/DRRN_CVPR17 ``DRRN_B1U*_train.prototxt``.

    ``bn_conv1``/``scale_conv1``/``conv1``, per unit ``{bn_,scale_,}conv1_<u>{a,b}`` (the convs
    shared by ``param`` name), ``eltwise1_<u>`` adding ``conv1``, then
    ``{bn_,scale_,}conv_end`` and the global ``HR_recovery`` sum (srlab DRRN's ``x + ...``).
    """
    t = raw.tensors
    if not {"conv1.0", "bn_conv1.0", "conv1_1a.0", "conv_end.0"} <= set(t):
        return None
    units = sorted(int(m.group(1)) for k in t if (m := re.fullmatch(r"conv1_(\d+)a\.0", k)))
    if units != list(range(1, len(units) + 1)):
        raise ReleaseError(
            f"{raw.path}: DRRN units conv1_<u>a are not numbered 1..U ({units[:5]}...)"
        )
    if any(re.fullmatch(r"conv2(_\d+[ab])?\.0", k) for k in t):
        raise ReleaseError(
            f"{raw.path}: DRRN with more than one recursive block (conv2...) is not supported"
        )
    _check_slopes(raw, "DRRN", 0.0)
    for u in units:  # every unit adds the block's first conv output (multi-path local residual)
        lay = _layers(raw).get(f"eltwise1_{u}")
        if lay is not None and "conv1" not in lay["bottom"]:
            raise ReleaseError(f"{raw.path}: DRRN 'eltwise1_{u}' does not add 'conv1'")
    in_ch, num_feat = int(t["conv1.0"].shape[1]), int(t["conv1.0"].shape[0])

    from ..archs.drrn import DRRN, RecursiveBlock

    net = DRRN(
        scale=[2, 3, 4], in_channels=in_ch, num_feat=num_feat, num_block=1, num_unit=len(units)
    )
    led, fill = TensorLedger(raw), ParamFiller(net, raw.path)
    block = net.blocks[0]
    if not isinstance(block, RecursiveBlock):
        raise ReleaseError(f"{raw.path}: srlab's DRRN block is not a RecursiveBlock")
    _bn_scale(raw, led, fill, block.pre_in, "bn_conv1", "scale_conv1")
    _check_conv(raw, "conv1", "DRRN", block.conv_in)
    fill.conv(block.conv_in, led.take("conv1.0"), led.take("conv1.1"), "conv1")
    for conv, side in ((block.conv1, "a"), (block.conv2, "b")):
        names = [f"conv1_{u}{side}" for u in units]
        _check_conv(raw, names[0], "DRRN", conv)
        w = _shared(raw, led, names)
        fill.conv(conv, w[0], w[1] if len(w) > 1 else None, names[0])
    for i, u in enumerate(units):
        _bn_scale(raw, led, fill, block.pre1[i], f"bn_conv1_{u}a", f"scale_conv1_{u}a")
        _bn_scale(raw, led, fill, block.pre2[i], f"bn_conv1_{u}b", f"scale_conv1_{u}b")
    _bn_scale(raw, led, fill, net.tail[0], "bn_conv_end", "scale_conv_end")
    conv_end = convs(net.tail)[-1]
    _check_conv(raw, "conv_end", "DRRN", conv_end)
    fill.conv(conv_end, led.take("conv_end.0"), led.take("conv_end.1"), "conv_end")
    spec = {
        "_target_": "srlab.archs.drrn.DRRN",
        "scale": [2, 3, 4],
        "in_channels": in_ch,
        "num_feat": num_feat,
        "num_block": 1,
        "num_unit": len(units),
    }
    return fill.release(
        led,
        spec=spec,
        name=f"DRRN B1U{len(units)} (Caffe release)",
        arch="drrn",
        notes=[
            "Caffe BatchNorm means/variances divided by the moving-average factor; "
            "BatchNorm+Scale -> BatchNorm2d"
        ],
    )
