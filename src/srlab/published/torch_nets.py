"""Recognisers of PyTorch releases (``.pt``/``.pth``/``.safetensors`` state dicts).

Each recogniser looks at the tensor names and shapes of a :class:`RawRelease`, returns ``None``
at once when they are another architecture's, detects the hyper-parameters (width, depth,
scales, colour, groups) from the shapes, takes every tensor exactly once through a
:class:`TensorLedger` (a missing or extra tensor is a :class:`ReleaseError`), folds the
release's conventions (value range, mean shift, missing biases) into the weights and returns
the srlab network working on [0, 1] images.

Layouts recognised (the project whose code defines each layout is named; the tensors are the
release's, the srlab networks stay as they are):

- **EDSR-PyTorch** (``thstkdgus35/EDSR-PyTorch``; RCAN also ``yulunzhang/RCAN``): EDSR and
  EDSR-baseline (``head.0``, ``body.N.body.{0,2}``, ``tail.0.*``, ``tail.1``), MDSR
  (``pre_process.N``, ``upsample.N``), RCAN (``body.G.body.B.body.3.conv_du``). These work on
  [0, 255] (``rgb_range`` 255) with 1x1 ``MeanShift`` convolutions ``sub_mean`` / ``add_mean``
  (in the file or not; when present they give the mean and the range; RCAN's code trained them,
  so a non-identity pair is folded into the head/tail convolutions). ``res_scale`` is not in the
  file: 0.1 is assumed at 256 features (EDSR), 1 below.
- **BasicSR** (``XPixelGroup/BasicSR``): EDSR and RCAN (``conv_first``, ``conv_after_body``,
  ``upsample``, ``conv_last``; ``img_range`` 255, DIV2K mean as a plain attribute, not saved),
  RRDBNet (``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``/``conv_up2``,
  ``conv_hr``, ``conv_last``; [0, 1], e.g. ESRGAN / Real-ESRGAN x4 ``params_ema``).
- **ESRGAN** (``xinntao/ESRGAN``): the authors' original sequential RRDBNet layout
  (``RRDB_ESRGAN_x4.pth`` as first released: ``model.0``, ``model.1.sub.N.RDB1.conv1.0``,
  ``model.1.sub.23``, ``model.3``, ``model.6``, ``model.8``, ``model.10``) and the re-saved
  one (``conv_first``, ``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1``, ``upconv2``,
  ``HRconv``, ``conv_last``), which is also **KAIR**'s ``RRDBNet``; KAIR's sequential
  ``RRDB`` (``model.2.1``, ``model.4.0.0``, ``conv5`` without ``.0``) is read by the same code.
- **CARN-pytorch** (``nmhkahn/CARN-pytorch``): CARN and CARN-M, multi-scale
  (``upsample.up2/up3/up4``) or single-scale (``upsample.up``), [0, 1] with ``MeanShift``
  ``shifter`` convolutions.
- **Ports** of networks whose authors released no PyTorch code, each loaded only where the
  port computes the same function as the srlab network:
  ``yjn870/SRCNN-pytorch`` (9-5-5 with 'same' padding, where the paper is unpadded: loaded as
  ``SRCNN(padding="same")``), ``yjn870/ESPCN-pytorch`` (tanh, the paper's),
  ``yjn870/FSRCNN-pytorch`` (its deconvolution ``padding=4, output_padding=s-1`` is the
  placement of srlab's FSRCNN, checked at load time; the scale is read from the file name),
  ``twtygqyy/pytorch-vdsr`` (no biases: srlab's biases are set to 0).

Not loaded, with a clear error: ``twtygqyy/pytorch-LapSRN`` (4x4 feature deconvolution where
srlab's LapSRN has the official 3x3 one), ``jt827859032/DRRN-pytorch`` (its in-place ReLU makes
the units' skip ``relu(h0)``, not the DRRN srlab has), BasicSR/KAIR ``MSRResNet`` (not the
paper's SRResNet: no BN, 3x3 head/tail, LeakyReLU, bilinear skip; srlab has no network for
it), BasicSR's RRDBNet x2/x1 (pixel-unshuffled input, e.g. ``RealESRGAN_x2plus``; srlab's
RRDBNet upsamples x2 with one nearest stage instead), KAIR's sequential RRDB x3.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..archs.blocks import DIV2K_RGB_MEAN
from .core import (
    RawRelease,
    Release,
    ReleaseError,
    TensorLedger,
    load_into,
    recogniser,
    scale_from_name,
)

__all__: list[str] = []

_FORMATS = ("pytorch", "safetensors")
_State = dict[str, Tensor]


# --------------------------------------------------------------------------- helpers


def _indices(keys: Iterable[str], pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (one group, full match) in ``keys``."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := rx.fullmatch(k))})


def _count(raw: RawRelease, pattern: str) -> int:
    """``max index + 1`` of ``pattern`` in the release (0 if none): gaps are missing tensors."""
    idx = _indices(raw.tensors, pattern)
    return idx[-1] + 1 if idx else 0


def _conv(
    led: TensorLedger,
    state: _State,
    src: str,
    dst: str,
    *,
    bias: bool = True,
    w_scale: float = 1.0,
    b_scale: float = 1.0,
) -> Tensor:
    """Move conv ``src`` of the release to ``dst`` of the srlab state.

    Args:
        led: the release's ledger (``src.weight`` and ``src.bias`` are taken from it).
        state: the srlab state dict being built (``dst.weight``/``dst.bias`` are set).
        src: the convolution's name in the release.
        dst: its name in the srlab network.
        bias: whether the release has a bias (without one, ``dst.bias`` is zeros).
        w_scale: factor applied to the weights.
        b_scale: factor applied to the biases.

    Returns:
        the release's weight, unscaled.

    Raises:
        ReleaseError: a tensor is missing or the weight is not 4-D.
    """
    w = led.take(f"{src}.weight")
    if w.dim() != 4:
        raise ReleaseError(
            f"{led.raw.path}: tensor {src + '.weight'!r} has shape {tuple(w.shape)}, "
            "not a convolution"
        )
    state[f"{dst}.weight"] = w * w_scale if w_scale != 1 else w
    if bias:
        b = led.take(f"{src}.bias", (int(w.shape[0]),))
        state[f"{dst}.bias"] = b * b_scale if b_scale != 1 else b
    else:
        state[f"{dst}.bias"] = torch.zeros(w.shape[0])
    return w


def _sub_pixel_scale(
    raw: RawRelease, shapes: list[tuple[int, ...]], num_feat: int, where: str
) -> int:
    """Scale of an EDSR-style sub-pixel upsampler, from the output widths of its convolutions.

    One conv to 9F is x3, n convs to 4F are x2**n.

    Raises:
        ReleaseError: the widths fit neither (the message names ``where``).
    """
    outs = [s[0] for s in shapes]
    if outs == [9 * num_feat]:
        return 3
    if outs and all(o == 4 * num_feat for o in outs):
        return 2 ** len(outs)
    raise ReleaseError(
        f"{raw.path}: upsampler {where} has convolutions to {outs} channels, which is no x2^n/x3 "
        f"sub-pixel upsampler of {num_feat} features"
    )


def _mean_state(mean: Tensor) -> _State:
    m = mean.reshape(1, -1, 1, 1).float()
    return {"sub_mean.mean": m.clone(), "add_mean.mean": m.clone()}


def _mean_kwarg(mean: Tensor) -> list[float] | None:
    """``rgb_mean`` argument of an srlab network: ``None`` when it is DIV2K's."""
    if mean.numel() == 3 and torch.allclose(mean, torch.tensor(DIV2K_RGB_MEAN), atol=1e-6, rtol=0):
        return None
    return [float(v) for v in mean]


