"""The evaluation protocol: how SR results are scored, and its one name.

Every number srlab reports carries its protocol, e.g.
``bicubic-matlab x3, y-bt601 (grey files: grey values), crop 3 px, 8-bit, over images``:

- the degradation that made the LR images (``bicubic-matlab``: MATLAB ``imresize``);
- the scale(s);
- the colour space of PSNR/SSIM: ``y-bt601`` (the Y channel of MATLAB's ``rgb2ycbcr``) or
  ``rgb``, and under Y the rule for grey (one-channel) files;
- the border crop before the metrics (the scale, unless fixed);
- the quantisation (``8-bit``: SR and HR rounded to 8 bits first) and the mean (over images).

:class:`Protocol` holds these, :meth:`Protocol.as_dict` is what ``metrics.json`` records and
:func:`protocol_line` renders such a record (also one written by an older srlab) as the name
above; the SR module's ``protocol``, the metrics' ``protocol``, ``srlab-eval``'s tables and the
checkpoints all spell it through them.

Grey files. A test image stored with one channel (Set14's ``bridge.bmp``) is scored on its grey
values, as the MATLAB scripts behind the published tables do (``if size(im, 3) == 1``: no
``rgb2ycbcr``). Whether an image is grey is decided by its file's channel count, never by its
content. An RGB output of such an image is scored on its grey value, the BT.601 luma of its
8-bit version (:func:`grey8`); what a network is fed is the input rules' business
(:meth:`srlab.core.rules.InputRules.grey_super_resolve`). ``grey_files="y"`` scores grey files
on the Y of their RGB copy instead (what RCAN's and EDSR's scripts do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import SRLabError

__all__ = [
    "DEGRADATION",
    "GREY_RULES",
    "Protocol",
    "grey8",
    "grey_values",
    "protocol_line",
]

#: the degradation of the papers' protocol: MATLAB ``imresize(hr, 1/s, 'bicubic')``
DEGRADATION = "bicubic-matlab"
#: how grey (one-channel) files are scored under a Y protocol: on their grey values (the MATLAB
#: scripts of the published tables), or on the Y of their RGB copy (RCAN/EDSR's scripts)
GREY_RULES = {"grey": "grey values", "y": "y of rgb copy"}
_COLOURS = {True: "y-bt601", False: "rgb"}
_QUANTIZATION = {True: "8-bit", False: "float"}
_MEAN = "over images"
#: what an RGB protocol does with grey files: scores their replicated RGB like any image
_GREY_UNDER_RGB = "rgb copy"

# BT.601 luma weights: the Y row of MATLAB rgb2ycbcr divided by 219 (= rgb2gray's 0.2989,
# 0.5870, 0.1140 before their rounding)
_LUMA = (65.481 / 219.0, 128.553 / 219.0, 24.966 / 219.0)


def grey_values(x: Tensor) -> Tensor:
    """The grey value of each pixel: BT.601 luma of RGB in [0, 1], on the full 0..1 range.

    MATLAB ``rgb2gray``; equal channels give that channel back exactly. One-channel input is
    returned as is.

    Shape:
        ``(..., 3, H, W) -> (..., 1, H, W)``.

    Example:
        >>> x = torch.tensor([[0.2, 1.0], [0.2, 0.0], [0.2, 0.0]]).view(1, 3, 1, 2)  # grey, red
        >>> [round(v, 3) for v in grey_values(x).mul(255).flatten().tolist()]  # red: 0.299 * 255
        [51.0, 76.245]
    """
    if x.shape[-3] == 1:
        return x
    r, g, b = x.to(torch.float64).unbind(-3)
    return (r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]).unsqueeze(-3).to(x.dtype)


def grey8(x: Tensor) -> Tensor:
    """An SR image of a grey file -> the grey image that is scored.

    RGB is clamped and rounded to 8 bits first (the saved PNG), then reduced to its luma (which
    the metric rounds again, as ``rgb2gray`` of a ``uint8`` image). One-channel input (a Y
    network's grey output) is returned as is.
    """
    if x.shape[-3] == 1:
        return x
    return grey_values(x.clamp(0, 1).mul(255.0).round().div(255.0))


def _scale_text(scale: Any) -> str:
    scales = scale if isinstance(scale, (list, tuple)) else [scale]
    return "/".join(f"x{s}" for s in scales if s is not None)


def protocol_line(p: Mapping[str, Any]) -> str:
    """The name of a protocol record (:meth:`Protocol.as_dict`, ``metrics.json``'s ``protocol``).

    Parts missing from the record are left out (a metric alone knows no degradation or scale;
    results of an older srlab have no grey rule).

    Example:
        >>> protocol_line(Protocol(scales=(2, 3)).as_dict())
        'bicubic-matlab x2/x3, y-bt601 (grey files: grey values), crop = scale, 8-bit, over images'
        >>> protocol_line({"colour": "rgb", "crop_border": 4, "quantization": "8-bit"})
        'rgb, crop 4 px, 8-bit'
    """
    parts = []
    head = " ".join(t for t in (p.get("degradation"), _scale_text(p.get("scale"))) if t)
    if head:
        parts.append(head)
    colour = str(p["colour"])
    if p.get("grey_files") in GREY_RULES.values():
        colour += f" (grey files: {p['grey_files']})"
    parts.append(colour)
    crop = p.get("crop_border")
    if crop is not None:
        parts.append("crop = scale" if crop == "scale" else f"crop {crop} px")
    parts += [str(p[k]) for k in ("quantization", "mean") if p.get(k)]
    return ", ".join(parts)


@dataclass(frozen=True)
class Protocol:
    """How SR results are scored (see the module notes).

    Args:
        scales: the scales evaluated; empty for a metric on its own, which knows none.
        y_channel: PSNR/SSIM on the Y channel of BT.601 YCbCr (papers), or on RGB.
        crop_border: pixels shaved from each border before the metrics; ``None``: the scale.
        quantize: SR and HR rounded to 8 bits before the metrics.
        grey_files: ``"grey"`` (one-channel files scored on grey values) or ``"y"`` (on the Y
            of their RGB copy); ``None`` where no file is known (a metric on its own).
        degradation: how the LR images were made; ``None`` where it is not known.
        mean: how per-image values make a score; ``None`` where it is not known.

    Raises:
        SRLabError: an unknown grey rule, or a negative crop.

    Example:
        >>> Protocol(scales=(3,)).name
        'bicubic-matlab x3, y-bt601 (grey files: grey values), crop 3 px, 8-bit, over images'
        >>> Protocol(scales=(4,), y_channel=False).crop(4), Protocol(crop_border=0).crop(4)
        (4, 0)
    """

    scales: tuple[int, ...] = ()
    y_channel: bool = True
    crop_border: int | None = None
    quantize: bool = True
    grey_files: str | None = "grey"
    degradation: str | None = DEGRADATION
    mean: str | None = _MEAN

    def __post_init__(self) -> None:
        if self.grey_files is not None and self.grey_files not in GREY_RULES:
            raise SRLabError(
                f"grey_files must be one of {', '.join(GREY_RULES)}, got {self.grey_files!r}"
            )
        if self.crop_border is not None and int(self.crop_border) < 0:
            raise SRLabError(f"crop_border must be >= 0 or null, got {self.crop_border}")
        object.__setattr__(self, "scales", tuple(int(s) for s in self.scales))

    @classmethod
    def of_metric(cls, crop_border: int, y_channel: bool, quantize: bool) -> Protocol:
        """The part of a protocol a PSNR/SSIM metric on its own knows."""
        return cls(
            y_channel=y_channel,
            crop_border=crop_border,
            quantize=quantize,
            grey_files=None,
            degradation=None,
            mean=None,
        )

    @property
    def colour(self) -> str:
        """``"y-bt601"`` or ``"rgb"``."""
        return _COLOURS[bool(self.y_channel)]

    @property
    def quantization(self) -> str:
        """``"8-bit"`` or ``"float"``."""
        return _QUANTIZATION[bool(self.quantize)]

    def crop(self, scale: int) -> int:
        """Pixels shaved from each border at ``scale``."""
        return int(scale) if self.crop_border is None else int(self.crop_border)

    def is_grey(self, file_channels: int | None) -> bool:
        """Whether an image whose HR file has ``file_channels`` channels is scored on grey values.

        That is a one-channel file under a Y protocol with the ``"grey"`` rule.
        """
        return bool(self.y_channel and self.grey_files == "grey" and file_channels == 1)

    def scored(self, sr: Tensor, hr: Tensor, grey: bool) -> tuple[Tensor, Tensor]:
        """The ``(sr, hr)`` pair the metrics compare (``crop`` and ``y_channel`` are theirs).

        Args:
            sr: the SR image(s) ``(B, 3|1, H, W)``: RGB, or the grey output of a Y network fed
                a grey image (:meth:`srlab.core.rules.InputRules.grey_super_resolve`).
            hr: the HR image(s) ``(B, 3, H, W)`` (a grey file replicated to RGB).
            grey: the images are grey files (:meth:`is_grey`): then the pair is the grey of
                ``sr`` (:func:`grey8`) and ``hr``'s grey values.
        """
        if grey:
            return grey8(sr), hr[:, :1]
        return sr, hr

    def as_dict(self) -> dict[str, Any]:
        """The record ``metrics.json`` keeps (``scale``: one int, or the list of several)."""
        d: dict[str, Any] = {}
        if self.degradation is not None:
            d["degradation"] = self.degradation
        if self.scales:
            d["scale"] = list(self.scales) if len(self.scales) > 1 else self.scales[0]
        d["colour"] = self.colour
        if self.grey_files is not None:
            # only a Y protocol treats grey files apart
            d["grey_files"] = GREY_RULES[self.grey_files] if self.y_channel else _GREY_UNDER_RGB
        if self.crop_border is not None:
            d["crop_border"] = int(self.crop_border)
        elif len(self.scales) == 1:
            d["crop_border"] = self.scales[0]
        elif self.scales:
            d["crop_border"] = "scale"
        d["quantization"] = self.quantization
        if self.mean is not None:
            d["mean"] = self.mean
        return d

    @property
    def name(self) -> str:
        """The protocol's name, e.g. ``bicubic-matlab x3, y-bt601, crop 3 px, 8-bit``."""
        return protocol_line(self.as_dict())
