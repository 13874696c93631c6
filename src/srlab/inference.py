"""Public inference API: ``srlab.upscale(model, image)``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .data.io import read_image, to_float
from .models.sr_module import SRModule

__all__ = ["upscale", "as_image_tensor"]


def as_image_tensor(image: Tensor | np.ndarray | str | os.PathLike) -> Tensor:
    """A path, HxWx3 uint8 array, PIL image or (3,H,W) tensor -> float (3,H,W) in [0, 1]."""
    if isinstance(image, (str, os.PathLike)):
        return to_float(read_image(Path(image)))
    if not isinstance(image, Tensor):
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        t = torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(2, 0, 1)
        return to_float(t) if t.dtype == torch.uint8 else t.float()
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"upscale expects an RGB image shaped (3, H, W), got {tuple(image.shape)}")
    return to_float(image) if image.dtype == torch.uint8 else image.float()


@torch.inference_mode()
def upscale(
    model: SRModule, image: Tensor | np.ndarray | str | os.PathLike, scale: int | None = None
) -> Tensor:
    """Super-resolve one RGB image with a loaded model.

    Args:
        model: e.g. from :func:`srlab.load_model`.
        image: a file path, an ``HxWx3`` uint8 array / PIL image, or a ``(3, H, W)`` tensor
            (uint8, or float in [0, 1]).
        scale: the factor, for a model that serves several (``model.scales``); default: the
            model's own ``model.scale``. A scale the model does not serve raises
            :class:`srlab.SRLabError` naming the ones it does.

    Returns:
        Float tensor ``(3, scale*H, scale*W)`` in [0, 1], on the CPU.
    """
    scale = model.check_scale(scale)
    x = as_image_tensor(image).unsqueeze(0).to(model.device)
    was_training = model.training
    model.eval()
    try:
        return model(x, scale)[0].clamp(0, 1).cpu()
    finally:
        model.train(was_training)