def _default_mean(channels: int) -> Tensor:
    if channels == 3:
        return torch.tensor(DIV2K_RGB_MEAN)
    return torch.full((channels,), sum(DIV2K_RGB_MEAN) / 3)


class _Shift(NamedTuple):
    """A release's pair of 1x1 ``MeanShift`` convolutions.

    ``y = ws x + bs`` at the input and ``out = wa z + ba`` at the output (``ws``/``wa`` as
    (C, C) matrices).
    """

    ws: Tensor
    bs: Tensor
    wa: Tensor
    ba: Tensor

    def raw_mean(self) -> Tensor:
        """The mean ``m`` (release units) with ``y = ws (x - m)``."""
        return -torch.linalg.solve(self.ws.double(), self.bs.double()).float()

    def plain(self) -> bool:
        """Identity weights and opposite biases: a frozen shift by one mean."""
        eye = torch.eye(self.ws.shape[0])
        return (
            torch.equal(self.ws, eye)
            and torch.equal(self.wa, eye)
            and bool(torch.allclose(self.ba, -self.bs, rtol=1e-6, atol=1e-6))
        )


def _read_shift(led: TensorLedger, sub: str, add: str, channels: int) -> _Shift | None:
    """Read a pair of 1x1 ``MeanShift`` convolutions, or ``None`` when the file has none.

    EDSR-PyTorch/RCAN/CARN freeze them as identity weights and -/+ mean biases, but RCAN's code
    (and EDSR-PyTorch before its "fix network freeze issue" commit) set ``requires_grad`` on the
    module instead of its parameters, so released files may hold trained ones: any invertible
    1x1 pair is accepted and folded into the head/tail convolutions (:func:`_fold_shift`).
    """
    names = [f"{sub}.weight", f"{sub}.bias", f"{add}.weight", f"{add}.bias"]
    present = [led.has(n) for n in names]
    if not any(present):
        return None
    if not all(present):
        missing = [n for n, p in zip(names, present) if not p]
        raise ReleaseError(f"{led.raw.path}: mean-shift tensor(s) {', '.join(missing)} are missing")
    c = channels
    ws, bs = led.take(names[0], (c, c, 1, 1)), led.take(names[1], (c,))
    wa, ba = led.take(names[2], (c, c, 1, 1)), led.take(names[3], (c,))
    shift = _Shift(ws.reshape(c, c), bs, wa.reshape(c, c), ba)
    if (
        abs(float(torch.linalg.det(shift.ws.double()))) < 1e-8
        or not torch.isfinite(shift.raw_mean()).all()
    ):
        raise ReleaseError(f"{led.raw.path}: {names[0]} is not an invertible 1x1 colour transform")
    return shift


def _shift_range(shift: _Shift) -> float:
    """``rgb_range`` of a release from its mean shift: 255 when the mean is on [0, 255]."""
    return 255.0 if float(shift.raw_mean().abs().max()) > 1.5 else 1.0


def _fold_shift(
    state: _State,
    shift: _Shift | None,
    head: str,
    tail: str,
    rng: float,
    channels: int,
    notes: list[str],
) -> Tensor:
    """Fold the release's mean shift into srlab's and the head/tail convolutions in ``state``.

    srlab has one mean ``m``, subtracted at the input and added at the output, on [0, 1].
    Input: ``ws (rng x) + bs = rng ws (x - m)`` with ``m = -ws^-1 bs / rng``, so the head conv
    gets ``W_head . ws`` (zero padding stays zero padding: y = 0 exactly where x - m = 0).
    Output: ``(wa z + ba) / rng = (wa W_tail) feat/rng + (wa b_tail + ba)/rng``, so the tail
    conv gets ``wa . W_tail`` and its ([0, 1]-scaled) bias ``wa b + ba/rng - m``.
    Returns ``m`` (the DIV2K mean, nothing folded, when the file has no shift).
    """
    if shift is None:
        return _default_mean(channels)
    m = shift.raw_mean() / rng
    if shift.plain():
        notes.append("mean shift read from the file's MeanShift layers")
        return m
    state[f"{head}.weight"] = torch.einsum("ochw,ci->oihw", state[f"{head}.weight"], shift.ws)
    state[f"{tail}.weight"] = torch.einsum("oc,cihw->oihw", shift.wa, state[f"{tail}.weight"])
    state[f"{tail}.bias"] = shift.wa @ state[f"{tail}.bias"] + shift.ba / rng - m
    notes.append(
        "the file's MeanShift layers are not a plain frozen mean shift (trained or rgb_std != 1): "
        "folded into the head and tail convolutions"
    )
    return m


def _spec(cls: type[nn.Module], **kwargs: Any) -> dict[str, Any]:
    return {"_target_": f"{cls.__module__}.{cls.__name__}", **kwargs}


