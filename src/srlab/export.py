"""Exporting a trained model to ONNX or TorchScript, checked against PyTorch.

The whole :class:`SRModule` forward is exported (RGB in, RGB out, in [0, 1]), with dynamic
height and width.

What is exported is :class:`ExportableSR`: the network fed by its input rules at one scale
(:meth:`srlab.core.rules.InputRules.super_resolve`, what ``SRModule.forward`` runs: Y networks
get BT.601 Y in and bicubic Cb/Cr merged back, pre-upsampling networks MATLAB bicubic
upsampling first, ``border`` networks reflect padding), followed by a clamp to [0, 1]. The rules
trace with symbolic sizes: their bicubic is :func:`srlab.core.imresize.bicubic_upscale`, written
with element-wise operations on shifted views, so no size is frozen into the export.
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
#: within PARITY_TOL (tests/serve/test_export.py checks each config at scale 2).
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


def export_model(
    model: SRModule,
    fmt: str,
    out: str | os.PathLike[str],
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
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        return _export_and_check(model, wrapper, fmt, out, example, x)


def _export_and_check(
    model: SRModule, wrapper: ExportableSR, fmt: str, out: Path, example: Tensor, x: Tensor
) -> dict[str, Any]:
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
        raise SRLabError(
            f"ONNX export needs the onnx package (pip install 'srlab[export]'): {e}"
        ) from None
    except Exception as e:  # noqa: BLE001 - an export failure is reported with its reason
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SRLabError(
            f"cannot export {type(model.net).__name__} to {fmt}: {msg[:300]}"
        ) from None
    with torch.no_grad():
        ref = model(x, wrapper.scale).clamp(0, 1)
        try:
            if fmt == "onnx":
                try:
                    got = _run_onnx(out, x)
                except ImportError:
                    raise SRLabError(
                        "checking an ONNX export needs onnxruntime (pip install 'srlab[export]')"
                    ) from None
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
    diff = math.inf if got.shape != ref.shape else float((got - ref).abs().max())
    return {
        "path": out,
        "format": fmt,
        "scale": wrapper.scale,
        "max_abs_diff": diff,
        "check_size": check_size,
    }
