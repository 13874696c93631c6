"""Exporting a trained model to ONNX or TorchScript: the whole :class:`SRModule` forward
(RGB in, RGB out, in [0, 1]), with dynamic height and width, checked against PyTorch.

What is exported is :class:`ExportableSR`: the same computation as ``SRModule.forward`` for one
scale (Y networks: BT.601 Y in, bicubic Cb/Cr merged back; pre-upsampling networks: MATLAB
bicubic upsampling first; ``border`` networks: reflect padding), followed by a clamp to [0, 1].

The bicubic step: :func:`srlab.imresize` builds its weights and tap indices in Python from the
input's size (cached per size) and loops over blocks of rows, so a trace would freeze them for
the traced size. For the *integer upscaling* that SR needs, MATLAB's bicubic is shift-invariant
per output phase: output pixel ``s*i + p`` reads input pixels ``i-2 .. i+2`` with weights that
depend on ``p`` only, and MATLAB's symmetric mirroring at the borders equals padding the input
by 2 pixels with its edge-including mirror. :func:`bicubic_upscale` computes exactly that with
a fixed ``(s, 1, 5, 1)`` convolution per axis and a reshape that interleaves the phases, which
traces with symbolic sizes (it matches ``imresize`` to float rounding; tested).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .data.io import atomic_path
from .errors import SRLabError
from .models.sr_module import SRModule, final_output

__all__ = ["bicubic_upscale", "ExportableSR", "export_model", "FORMATS", "PARITY_TOL", "EXPORT_LIMITS"]

FORMATS = ("onnx", "torchscript")
#: the largest max abs difference (on [0, 1] images) accepted between export and PyTorch
PARITY_TOL = 1e-4
#: network class -> why (or how far) it cannot be exported; shown in the srlab-zoo table. Empty:
#: every network of the zoo exports to ONNX and TorchScript with dynamic H, W and parity
#: within PARITY_TOL (tests/serve/test_export.py checks each config at scale 2).
EXPORT_LIMITS: dict[str, str] = {}


def _phase_weights(scale: int) -> Tensor:
    """``(scale, 5)``: MATLAB bicubic (a = -0.5) weights of taps ``i-2 .. i+2`` for output
    phase ``p`` (output pixel ``scale*i + p`` samples input ``i + (p + 0.5)/scale - 0.5``)."""
    rows = []
    for p in range(scale):
        f = (p + 0.5) / scale - 0.5
        w = []
        for k in range(-2, 3):
            d = abs(f - k)
            if d <= 1:
                w.append(1.5 * d**3 - 2.5 * d**2 + 1.0)
            elif d <= 2:
                w.append(-0.5 * d**3 + 2.5 * d**2 - 4.0 * d + 2.0)
            else:
                w.append(0.0)
        total = math.fsum(w)
        rows.append([v / total for v in w])
    return torch.tensor(rows, dtype=torch.float64)


def _symmetric_pad2(x: Tensor, dim: int) -> Tensor:
    """Pad 2 pixels on both sides along ``dim`` with the edge-including mirror (MATLAB's
    ``[x1, x0 | x0, x1, ... | xn, xn-1]``)."""
    n = x.shape[dim]
    head = x.narrow(dim, 0, 2).flip(dim)
    tail = x.narrow(dim, n - 2, 2).flip(dim)
    return torch.cat([head, x, tail], dim=dim)


def bicubic_upscale(x: Tensor, scale: int, weights: Tensor | None = None) -> Tensor:
    """MATLAB ``imresize(x, scale, 'bicubic')`` for an integer ``scale >= 2``, traceable with
    dynamic sizes (inputs at least 2x2).

    Shape: ``(B, C, H, W)`` -> ``(B, C, scale*H, scale*W)``.
    """
    w = (weights if weights is not None else _phase_weights(scale)).to(x.device, x.dtype)
    b, c, h, wd = x.shape
    t = x.reshape(-1, 1, h, wd)
    # height: (N,1,H+4,W) -> (N,s,H,W) -> interleave phases -> (N,1,sH,W)
    t = F.conv2d(_symmetric_pad2(t, 2), w.view(scale, 1, 5, 1))
    t = t.permute(0, 2, 1, 3).reshape(-1, 1, h * scale, wd)
    # width: (N,1,sH,W+4) -> (N,s,sH,W) -> (N,1,sH,sW)
    t = F.conv2d(_symmetric_pad2(t, 3), w.view(scale, 1, 1, 5))
    t = t.permute(0, 2, 3, 1).reshape(b, c, h * scale, wd * scale)
    return t


class ExportableSR(nn.Module):
    """``SRModule.forward(lr, scale)`` at one scale, clamped to [0, 1], written with
    export-friendly ops (see the module docstring). RGB ``(B,3,H,W)`` -> RGB ``(B,3,sH,sW)``."""

    def __init__(self, model: SRModule, scale: int | None = None) -> None:
        super().__init__()
        self.net = model.net
        self.scale = model.check_scale(scale)
        self.multi_scale = bool(model.multi_scale)
        self.y_net = int(self.net.in_channels) == 1
        self.pre_upsample = bool(getattr(self.net, "pre_upsample", False))
        self.border = int(getattr(self.net, "border", 0) or 0)
        self.register_buffer("bicubic_weights", _phase_weights(self.scale).float(), persistent=False)

    def _up(self, x: Tensor) -> Tensor:
        return bicubic_upscale(x, self.scale, self.bicubic_weights)

    def forward(self, lr: Tensor) -> Tensor:
        x = lr
        ycbcr = None
        if self.y_net:
            ycbcr = rgb_to_ycbcr(lr)
            x = ycbcr[:, :1]
        if self.pre_upsample:
            x = self._up(x)
        if self.border:
            b = self.border
            x = F.pad(x, (b, b, b, b), mode="reflect")
        out = final_output(self.net(x, scale=self.scale) if self.multi_scale else self.net(x))
        if ycbcr is not None:
            out = ycbcr_to_rgb(torch.cat([out, self._up(ycbcr[:, 1:])], dim=1))
        return out.clamp(0, 1)


def _onnx_export(module: nn.Module, example: Tensor, path: Path) -> None:
    torch.onnx.export(
        module, (example,), str(path), input_names=["lr"], output_names=["sr"],
        dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"}, "sr": {0: "batch", 2: "out_height", 3: "out_width"}},
        opset_version=17, dynamo=False,
    )


def _run_onnx(path: Path, x: Tensor) -> Tensor:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, min(4, torch.get_num_threads()))
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {"lr": x.cpu().numpy()})[0])


def export_model(
    model: SRModule,
    fmt: str,
    out: str | os.PathLike,
    scale: int | None = None,
    example_size: tuple[int, int] = (24, 32),
    check_size: tuple[int, int] = (29, 21),
    seed: int = 0,
) -> dict[str, Any]:
    """Export ``model`` to ``out`` and check the exported model against PyTorch.

    The export is traced at ``example_size``; the check runs both on a random image of another
    size, ``check_size`` (so a size frozen into the export shows up as an error or a mismatch).

    Returns:
        ``{"path", "format", "scale", "max_abs_diff", "check_size"}``. The caller decides what
        to do with a difference above :data:`PARITY_TOL`.

    Raises:
        SRLabError: unknown format, missing onnxruntime, or an export/run that fails (the
            message gives the reason).
    """
    if fmt not in FORMATS:
        raise SRLabError(f"unknown export format {fmt!r}: choose {' or '.join(FORMATS)}")
    model = model.eval().cpu()
    wrapper = ExportableSR(model, scale).eval()
    gen = torch.Generator().manual_seed(seed)
    example = torch.rand(1, 3, *example_size, generator=gen)
    x = torch.rand(1, 3, *check_size, generator=gen)
    out = Path(out)
    # torch.jit.trace/load are marked deprecated (FutureWarning) in recent torch; TorchScript
    # files remain the format C++ (libtorch) and mobile runtimes load, so we keep offering it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return _export_and_check(model, wrapper, fmt, out, example, x)


def _export_and_check(model: SRModule, wrapper: ExportableSR, fmt: str, out: Path, example: Tensor, x: Tensor) -> dict[str, Any]:
    check_size = tuple(x.shape[-2:])
    try:
        with atomic_path(out) as tmp, torch.no_grad():
            if fmt == "onnx":
                _onnx_export(wrapper, example, tmp)
            else:
                traced = torch.jit.trace(wrapper, (example,), check_trace=False)
                traced.save(str(tmp))
    except SRLabError:
        raise
    except ImportError as e:
        raise SRLabError(f"ONNX export needs the onnx package (pip install 'srlab[export]'): {e}") from None
    except Exception as e:  # noqa: BLE001 - an export failure is reported with its reason
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SRLabError(f"cannot export {type(model.net).__name__} to {fmt}: {msg[:300]}") from None
    with torch.no_grad():
        ref = model(x, wrapper.scale).clamp(0, 1)
        try:
            if fmt == "onnx":
                try:
                    got = _run_onnx(out, x)
                except ImportError:
                    raise SRLabError("checking an ONNX export needs onnxruntime (pip install 'srlab[export]')") from None
            else:
                got = torch.jit.load(str(out))(x)
        except SRLabError:
            raise
        except Exception as e:  # noqa: BLE001
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise SRLabError(
                f"the exported {fmt} model of {type(model.net).__name__} does not run at another "
                f"size ({check_size[1]}x{check_size[0]}): {msg[:300]}"
            ) from None
    if got.shape != ref.shape:
        diff = math.inf
    else:
        diff = float((got - ref).abs().max())
    return {"path": out, "format": fmt, "scale": wrapper.scale, "max_abs_diff": diff, "check_size": check_size}