def _build(
    raw: RawRelease, cls: type[nn.Module], kwargs: dict[str, Any], state: _State, led: TensorLedger
) -> nn.Module:
    led.finish()
    try:
        net = cls(**kwargs)
    except ValueError as e:
        raise ReleaseError(f"{raw.path}: {e}") from None
    try:
        return load_into(net, state)
    except ReleaseError as e:
        raise ReleaseError(f"{raw.path}: {e}") from None


def _release(
    raw: RawRelease,
    cls: type[nn.Module],
    kwargs: dict[str, Any],
    state: _State,
    led: TensorLedger,
    name: str,
    arch: str,
    notes: list[str],
) -> Release:
    net = _build(raw, cls, kwargs, state, led)
    return Release(net=net, spec=_spec(cls, **kwargs), name=name, arch=arch, notes=notes)


# --------------------------------------------------------------------------- EDSR-PyTorch


def _edsr_range(led: TensorLedger, channels: int, notes: list[str]) -> tuple[_Shift | None, float]:
    """Mean-shift layers and ``rgb_range`` of an EDSR-PyTorch/RCAN release."""
    shift = _read_shift(led, "sub_mean", "add_mean", channels)
    if shift is None:
        notes.append(
            "no mean-shift tensors in the file: DIV2K mean and rgb_range 255 assumed "
            "(the released models')"
        )
        return None, 255.0
    rng = _shift_range(shift)
    notes.append(f"rgb_range {rng:g} (from the mean-shift bias)")
    return shift, rng


def _edsr_tail(
    raw: RawRelease,
    led: TensorLedger,
    state: _State,
    src: str,
    dst: str,
    num_feat: int,
    b_scale: float,
    step: int = 2,
) -> int:
    """Move an EDSR-style upsampler (convs at ``src.0``, ``src.2``, ...) to ``dst``.

    Returns:
        the upsampler's scale.
    """
    stages = _indices(raw.tensors, re.escape(src) + r"\.(\d+)\.weight")
    if not stages:
        raise ReleaseError(f"{raw.path}: expected tensor {src + '.0.weight'!r} is missing")
    expected = list(range(0, step * len(stages), step))
    if stages != expected:
        raise ReleaseError(
            f"{raw.path}: upsampler {src} has convolutions at {stages}, expected {expected}"
        )
    shapes = [tuple(raw.tensors[f"{src}.{i}.weight"].shape) for i in stages]
    scale = _sub_pixel_scale(raw, shapes, num_feat, src)
    for i in stages:
        _conv(led, state, f"{src}.{i}", f"{dst}.{i}", b_scale=b_scale)
    return scale


def _res_scale_guess(num_feat: int, notes: list[str]) -> float:
    rs = 0.1 if num_feat >= 256 else 1.0
    notes.append(
        f"res_scale {rs:g} assumed (not stored in the file; EDSR uses 0.1 at 256 features, 1 below)"
    )
    return rs


def _edsr_net(
    raw: RawRelease,
    led: TensorLedger,
    state: _State,
    num_feat: int,
    bs: float,
    *,
    head: str,
    block: str,
    convs: tuple[str, str],
    after_body: str,
    upsample: str,
    last: str,
) -> tuple[int, int]:
    """Copy an EDSR named the way of one code base into srlab's ``EDSR`` names.

    The head, residual blocks, body-end conv, upsampler and last conv are moved; biases are
    scaled by ``bs``. ``block`` is a format string of (block index, conv name); ``after_body``
    may hold ``{}`` for the block count.

    Returns:
        ``(number of blocks, scale)``.
    """
    _conv(led, state, head, "head", b_scale=bs)
    pattern = re.escape(block).replace(re.escape("{}"), "{}").format(r"(\d+)", re.escape(convs[0]))
    nb = _count(raw, pattern + r"\.weight")
    for i in range(nb):
        _conv(led, state, block.format(i, convs[0]), f"body.{i}.conv1", b_scale=bs)
        _conv(led, state, block.format(i, convs[1]), f"body.{i}.conv2", b_scale=bs)
    _conv(led, state, after_body.format(nb), f"body.{nb}", b_scale=bs)
    scale = _edsr_tail(raw, led, state, upsample, "upsample", num_feat, bs)
    _conv(led, state, last, "tail", b_scale=bs)
    return nb, scale


@recogniser("edsr", formats=_FORMATS)
def edsr_pytorch(raw: RawRelease) -> Release | None:
    """EDSR / EDSR-baseline of EDSR-PyTorch (``head.0``, ``body.N.body.0``, ``tail.0.0``)."""
    t = raw.tensors
    if not ("head.0.weight" in t and "body.0.body.0.weight" in t and "tail.0.0.weight" in t):
        return None
    if "pre_process.0.0.body.0.weight" in t or "body.0.body.0.body.0.weight" in t:
        return None  # MDSR / RCAN
    from ..archs.edsr import EDSR

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    head = t["head.0.weight"]
    num_feat, chans = int(head.shape[0]), int(head.shape[1])
    shift, rng = _edsr_range(led, chans, notes)
    bs = 1.0 / rng
    nb, scale = _edsr_net(
        raw,
        led,
        state,
        num_feat,
        bs,
        head="head.0",
        block="body.{}.body.{}",
        convs=("0", "2"),
        after_body="body.{}",
        upsample="tail.0",
        last="tail.1",
    )
    mean = _fold_shift(state, shift, "head", "tail", rng, chans, notes)
    state.update(_mean_state(mean))
    if rng != 1:
        notes.append(f"[0,{rng:g}] network: biases divided by {rng:g}")
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        num_feat=num_feat,
        num_block=nb,
        res_scale=_res_scale_guess(num_feat, notes),
        rgb_mean=_mean_kwarg(mean),
    )
    kind = (
        "EDSR-baseline"
        if (nb, num_feat) == (16, 64)
        else "EDSR"
        if (nb, num_feat) == (32, 256)
        else f"EDSR B{nb} F{num_feat}"
    )
    return _release(
        raw, EDSR, kwargs, state, led, f"{kind} x{scale} (EDSR-PyTorch release)", "edsr", notes
    )


