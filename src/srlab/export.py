"""Exporting a trained model to ONNX or TorchScript, checked against PyTorch.

The whole :class:`SRModule` forward is exported (RGB in, RGB out, in [0, 1]), with dynamic
height and width.

What is exported is :class:`ExportableSR`: the network fed by its input rules at one scale
(:meth:`srlab.core.rules.InputRules.super_resolve`, what ``SRModule.forward`` runs: Y networks
get BT.601 Y in and bicubic Cb/Cr merged back, pre-upsampling networks MATLAB bicubic
upsampling first, ``border`` networks reflect padding), followed by a clamp to [0, 1]. The rules
trace with symbolic sizes: their bicubic is :func:`srlab.core.imresize.bicubic_upscale`, written
with element-wise operations on shifted views, so no size is frozen into the export.

:func:`export_model` writes an export only once it has passed the parity check: run at another
size than the traced one, it must agree with PyTorch within :data:`PARITY_TOL`; a failed export
leaves nothing behind (``srlab-export`` only parses, calls this and reports).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from typing_extensions import override

from .data.io import atomic_path
from .errors import SRLabError
from .models.sr_module import SRModule

__all__ = ["ExportableSR", "export_model", "FORMATS", "PARITY_TOL", "EXPORT_LIMITS"]

FORMATS = ("onnx", "torchscript")
#: the largest max abs difference (on [0, 1] images) accepted between export and PyTorch
PARITY_TOL = 1e-4
#: network class -> why (or how far) it cannot be exported; shown in the srlab-zoo table. Empty:
#: every network of the zoo exports to ONNX and TorchScript with dynamic H, W and parity
#: within PARITY_TOL (tests/test_export.py checks each config at scale 2).
EXPORT_LIMITS: dict[str, str] = {}


class ExportableSR(nn.Module):
    """``SRModule.forward(lr, scale)`` at one scale, clamped to [0, 1].

    RGB ``(B, 3, H, W)`` -> RGB ``(B, 3, sH, sW)``; the network is run by its input rules (see
    the module docstring), so the export computes what the module computes.

    Args:
        model: the trained module.
        scale: the scale to export (default: the model's); one of those it serves.
    """

    def __init__(self, model: SRModule, scale: int | None = None) -> None:
        super().__init__()
        self.net = model.net
        self.rules = model.rules
        self.scale = model.check_scale(scale)

    @override
    def forward(self, lr: Tensor) -> Tensor:
        return self.rules.super_resolve(self.net, lr, self.scale).clamp(0, 1)


def _onnx_export(module: nn.Module, example: Tensor, path: Path) -> None:
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=["lr"],
        output_names=["sr"],
        dynamic_axes={
            "lr": {0: "batch", 2: "height", 3: "width"},
            "sr": {0: "batch", 2: "out_height", 3: "out_width"},
        },
        opset_version=17,
        dynamo=False,
    )


def _run_onnx(path: Path, x: Tensor) -> Tensor:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, min(4, torch.get_num_threads()))
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return torch.from_numpy(sess.run(None, {"lr": x.cpu().numpy()})[0])


def _check_size(example_size: tuple[int, int]) -> tuple[int, int]:
    """An LR size unlike ``example_size`` in both dimensions and in their parity.

    The parity check runs there, so a size the trace froze into the export shows up.

    Example:
        >>> _check_size((24, 32)), _check_size((8, 8))
        ((29, 29), (13, 11))
    """
    h, w = example_size
    return h + 5, w - 3 if w > 8 else w + 3


def export_model(
    model: SRModule,
    fmt: str,
    out: str | os.PathLike[str],
    scale: int | None = None,
    example_size: tuple[int, int] = (24, 32),
    check_size: tuple[int, int] | None = None,
    seed: int = 0,
    tol: float | None = None,
) -> dict[str, Any]:
    """Export ``model`` to ``out``, checked against PyTorch; only a model that passes is written.

    The export is traced at ``example_size``, written under a temporary name beside ``out``,
    and run (onnxruntime for ONNX, ``torch.jit.load`` for TorchScript) on a random image of
    another size, ``check_size``, beside the PyTorch model (so a size frozen into the export
    shows up as an error or a mismatch). Only when the two agree within ``tol`` is the file
    renamed to ``out``; otherwise it is removed and ``out`` is left as it was (a file there
    from an earlier export is kept).

    Args:
        model: the trained module.
        fmt: ``"onnx"`` or ``"torchscript"`` (:data:`FORMATS`).
        out: the file to write.
        scale: the scale to export (default: the model's); one of those it serves.
        example_size: LR ``(H, W)`` the export is traced at (any size runs).
        check_size: LR ``(H, W)`` of the parity check; default: unlike ``example_size`` in
            both dimensions and their parity (``(29, 29)`` for ``(24, 32)``).
        seed: seed of the random example and check images.
        tol: the largest max abs difference accepted (on [0, 1] images); default:
            :data:`PARITY_TOL`.

    Returns:
        ``{"path", "format", "scale", "max_abs_diff", "check_size"}`` of the written file.

    Raises:
        SRLabError: unknown format, missing onnx/onnxruntime, an export or a run that fails,
            or a difference above ``tol`` (the message gives the reason; nothing is written).
    """
    if fmt not in FORMATS:
        raise SRLabError(f"unknown export format {fmt!r}: choose {' or '.join(FORMATS)}")
    tol = PARITY_TOL if tol is None else float(tol)
    model = model.eval().cpu()
    wrapper = ExportableSR(model, scale).eval()
    gen = torch.Generator().manual_seed(seed)
    example = torch.rand(1, 3, *example_size, generator=gen)
    x = torch.rand(1, 3, *(check_size or _check_size(example_size)), generator=gen)
    out = Path(out)
    # torch.jit.trace/load are marked deprecated (FutureWarning) in recent torch; TorchScript
    # files remain the format C++ (libtorch) and mobile runtimes load, so we keep offering it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        with atomic_path(out) as tmp, torch.no_grad():  # renamed onto out only if it passes
            _export(model, wrapper, fmt, tmp, example)
            diff = _parity(model, wrapper, fmt, tmp, x)
            if not diff <= tol:
                h, w = x.shape[-2:]
                raise SRLabError(
                    f"the {fmt} export differs from PyTorch by {diff:.3g} (> {tol:g}) on a "
                    f"{w}x{h} input; {out} not written"
                )
    return {
        "path": out,
        "format": fmt,
        "scale": wrapper.scale,
        "max_abs_diff": diff,
        "check_size": tuple(x.shape[-2:]),
    }


def _first_line(e: BaseException) -> str:
    msg = str(e).strip()
    return msg.splitlines()[0][:300] if msg else type(e).__name__


def _export(model: SRModule, wrapper: ExportableSR, fmt: str, path: Path, example: Tensor) -> None:
    """Trace ``wrapper`` at ``example`` and write it to ``path`` in ``fmt``."""
    try:
        if fmt == "onnx":
            _onnx_export(wrapper, example, path)
        else:
            torch.jit.trace(wrapper, (example,), check_trace=False).save(str(path))
    except SRLabError:
        raise
    except ImportError as e:
        raise SRLabError(
            f"ONNX export needs the onnx package (pip install 'srlab[export]'): {e}"
        ) from None
    except Exception as e:  # noqa: BLE001 - an export failure is reported with its reason
        raise SRLabError(
            f"cannot export {type(model.net).__name__} to {fmt}: {_first_line(e)}"
        ) from None


def _parity(model: SRModule, wrapper: ExportableSR, fmt: str, path: Path, x: Tensor) -> float:
    """Max abs difference between the exported model at ``path`` and PyTorch on ``x``.

    ``inf`` when the shapes differ.
    """
    ref = model(x, wrapper.scale).clamp(0, 1)
    try:
        if fmt == "onnx":
            try:
                got = _run_onnx(path, x)
            except ImportError:
                raise SRLabError(
                    "checking an ONNX export needs onnxruntime (pip install 'srlab[export]')"
                ) from None
        else:
            got = torch.jit.load(str(path))(x)
    except SRLabError:
        raise
    except Exception as e:  # noqa: BLE001
        h, w = x.shape[-2:]
        raise SRLabError(
            f"the exported {fmt} model of {type(model.net).__name__} does not run at another "
            f"size ({w}x{h}): {_first_line(e)}"
        ) from None
    return math.inf if got.shape != ref.shape else float((got - ref).abs().max())
