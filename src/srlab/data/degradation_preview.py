"""A picture of what degradations do: an HR crop beside its LR under each degradation.

:func:`degradation_preview` draws it (``srlab-degrade-preview`` saves it); :data:`PRESETS` are
the degradations shown by default, in the form of ``data.degradation``.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, ImageDraw
from torch import Tensor

from ..errors import SRLabError
from .degradation import Degradation, mod_crop

__all__ = ["PRESETS", "describe", "degradation_preview"]

#: label -> ``Degradation`` arguments, shown by ``srlab-degrade-preview`` without ``--config``
PRESETS: dict[str, dict[str, Any]] = {
    "bicubic": {"steps": [{"bicubic": {}}]},
    "iso blur s=2.0": {"steps": [{"blur": {"sigma": 2.0}}]},
    "aniso blur 3.0/0.8 @45deg": {
        "steps": [{"aniso_blur": {"sigma_x": 3.0, "sigma_y": 0.8, "theta": 0.785}}]
    },
    "noise s=15": {"steps": [{"bicubic": {}}, {"noise": {"sigma": 15}}]},
    "jpeg q=20": {"steps": [{"bicubic": {}}, {"jpeg": {"quality": 20}}]},
    "random blur+noise+jpeg": {
        "seed": 1,
        "steps": [
            {"blur": {"sigma": [0.2, 2.0]}},
            {"bicubic": {}},
            {"noise": {"sigma": [0, 15]}},
            {"jpeg": {"quality": [40, 90]}},
        ],
    },
}


def describe(params: Mapping[str, Any]) -> str:
    """The parameters a :class:`~srlab.data.Degradation` drew, as one line.

    Example:
        >>> describe({"steps": [{"blur": {"sigma": 1.23456}}, {"bicubic": {}}]})
        'blur(sigma=1.23) > bicubic'
    """
    parts = []
    for st in params["steps"]:
        ((name, p),) = st.items()
        parts.append(
            name + ("(" + ",".join(f"{k}={v:.3g}" for k, v in p.items()) + ")" if p else "")
        )
    return " > ".join(parts)


def load_degradations(path: str | os.PathLike[str] | None = None) -> dict[str, Degradation]:
    """The degradations of a preview: ``label -> Degradation``, from a YAML file or :data:`PRESETS`.

    The file maps each label to :class:`~srlab.data.Degradation` arguments
    (``{steps: [...], seed: ...}``); it is read with ``yaml.safe_load`` (plain data only).

    Args:
        path: the YAML file, or ``None`` for :data:`PRESETS`.

    Returns:
        The built degradations, in the file's order.

    Raises:
        SRLabError: the file cannot be read or is not such a mapping.
    """
    if path is None:
        specs: Mapping[str, Any] = PRESETS
    else:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise SRLabError(f"cannot read degradations from {path}: {e}") from None
        if (
            not isinstance(loaded, dict)
            or not loaded
            or not all(isinstance(v, dict) for v in loaded.values())
        ):
            raise SRLabError(f"{path}: expected a mapping label -> {{steps: [...], seed: ...}}")
        specs = loaded
    return {str(name): Degradation(**spec) for name, spec in specs.items()}


def degradation_preview(
    hr: Tensor, degradations: Mapping[str, Degradation], scale: int, crop: int
) -> Image.Image:
    """The centre ``crop`` of ``hr``, then one LR tile per degradation, each with a caption.

    Each LR is enlarged to the HR size by nearest neighbour, so its pixels stay visible, and
    captioned with its name, size and the parameters drawn for it (:func:`describe`); four
    tiles per row.

    Args:
        hr: uint8 ``(3, H, W)`` HR image.
        degradations: label -> degradation.
        scale: the downscaling factor.
        crop: side of the HR crop (reduced to the image and to a multiple of ``scale``).

    Returns:
        The RGB picture.

    Raises:
        SRLabError: the image is smaller than the scale.
    """
    h, w = hr.shape[-2:]
    c = min(crop, h, w) // scale * scale
    if c == 0:
        raise SRLabError(f"the image ({w}x{h}) is smaller than the scale x{scale}")
    t, left = (h - c) // 2, (w - c) // 2
    hr_crop = mod_crop(hr[:, t : t + c, left : left + c], scale)
    tiles = [("HR crop", f"{c}x{c}", hr_crop)]
    for name, d in degradations.items():
        lr, params = d(hr_crop, scale)
        big = lr.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
        tiles.append(
            (f"{name} (x{scale}, LR {lr.shape[-1]}x{lr.shape[-2]})", describe(params), big)
        )
    cap, gap = 60, 6
    cols = min(len(tiles), 4)
    rows = (len(tiles) + cols - 1) // cols
    W, H = cols * (c + gap) + gap, rows * (c + cap + gap) + gap
    canvas = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (title, sub, im) in enumerate(tiles):
        x, y = gap + (k % cols) * (c + gap), gap + (k // cols) * (c + cap + gap)
        canvas.paste(Image.fromarray(im.permute(1, 2, 0).numpy()), (x, y + cap))
        draw.text((x, y), title, fill="black")
        n = max(8, c // 6)  # characters per caption line at PIL's default font
        draw.text((x, y + 13), "\n".join(textwrap.wrap(sub, n)[:3]), fill=(90, 90, 90), spacing=1)
    return canvas