@recogniser("mdsr", formats=_FORMATS)
def mdsr_pytorch(raw: RawRelease) -> Release | None:
    """MDSR / MDSR-baseline of EDSR-PyTorch (``pre_process.N``, ``upsample.N``)."""
    t = raw.tensors
    if not (
        "head.0.weight" in t and "pre_process.0.0.body.0.weight" in t and "upsample.0.0.weight" in t
    ):
        return None
    from ..archs.edsr import MDSR

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    head = t["head.0.weight"]
    num_feat, chans = int(head.shape[0]), int(head.shape[1])
    shift, rng = _edsr_range(led, chans, notes)
    bs = 1.0 / rng
    _conv(led, state, "head.0", "head", b_scale=bs)
    nbranch = _count(raw, r"upsample\.(\d+)\.0\.weight")
    if _count(raw, r"pre_process\.(\d+)\.0\.body\.0\.weight") != nbranch:
        raise ReleaseError(
            f"{raw.path}: MDSR release with {nbranch} upsamplers but a different number of "
            "pre-processing branches"
        )
    scales: list[int] = []
    for i in range(nbranch):
        stages = _indices(t, rf"upsample\.{i}\.(\d+)\.weight")
        shapes = [tuple(t[f"upsample.{i}.{j}.weight"].shape) for j in stages]
        s = _sub_pixel_scale(raw, shapes, num_feat, f"upsample.{i}")
        if s in scales:
            raise ReleaseError(f"{raw.path}: two MDSR branches for x{s}")
        scales.append(s)
        for j in range(0, 2 * len(stages), 2):
            _conv(led, state, f"upsample.{i}.{j}", f"upsample.x{s}.{j}", b_scale=bs)
        for r in range(2):
            for c, d in ((0, 1), (2, 2)):
                _conv(
                    led,
                    state,
                    f"pre_process.{i}.{r}.body.{c}",
                    f"pre_process.x{s}.{r}.conv{d}",
                    b_scale=bs,
                )
    nb = _count(raw, r"body\.(\d+)\.body\.0\.weight")
    for i in range(nb):
        _conv(led, state, f"body.{i}.body.0", f"body.{i}.conv1", b_scale=bs)
        _conv(led, state, f"body.{i}.body.2", f"body.{i}.conv2", b_scale=bs)
    _conv(led, state, f"body.{nb}", f"body.{nb}", b_scale=bs)
    _conv(led, state, "tail.0", "tail", b_scale=bs)
    mean = _fold_shift(state, shift, "head", "tail", rng, chans, notes)
    state.update(_mean_state(mean))
    if rng != 1:
        notes.append(f"[0,{rng:g}] network: biases divided by {rng:g}")
    kwargs = dict(
        scale=scales[0],
        in_channels=chans,
        num_feat=num_feat,
        num_block=nb,
        res_scale=1.0,
        scales=scales,
        rgb_mean=_mean_kwarg(mean),
    )
    kind = "MDSR" if nb == 80 else "MDSR-baseline" if nb == 16 else f"MDSR B{nb}"
    sc = "/".join(f"x{s}" for s in scales)
    return _release(
        raw, MDSR, kwargs, state, led, f"{kind} {sc} (EDSR-PyTorch release)", "mdsr", notes
    )


def _rcan_body(
    raw: RawRelease,
    led: TensorLedger,
    state: _State,
    *,
    block: str,
    group_conv: str,
    rcab: str,
    ca: str,
    ca_idx: tuple[int, int],
    bs: float,
    rng: float,
) -> tuple[int, int, int]:
    """Move RCAN's residual groups (channel attention convs at ``{ca}.{ca_idx}``).

    Returns:
        ``(groups, blocks per group, reduction)``.
    """
    t = raw.tensors
    ng = _count(raw, rf"body\.(\d+)\.{block}\.0\.{rcab}\.0\.weight")
    nb = _count(raw, rf"body\.0\.{block}\.(\d+)\.{rcab}\.0\.weight")
    if ng == 0 or nb == 0:
        raise ReleaseError(f"{raw.path}: RCAN release without residual groups")
    first_ca = f"body.0.{block}.0.{rcab}.3.{ca}.{ca_idx[0]}.weight"
    red_out = t.get(first_ca)
    if red_out is None:
        raise ReleaseError(f"{raw.path}: expected tensor {first_ca!r} is missing")
    for g in range(ng):
        for b in range(nb):
            p = f"body.{g}.{block}.{b}.{rcab}"
            q = f"body.{g}.body.{b}.body"
            _conv(led, state, f"{p}.0", f"{q}.0", b_scale=bs)
            _conv(led, state, f"{p}.2", f"{q}.2", b_scale=bs)
            # channel attention sees features rng times larger in the release: scale its first
            # weights up so the gate is unchanged; its biases and the second conv stay as they are
            _conv(led, state, f"{p}.3.{ca}.{ca_idx[0]}", f"{q}.3.attention.1", w_scale=rng)
            _conv(led, state, f"{p}.3.{ca}.{ca_idx[1]}", f"{q}.3.attention.3")
        src = f"body.{g}.{group_conv}" if group_conv else f"body.{g}.{block}.{nb}"
        _conv(led, state, src, f"body.{g}.body.{nb}", b_scale=bs)
    num_feat = int(red_out.shape[1])
    squeezed = int(red_out.shape[0])
    if squeezed == 0 or num_feat % squeezed:
        raise ReleaseError(
            f"{raw.path}: channel attention {num_feat}->{squeezed} has no integer reduction"
        )
    return ng, nb, num_feat // squeezed


@recogniser("rcan", formats=_FORMATS)
def rcan_pytorch(raw: RawRelease) -> Release | None:
    """RCAN of EDSR-PyTorch / yulunzhang/RCAN (``body.G.body.B.body.3.conv_du``)."""
    t = raw.tensors
    if not ("head.0.weight" in t and "body.0.body.0.body.3.conv_du.0.weight" in t):
        return None
    from ..archs.rcan import RCAN

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    head = t["head.0.weight"]
    num_feat, chans = int(head.shape[0]), int(head.shape[1])
    shift, rng = _edsr_range(led, chans, notes)
    bs = 1.0 / rng
    _conv(led, state, "head.0", "head", b_scale=bs)
    ng, nb, red = _rcan_body(
        raw,
        led,
        state,
        block="body",
        group_conv="",
        rcab="body",
        ca="conv_du",
        ca_idx=(0, 2),
        bs=bs,
        rng=rng,
    )
    _conv(led, state, f"body.{ng}", f"body.{ng}", b_scale=bs)
    scale = _edsr_tail(raw, led, state, "tail.0", "upsample", num_feat, bs)
    _conv(led, state, "tail.1", "tail", b_scale=bs)
    mean = _fold_shift(state, shift, "head", "tail", rng, chans, notes)
    state.update(_mean_state(mean))
    if rng != 1:
        notes.append(
            f"[0,{rng:g}] network: biases divided by {rng:g}, "
            f"channel-attention input weights multiplied by {rng:g}"
        )
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        num_feat=num_feat,
        num_group=ng,
        num_block=nb,
        reduction=red,
        rgb_mean=_mean_kwarg(mean),
    )
    return _release(
        raw,
        RCAN,
        kwargs,
        state,
        led,
        f"RCAN G{ng}B{nb} x{scale} (EDSR-PyTorch/RCAN release)",
        "rcan",
        notes,
    )


