"""Reading and writing images: PIL for decoding (it reads every format srlab accepts), uint8
tensors shaped (3, H, W) in memory, and atomic writes (temporary name, then rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from ..errors import SRLabError

__all__ = [
    "IMAGE_EXTENSIONS",
    "GREY_MODES",
    "is_grey_file",
    "list_images",
    "read_image",
    "to_float",
    "to_uint8",
    "write_image",
    "atomic_path",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Sorted image files under ``folder`` (recursively by default).

    Raises:
        SRLabError: the folder does not exist, is not a folder, or holds no image.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise SRLabError(f"image folder not found: {root}")
    if not root.is_dir():
        raise SRLabError(f"not a folder: {root}")
    pattern = "**/*" if recursive else "*"
    files = sorted(
        p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise SRLabError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in {root}"
            + (" or its subfolders" if recursive else "")
        )
    return files


#: PIL modes of one-channel files (8/16-bit, float, bilevel; ``LA``: grey with alpha). A
#: palette (``P``) file is colour whatever its palette holds: the decision is the file's
#: channel count, never its content.
GREY_MODES = ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F")


def is_grey_file(path: str | os.PathLike) -> bool:
    """Whether the image file stores one (grey) channel: Set14's ``bridge.bmp``, say.

    Only the header is read. The SR protocol scores such a file on its grey values, as the
    MATLAB evaluation scripts behind the published tables do (``size(im, 3) == 1``); an RGB
    file whose three channels happen to be equal is still colour (scored on Y). A path that is
    not a readable image file (``skimage.data.camera``) counts as colour.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from PIL import Image
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> Image.fromarray(np.zeros((4, 4), np.uint8)).save(d / "g.png")
        >>> Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(d / "c.png")
        >>> is_grey_file(d / "g.png"), is_grey_file(d / "c.png")
        (True, False)
    """
    try:
        with Image.open(path) as img:
            return img.mode in GREY_MODES
    except (OSError, ValueError, SyntaxError):
        return False


def _pil_to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode to uint8 RGB: grey and palette are expanded, alpha is dropped (composited
    on black would invent content), 16-bit is scaled to 8-bit by /257 (65535 -> 255)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.clip(np.round(np.asarray(img) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.array(img.convert("RGB"))


def read_image(path: str | os.PathLike) -> Tensor:
    """Decode an image file to a uint8 RGB tensor shaped ``(3, H, W)``.

    Grey, palette and RGBA images are converted to RGB (alpha dropped); 16-bit images are
    reduced to 8 bits; the EXIF orientation is applied.

    Raises:
        SRLabError: the file is missing, unreadable or corrupt (the message names the file).
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            arr = _pil_to_rgb_array(img)
    except FileNotFoundError:
        raise SRLabError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise SRLabError(f"cannot read image {path}: {e}") from None
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


def to_float(x: Tensor) -> Tensor:
    """uint8 in [0, 255] to float32 in [0, 1]."""
    return x.float().div_(255.0)


def to_uint8(x: Tensor) -> Tensor:
    """float in [0, 1] to uint8, clamped and rounded (what saving a PNG does)."""
    return x.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8)


class atomic_path:
    """Context manager yielding a temporary path beside ``path``; renamed onto ``path`` on
    success, removed on failure, so a killed process never leaves a half-written file.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(d / "a.txt") as tmp:
        ...     _ = tmp.write_text("hi")
        >>> sorted(p.name for p in d.iterdir())
        ['a.txt']
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def write_image(path: str | os.PathLike, image: Tensor) -> Path:
    """Write a float ``(3|1, H, W)`` image in [0, 1] (or uint8) to ``path`` atomically.

    The format follows the suffix (PNG recommended: lossless 8-bit).
    """
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"write_image expects (1|3, H, W), got {tuple(image.shape)}")
    arr = (image if image.dtype == torch.uint8 else to_uint8(image)).permute(1, 2, 0).cpu().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    path = Path(path)
    with atomic_path(path) as tmp:
        img.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


def hstack(images: Iterable[Tensor], gap: int = 4) -> Tensor:
    """Side-by-side float images (same height) with a white gap, for comparison pictures."""
    images = list(images)
    h = max(im.shape[-2] for im in images)
    parts = []
    for i, im in enumerate(images):
        if im.shape[-2] != h:
            pad = torch.ones(im.shape[0], h - im.shape[-2], im.shape[-1], dtype=im.dtype)
            im = torch.cat([im, pad], dim=-2)
        parts.append(im)
        if i < len(images) - 1:
            parts.append(torch.ones(im.shape[0], h, gap, dtype=im.dtype))
    return torch.cat(parts, dim=-1)