# --------------------------------------------------------------------------- BasicSR EDSR / RCAN


def _basicsr_common(raw: RawRelease, notes: list[str]) -> tuple[int, int, Tensor]:
    first = raw.tensors["conv_first.weight"]
    num_feat, chans = int(first.shape[0]), int(first.shape[1])
    notes.append(
        "BasicSR img_range 255 and DIV2K mean assumed (not stored in the file); "
        "biases divided by 255"
    )
    return num_feat, chans, _default_mean(chans)


@recogniser("edsr", formats=_FORMATS)
def edsr_basicsr(raw: RawRelease) -> Release | None:
    """BasicSR's EDSR (``conv_first``, ``body.N.conv1``, ``conv_after_body``, ``upsample.0``)."""
    t = raw.tensors
    if not (
        "conv_first.weight" in t and "conv_after_body.weight" in t and "body.0.conv1.weight" in t
    ):
        return None
    from ..archs.edsr import EDSR

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    num_feat, chans, mean = _basicsr_common(raw, notes)
    bs = 1.0 / 255
    nb, scale = _edsr_net(
        raw,
        led,
        state,
        num_feat,
        bs,
        head="conv_first",
        block="body.{}.{}",
        convs=("conv1", "conv2"),
        after_body="conv_after_body",
        upsample="upsample",
        last="conv_last",
    )
    state.update(_mean_state(mean))
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        num_feat=num_feat,
        num_block=nb,
        res_scale=_res_scale_guess(num_feat, notes),
        rgb_mean=_mean_kwarg(mean),
    )
    return _release(
        raw,
        EDSR,
        kwargs,
        state,
        led,
        f"EDSR B{nb} F{num_feat} x{scale} (BasicSR release)",
        "edsr",
        notes,
    )


@recogniser("rcan", formats=_FORMATS)
def rcan_basicsr(raw: RawRelease) -> Release | None:
    """BasicSR's RCAN (``body.G.residual_group.B.rcab.3.attention``)."""
    t = raw.tensors
    if not ("conv_first.weight" in t and "body.0.residual_group.0.rcab.0.weight" in t):
        return None
    from ..archs.rcan import RCAN

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    num_feat, chans, mean = _basicsr_common(raw, notes)
    notes.append("RCAB res_scale 1 assumed (BasicSR's option files; srlab's RCAB has none)")
    bs = 1.0 / 255
    _conv(led, state, "conv_first", "head", b_scale=bs)
    ng, nb, red = _rcan_body(
        raw,
        led,
        state,
        block="residual_group",
        group_conv="conv",
        rcab="rcab",
        ca="attention",
        ca_idx=(1, 3),
        bs=bs,
        rng=255.0,
    )
    _conv(led, state, "conv_after_body", f"body.{ng}", b_scale=bs)
    scale = _edsr_tail(raw, led, state, "upsample", "upsample", num_feat, bs)
    _conv(led, state, "conv_last", "tail", b_scale=bs)
    state.update(_mean_state(mean))
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        num_feat=num_feat,
        num_group=ng,
        num_block=nb,
        reduction=red,
        rgb_mean=_mean_kwarg(mean),
    )
    return _release(
        raw, RCAN, kwargs, state, led, f"RCAN G{ng}B{nb} x{scale} (BasicSR release)", "rcan", notes
    )


# --------------------------------------------------------------------------- RRDBNet (ESRGAN)


def _rrdb_layout(t: dict[str, Tensor]) -> str | None:
    if "conv_first.weight" in t and "body.0.rdb1.conv1.weight" in t:
        return "basicsr"
    if "conv_first.weight" in t and "RRDB_trunk.0.RDB1.conv1.weight" in t:
        return "esrgan"
    if "model.0.weight" in t and (
        "model.1.sub.0.RDB1.conv1.0.weight" in t or "model.1.sub.0.RDB1.conv1.weight" in t
    ):
        return "sequential"
    return None


def _path_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split(".") if p.isdigit())


@recogniser("rrdbnet", formats=_FORMATS)
def rrdbnet(raw: RawRelease) -> Release | None:
    """ESRGAN's RRDBNet in the BasicSR, ESRGAN/KAIR ``RRDBNet`` or original sequential layout."""
    t = raw.tensors
    layout = _rrdb_layout(t)
    if layout is None:
        return None
    from ..archs.rrdbnet import RRDBNet

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    if layout == "basicsr":
        first, trunk, rdb, conv_body = "conv_first", "body", "rdb", "conv_body"
        ups = [f"conv_up{i}" for i in _indices(t, r"conv_up(\d+)\.weight")]
        hr, last, sfx = "conv_hr", "conv_last", ""
        name = "BasicSR"
    elif layout == "esrgan":
        first, trunk, rdb, conv_body = "conv_first", "RRDB_trunk", "RDB", "trunk_conv"
        ups = [f"upconv{i}" for i in _indices(t, r"upconv(\d+)\.weight")]
        hr, last, sfx = "HRconv", "conv_last", ""
        name = "ESRGAN/KAIR RRDBNet"
    else:
        first, trunk, rdb = "model.0", "model.1.sub", "RDB"
        nblk = _count(raw, r"model\.1\.sub\.(\d+)\.RDB1\.conv1(?:\.0)?\.weight")
        conv_body = f"model.1.sub.{nblk}"
        tail = sorted(
            (
                k[: -len(".weight")]
                for k in t
                if k.endswith(".weight")
                and not k.startswith(("model.0.", "model.1."))
                and k.startswith("model.")
            ),
            key=_path_key,
        )
        if len(tail) < 3:
            raise ReleaseError(
                f"{raw.path}: sequential RRDBNet release without upsampling and output convolutions"
            )
        ups, hr, last = tail[:-2], tail[-2], tail[-1]
        sfx = ".0" if "model.1.sub.0.RDB1.conv1.0.weight" in t else ""
        name = "ESRGAN original (sequential)"
    fw = t[f"{first}.weight"]
    num_feat = int(fw.shape[0])
    last_w = t.get(f"{last}.weight")
    if last_w is None:
        raise ReleaseError(f"{raw.path}: expected tensor {last + '.weight'!r} is missing")
    chans = int(last_w.shape[0])
    if int(fw.shape[1]) != chans:
        raise ReleaseError(
            f"{raw.path}: RRDBNet whose first convolution takes {int(fw.shape[1])} channels for "
            f"{chans} output channels: BasicSR's pixel-unshuffle x2/x1 variant "
            "(e.g. RealESRGAN_x2plus), which srlab's RRDBNet (nearest-neighbour x2 stages) "
            "does not have"
        )
    if layout == "sequential":
        ups_ok = all(tuple(t[f"{u}.weight"].shape) == (num_feat, num_feat, 3, 3) for u in ups)
        if not ups_ok:
            raise ReleaseError(
                f"{raw.path}: sequential RRDBNet with non-'upconv' upsampling "
                f"({', '.join(ups)}), not srlab's"
            )
    scale = 2 ** len(ups)
    if layout == "sequential" and len(ups) == 1 and scale_from_name(raw.path) == 3:
        raise ReleaseError(
            f"{raw.path}: a KAIR-style sequential RRDB x3 (one nearest x3 stage), "
            "which srlab's RRDBNet (x2 stages only) does not have"
        )
    if scale not in RRDBNet.supported_scales:
        raise ReleaseError(
            f"{raw.path}: RRDBNet with {len(ups)} upsampling stages (x{scale}); "
            "srlab's supports x2, x4, x8"
        )
    _conv(led, state, first, "conv_first")
    nb = _count(raw, rf"{re.escape(trunk)}\.(\d+)\.{rdb}1\.conv1(?:\.0)?\.weight")
    grow = int(t[f"{trunk}.0.{rdb}1.conv1{sfx}.weight"].shape[0])
    for i in range(nb):
        for r in range(3):
            for c in range(5):
                # KAIR's sequential RRDB has conv1-4 as (conv, act) sequences and conv5 bare
                src = f"{trunk}.{i}.{rdb}{r + 1}.conv{c + 1}"
                if sfx and led.has(f"{src}.0.weight"):
                    src += ".0"
                _conv(led, state, src, f"body.{i}.rdbs.{r}.convs.{c}")
    _conv(led, state, conv_body, "conv_body")
    for j, u in enumerate(ups):
        _conv(led, state, u, f"upsample.{3 * j + 1}")
    _conv(led, state, hr, "conv_hr")
    _conv(led, state, last, "conv_last")
    kwargs = dict(scale=scale, in_channels=chans, num_feat=num_feat, num_block=nb, num_grow_ch=grow)
    return _release(
        raw,
        RRDBNet,
        kwargs,
        state,
        led,
        f"RRDBNet {nb} blocks x{scale} ({name} layout)",
        "rrdbnet",
        notes,
    )


@recogniser("srresnet", formats=_FORMATS)
def msrresnet(raw: RawRelease) -> Release | None:
    """BasicSR/KAIR ``MSRResNet``: recognised only to say why it is not loaded."""
    t = raw.tensors
    if not (
        "conv_first.weight" in t
        and "upconv1.weight" in t
        and "body.0.conv1.weight" in t
        and ("conv_hr.weight" in t or "HRconv.weight" in t)
    ):
        return None
    raise ReleaseError(
        f"{raw.path}: a BasicSR/KAIR MSRResNet, which is not the paper's SRResNet (no batch norm, "
        f"3x3 head/tail, LeakyReLU 0.1, bilinear global skip); srlab has no network for it"
    )


# --------------------------------------------------------------------------- CARN / CARN-M


def _is_carn(t: dict[str, Tensor]) -> bool:
    return "entry.weight" in t and "exit.weight" in t and "b1.c1.body.0.weight" in t


@recogniser("carn", formats=_FORMATS)
def carn(raw: RawRelease) -> Release | None:
    """CARN of nmhkahn/CARN-pytorch (``entry``, ``b1.b1.body.{0,2}``, ``b1.c1.body``)."""
    if not _is_carn(raw.tensors) or "b1.b1.body.4.weight" in raw.tensors:
        return None
    return _carn(raw, mobile=False)


@recogniser("carn_m", formats=_FORMATS)
def carn_m(raw: RawRelease) -> Release | None:
    """CARN-M of nmhkahn/CARN-pytorch (one shared residual-E unit ``bN.b1.body.{0,2,4}``)."""
    if not _is_carn(raw.tensors) or "b1.b1.body.4.weight" not in raw.tensors:
        return None
    return _carn(raw, mobile=True)


def _carn(raw: RawRelease, mobile: bool) -> Release:
    from ..archs.carn import CARN, CARNM

    t = raw.tensors
    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    entry = t["entry.weight"]
    num_feat, chans = int(entry.shape[0]), int(entry.shape[1])
    shift = _read_shift(led, "sub_mean.shifter", "add_mean.shifter", chans)
    if shift is None:
        notes.append("no mean-shift tensors in the file: DIV2K mean assumed")
    elif _shift_range(shift) != 1:
        raise ReleaseError(
            f"{raw.path}: CARN mean shift of {shift.raw_mean().tolist()} is not on a [0, 1] scale"
        )
    _conv(led, state, "entry", "entry")
    nblocks = _count(raw, r"b(\d+)\.c1\.body\.0\.weight") - 1
    if nblocks < 1 or "b0.c1.body.0.weight" in t:
        raise ReleaseError(f"{raw.path}: CARN cascading blocks must be numbered from b1")
    nunits = _count(raw, r"b1\.c(\d+)\.body\.0\.weight") - 1
    groups = 1
    if mobile:
        gw = t["b1.b1.body.0.weight"]
        if int(gw.shape[1]) == 0 or num_feat % int(gw.shape[1]):
            raise ReleaseError(
                f"{raw.path}: CARN-M group convolution {tuple(gw.shape)} "
                f"does not fit {num_feat} features"
            )
        groups = num_feat // int(gw.shape[1])
    for b in range(nblocks):
        if mobile:
            for c in (0, 2, 4):
                _conv(led, state, f"b{b + 1}.b1.body.{c}", f"blocks.{b}.units.0.body.{c}")
        else:
            for u in range(nunits):
                for c in (0, 2):
                    _conv(
                        led, state, f"b{b + 1}.b{u + 1}.body.{c}", f"blocks.{b}.units.{u}.body.{c}"
                    )
        for u in range(nunits):
            _conv(led, state, f"b{b + 1}.c{u + 1}.body.0", f"blocks.{b}.fusions.{u}.0")
    for b in range(nblocks):
        _conv(led, state, f"c{b + 1}.body.0", f"fusions.{b}.0")
    heads = _indices(t, r"upsample\.up(\d+)\.body\.0\.weight")
    single = "upsample.up.body.0.weight" in t
    if single == bool(heads):
        raise ReleaseError(
            f"{raw.path}: CARN release needs either upsample.up or upsample.up2/up3/up4"
        )
    scales: list[int] = []
    for h in ["up"] if single else [f"up{s}" for s in heads]:
        stages = _indices(t, rf"upsample\.{h}\.body\.(\d+)\.weight")
        if stages != list(range(0, 3 * len(stages), 3)):
            raise ReleaseError(f"{raw.path}: CARN upsampler {h} has convolutions at {stages}")
        s = _sub_pixel_scale(
            raw, [tuple(t[f"upsample.{h}.body.{i}.weight"].shape) for i in stages], num_feat, h
        )
        if h != "up" and s != int(h[2:]):
            raise ReleaseError(f"{raw.path}: CARN upsampler {h} upscales x{s}")
        scales.append(s)
        for i in stages:
            _conv(led, state, f"upsample.{h}.body.{i}", f"upsample.x{s}.{i}")
    _conv(led, state, "exit", "exit")
    m = _fold_shift(state, shift, "entry", "exit", 1.0, chans, notes)
    state.update(_mean_state(m))
    cls = CARNM if mobile else CARN
    kwargs: dict[str, Any] = dict(
        scale=scales[0],
        in_channels=chans,
        num_feat=num_feat,
        num_block=nblocks,
        num_unit=nunits,
        scales=scales,
        rgb_mean=_mean_kwarg(m),
        groups=groups,
    )
    notes.append(
        "CARN-pytorch's sample.py truncates to 8 bits (byte()) instead of rounding; srlab rounds"
    )
    kind = "CARN-M" if mobile else "CARN"
    sc = "/".join(f"x{s}" for s in scales)
    return _release(
        raw,
        cls,
        kwargs,
        state,
        led,
        f"{kind} {sc} (CARN-pytorch release)",
        "carn_m" if mobile else "carn",
        notes,
    )


# --------------------------------------------------------------------------- ports


def _exact_keys(t: dict[str, Tensor], keys: Iterable[str]) -> bool:
    return set(t) == set(keys)


@recogniser("srcnn", formats=_FORMATS)
def srcnn_yjn870(raw: RawRelease) -> Release | None:
    """SRCNN of the port yjn870/SRCNN-pytorch (``conv1``/``conv2``/``conv3``, 'same' padding)."""
    t = raw.tensors
    keys = [f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    if not _exact_keys(t, keys) or any(t[f"conv{i}.weight"].dim() != 4 for i in (1, 2, 3)):
        return None
    from ..archs.srcnn import SRCNN

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    w1, w2, w3 = (t[f"conv{i}.weight"] for i in (1, 2, 3))
    chans = int(w1.shape[1])
    ks = tuple(int(w.shape[-1]) for w in (w1, w2, w3))
    if any(k % 2 == 0 for k in ks) or int(w3.shape[0]) != chans:
        return None
    for i in range(3):
        _conv(led, state, f"conv{i + 1}", f"body.{2 * i}")
    scale = scale_from_name(raw.path)
    if scale is None:
        scale = 3
        notes.append(
            "scale not in the file name: x3 assumed (the network itself is scale-agnostic)"
        )
    notes.append(
        "yjn870/SRCNN-pytorch port: 'same' zero padding (the paper's convolutions are unpadded)"
    )
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        kernel_sizes=ks,
        channels=(int(w1.shape[0]), int(w2.shape[0])),
        padding="same",
    )
    name = f"SRCNN {'-'.join(map(str, ks))} x{scale} (yjn870/SRCNN-pytorch port)"
    return _release(raw, SRCNN, kwargs, state, led, name, "srcnn", notes)


@recogniser("espcn", formats=_FORMATS)
def espcn_yjn870(raw: RawRelease) -> Release | None:
    """ESPCN of the port yjn870/ESPCN-pytorch (``first_part.{0,2}``, ``last_part.0``, tanh)."""
    t = raw.tensors
    if not (
        "first_part.0.weight" in t and "first_part.2.weight" in t and "last_part.0.weight" in t
    ):
        return None
    from ..archs.espcn import ESPCN

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    w1, w3 = t["first_part.0.weight"], t["last_part.0.weight"]
    chans, num_feat = int(w1.shape[1]), int(w1.shape[0])
    r2, rem = divmod(int(w3.shape[0]), chans)
    scale = math.isqrt(r2)
    if rem or scale * scale != r2 or scale < 2:
        raise ReleaseError(
            f"{raw.path}: ESPCN last layer with {int(w3.shape[0])} outputs "
            f"is no sub-pixel layer for {chans} channel(s)"
        )
    _conv(led, state, "first_part.0", "body.0")
    _conv(led, state, "first_part.2", "body.2")
    _conv(led, state, "last_part.0", "body.4")
    kwargs = dict(scale=scale, in_channels=chans, num_feat=num_feat, activation="tanh")
    return _release(
        raw,
        ESPCN,
        kwargs,
        state,
        led,
        f"ESPCN x{scale} (yjn870/ESPCN-pytorch port)",
        "espcn",
        notes,
    )


@recogniser("fsrcnn", formats=_FORMATS)
def fsrcnn_yjn870(raw: RawRelease) -> Release | None:
    """FSRCNN of the port yjn870/FSRCNN-pytorch (``first_part``, ``mid_part``, ``last_part``).

    The port's deconvolution is ``padding=k//2, output_padding=s-1``; the release is loaded only
    where srlab's :func:`~srlab.archs.fsrcnn.deconv_padding` places it the same way (the scale,
    which the weights do not fix, comes from the file name).
    """
    t = raw.tensors
    if not ("first_part.0.weight" in t and "mid_part.0.weight" in t and "last_part.weight" in t):
        return None
    from ..archs.fsrcnn import FSRCNN, deconv_padding

    scale = scale_from_name(raw.path)
    if scale is None:
        raise ReleaseError(
            f"{raw.path}: a yjn870/FSRCNN-pytorch release, whose scale is not in its weights: "
            f"name the file with its scale (e.g. fsrcnn_x2.pth)"
        )
    k = int(t["last_part.weight"].shape[-1])
    try:
        ours = deconv_padding(k, scale)
    except ValueError as e:
        raise ReleaseError(f"{raw.path}: {e}") from None
    if ours != (k // 2, scale - 1):
        raise ReleaseError(
            f"{raw.path}: yjn870/FSRCNN-pytorch x{scale}: its deconvolution (padding {k // 2}, "
            f"output_padding {scale - 1}) is aligned differently from srlab's FSRCNN {ours}, "
            "so it is not loaded"
        )
    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    w1 = t["first_part.0.weight"]
    chans, d = int(w1.shape[1]), int(w1.shape[0])
    _conv(led, state, "first_part.0", "body.0")
    state["body.1.weight"] = led.take("first_part.1.weight")
    convs = _indices(t, r"mid_part\.(\d+)\.weight")
    convs = [i for i in convs if t[f"mid_part.{i}.weight"].dim() == 4]
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        raise ReleaseError(f"{raw.path}: FSRCNN mid_part convolutions at {convs}")
    s = int(t["mid_part.0.weight"].shape[0])
    for j, i in enumerate(convs):
        _conv(led, state, f"mid_part.{i}", f"body.{2 * j + 2}")
        state[f"body.{2 * j + 3}.weight"] = led.take(f"mid_part.{i + 1}.weight")
    dw = led.take("last_part.weight")
    state["deconv.weight"] = dw
    state["deconv.bias"] = led.take("last_part.bias", (int(dw.shape[1]),))
    kwargs = dict(
        scale=scale,
        in_channels=chans,
        num_feat=d,
        num_shrink_ch=s,
        num_map_layer=len(convs) - 2,
        deconv_kernel=int(dw.shape[-1]),
    )
    return _release(
        raw,
        FSRCNN,
        kwargs,
        state,
        led,
        f"FSRCNN d{d} s{s} m{len(convs) - 2} x{scale} (yjn870/FSRCNN-pytorch port)",
        "fsrcnn",
        notes,
    )


@recogniser("vdsr", formats=_FORMATS)
def vdsr_twtygqyy(raw: RawRelease) -> Release | None:
    """VDSR of the port twtygqyy/pytorch-vdsr (no biases).

    Tensors ``input``, ``residual_layer.N.conv`` and ``output``.
    """
    t = raw.tensors
    if not ("input.weight" in t and "residual_layer.0.conv.weight" in t and "output.weight" in t):
        return None
    from ..archs.vdsr import VDSR

    led = TensorLedger(raw)
    state: _State = {}
    notes: list[str] = []
    w = t["input.weight"]
    chans, num_feat = int(w.shape[1]), int(w.shape[0])
    n = _count(raw, r"residual_layer\.(\d+)\.conv\.weight")
    _conv(led, state, "input", "body.0", bias=False)
    for i in range(n):
        _conv(led, state, f"residual_layer.{i}.conv", f"body.{2 * i + 2}", bias=False)
    _conv(led, state, "output", f"body.{2 * n + 2}", bias=False)
    notes.append("twtygqyy/pytorch-vdsr port has no biases: srlab's are set to 0")
    kwargs = dict(scale=2, in_channels=chans, num_feat=num_feat, num_layer=n + 2, scales=[2, 3, 4])
    return _release(
        raw, VDSR, kwargs, state, led, f"VDSR D{n + 2} (twtygqyy/pytorch-vdsr port)", "vdsr", notes
    )


@recogniser("drrn", formats=_FORMATS)
def drrn_jt827859032(raw: RawRelease) -> Release | None:
    """DRRN port jt827859032/DRRN-pytorch: recognised only to say why it is not loaded.

    Tensors ``input``, ``conv1``, ``conv2`` and ``output``, no biases. The port has no batch
    norm (srlab's could be set to identity) but its ``forward`` applies an in-place ReLU to
    ``out`` while ``out`` is still the tensor ``inputs``: the first unit rewrites ``inputs`` to
    ``relu(h0)``, so every unit's skip is ``relu(h0)`` instead of ``h0``. The released weights
    were trained with that function, which srlab's DRRN is not (1e-3..1e-2 apart on random
    weights), so the file is refused rather than loaded wrong.
    """
    t = raw.tensors
    if not _exact_keys(t, ["input.weight", "conv1.weight", "conv2.weight", "output.weight"]):
        return None
    if t["input.weight"].dim() != 4 or t["conv1.weight"].dim() != 4:
        return None
    raise ReleaseError(
        f"{raw.path}: a jt827859032/DRRN-pytorch release; its forward's in-place ReLU turns every "
        f"unit's skip into relu(h0) instead of h0, which srlab's DRRN does not compute, "
        "so it is not loaded"
    )


@recogniser("lapsrn", formats=_FORMATS)
def lapsrn_twtygqyy(raw: RawRelease) -> Release | None:
    """LapSRN port twtygqyy/pytorch-LapSRN: recognised only to say why it is not loaded.

    Tensors ``conv_input``, ``convt_F1.0.cov_block``, ``convt_I1`` and ``convt_R1``.
    """
    t = raw.tensors
    if not (
        "conv_input.weight" in t and "convt_I1.weight" in t and "convt_F1.0.cov_block.0.weight" in t
    ):
        return None
    kernels = sorted(
        {tuple(v.shape[-2:]) for k, v in t.items() if k.startswith("convt_F1.") and v.dim() == 4}
    )
    raise ReleaseError(
        f"{raw.path}: a twtygqyy/pytorch-LapSRN release; its feature upsampler is a 4x4 "
        f"transposed convolution (the paper's text; kernels here {kernels}) where srlab's LapSRN "
        "has the official MatConvNet model's cropped 3x3 one, so it is not loaded "
        "(use the authors' MatConvNet release)"
    )
