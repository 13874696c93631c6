"""Reading and writing images, and atomic writes of any file.

PIL decodes (it reads every format srlab accepts); images are uint8 tensors shaped (3, H, W) in
memory. :class:`atomic_path` is the library's one way of writing a file (images, metrics,
checkpoints): a temporary name, then a rename, so nothing half-written is ever left under the
final name.

16-bit files keep their depth where srlab can write it back (:func:`read_image_full_depth`,
:func:`write_image_like`): a 16-bit greyscale PNG and a 16-bit TIFF (grey or RGB, through
``tifffile``). Pillow decodes 16-bit *colour* PNGs at 8 bits only, so those are read as 8-bit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

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
    "collect_images",
    "read_image",
    "ImageInfo",
    "read_image_full_depth",
    "is_16bit_tiff",
    "to_float",
    "to_uint8",
    "write_image",
    "write_image_like",
    "atomic_path",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_TIFF_SUFFIXES = (".tif", ".tiff")


def list_images(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
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


def collect_images(items: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Image files named by ``items``, in order.

    A file stands for itself, a folder for its images (recursively, sorted, :func:`list_images`).

    Raises:
        SRLabError: an item does not exist, a file is not an image (by its suffix), or a folder
            holds no image.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.png", "sub/a.jpg"):
        ...     (d / name).parent.mkdir(exist_ok=True)
        ...     _ = (d / name).write_bytes(b"")
        >>> [p.relative_to(d).as_posix() for p in collect_images([d / "sub", d / "b.png"])]
        ['sub/a.jpg', 'b.png']
    """
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files.extend(list_images(p))
        elif p.is_file():
            if p.suffix.lower() not in IMAGE_EXTENSIONS:
                raise SRLabError(f"not an image file ({', '.join(IMAGE_EXTENSIONS)}): {p}")
            files.append(p)
        else:
            raise SRLabError(f"input not found: {p}")
    return files


#: PIL modes of one-channel files (8/16-bit, float, bilevel; ``LA``: grey with alpha). A
#: palette (``P``) file is colour whatever its palette holds: the decision is the file's
#: channel count, never its content.
GREY_MODES = ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F")


def is_grey_file(path: str | os.PathLike[str]) -> bool:
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
    """Any PIL mode to uint8 RGB.

    Grey and palette are expanded, alpha is dropped (composited on black would invent content),
    16-bit is scaled to 8-bit by /257 (65535 -> 255).
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.clip(np.round(np.asarray(img) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.array(img.convert("RGB"))


def read_image(path: str | os.PathLike[str]) -> Tensor:
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


@dataclass(frozen=True)
class ImageInfo:
    """How an image file stores its samples, as far as writing a result like it needs.

    Attributes:
        bits: 8, or 16 for the files read at full depth (16-bit grey PNG, 16-bit TIFF).
        grey: a 16-bit one-channel file (8-bit files are read and written as RGB).
        tiff: a 16-bit TIFF (written back as a TIFF; everything else as a PNG).
    """

    bits: int = 8
    grey: bool = False
    tiff: bool = False

    @property
    def suffix(self) -> str:
        """The suffix of a file written like this one.

        ``.tif`` for a 16-bit TIFF, else ``.png`` (lossless; a JPEG input is not re-compressed
        lossily).
        """
        return ".tif" if self.tiff else ".png"


def read_image_full_depth(path: str | os.PathLike[str]) -> tuple[Tensor, ImageInfo]:
    """Decode an image file to float ``(3, H, W)`` in [0, 1], keeping 16 bits where it can.

    A 16-bit TIFF (grey or RGB, read with ``tifffile``) and a 16-bit greyscale PNG keep their
    full precision (grey is repeated to three channels); every other file is read as
    :func:`read_image` reads it (8 bits, RGB). The EXIF orientation is applied.

    Returns:
        The image and how it was stored (:class:`ImageInfo`), for :func:`write_image_like`.

    Raises:
        SRLabError: the file is missing, unreadable or corrupt (the message names the file).
    """
    path = Path(path)
    if path.suffix.lower() in _TIFF_SUFFIXES:
        try:
            import tifffile

            arr = tifffile.imread(path)
        except Exception:  # noqa: BLE001 - not a TIFF tifffile reads: fall back to Pillow
            arr = None
        if arr is not None and arr.dtype == np.uint16 and arr.ndim in (2, 3):
            grey = arr.ndim == 2
            arr = np.repeat(arr[..., None], 3, axis=2) if grey else arr[..., :3]
            t = torch.from_numpy(arr.astype(np.float32) / 65535.0).permute(2, 0, 1).contiguous()
            return t, ImageInfo(bits=16, grey=grey, tiff=True)
    try:
        with Image.open(path) as img:
            # 16-bit grey PNG: "I;16" (older Pillow: "I", 32-bit ints holding 16-bit values)
            if img.mode in ("I;16", "I;16B", "I;16L") or (img.mode == "I" and img.format == "PNG"):
                img = ImageOps.exif_transpose(img)
                arr = np.asarray(img, dtype=np.float32) / 65535.0
                t = torch.from_numpy(np.repeat(arr[None], 3, axis=0)).contiguous()
                return t, ImageInfo(bits=16, grey=True)
    except Exception:  # noqa: BLE001 - read_image reports the unreadable file clearly
        pass
    return to_float(read_image(path)), ImageInfo()


def is_16bit_tiff(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a TIFF (by suffix) of 16-bit samples; only the header is read."""
    path = Path(path)
    if path.suffix.lower() not in _TIFF_SUFFIXES:
        return False
    try:
        import tifffile

        with tifffile.TiffFile(path) as tf:
            return tf.pages[0].dtype == np.uint16
    except Exception:  # noqa: BLE001 - unreadable: not one
        return False


def to_float(x: Tensor) -> Tensor:
    """uint8 in [0, 255] to float32 in [0, 1]."""
    return x.float().div_(255.0)


def to_uint8(x: Tensor) -> Tensor:
    """Float in [0, 1] to uint8, clamped and rounded (what saving a PNG does)."""
    return x.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8)


class atomic_path:
    """Context manager yielding a temporary path beside ``path``, renamed onto it on success.

    The temporary file is removed on failure, so a killed process never leaves a half-written
    file under ``path``.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(d / "a.txt") as tmp:
        ...     _ = tmp.write_text("hi")
        >>> sorted(p.name for p in d.iterdir())
        ['a.txt']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def write_image(path: str | os.PathLike[str], image: Tensor, bits: int = 8) -> Path:
    """Write a float ``(3|1, H, W)`` image in [0, 1] (or uint8) to ``path`` atomically.

    Args:
        path: the file; its suffix picks the format (PNG recommended: lossless).
        image: float in [0, 1] (clamped, rounded) or uint8; one channel is written as grey.
        bits: 8, or 16 for a 16-bit TIFF (``.tif``/``.tiff``, grey or RGB) or a 16-bit grey
            PNG (Pillow writes no 16-bit colour PNG).

    Returns:
        ``path``.

    Raises:
        ValueError: a wrong shape, or 16 bits in a format that cannot hold them.
    """
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"write_image expects (1|3, H, W), got {tuple(image.shape)}")
    path = Path(path)
    if bits == 16:
        return _write_16bit(path, image)
    if bits != 8:
        raise ValueError(f"write_image writes 8 or 16 bits, got bits={bits}")
    arr = (image if image.dtype == torch.uint8 else to_uint8(image)).permute(1, 2, 0).cpu().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    with atomic_path(path) as tmp:
        img.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


def _write_16bit(path: Path, image: Tensor) -> Path:
    """16-bit samples: ``tifffile`` for a TIFF, Pillow's ``I;16`` for a grey PNG."""
    suffix, grey = path.suffix.lower(), image.shape[0] == 1
    if suffix not in _TIFF_SUFFIXES and not (suffix == ".png" and grey):
        what = "a colour PNG" if suffix == ".png" else f"a {suffix or 'suffix-less'} file"
        raise ValueError(
            f"16 bits are written as a TIFF (grey or RGB) or a grey PNG, not as {what}: {path}"
        )
    img = image.float().div(255.0) if image.dtype == torch.uint8 else image.detach().float()
    arr = (
        img.clamp(0, 1)
        .mul(65535.0)
        .round()
        .to(torch.int32)
        .permute(1, 2, 0)
        .cpu()
        .numpy()
        .astype(np.uint16)
    )
    with atomic_path(path) as tmp:
        if suffix in _TIFF_SUFFIXES:
            import tifffile

            tifffile.imwrite(
                tmp, arr[..., 0] if grey else arr, photometric="minisblack" if grey else "rgb"
            )
        else:
            Image.fromarray(arr[..., 0]).save(tmp, format="PNG")
    return path


def write_image_like(path: str | os.PathLike[str], image: Tensor, info: ImageInfo) -> Path:
    """Write a float ``(3, H, W)`` image in [0, 1] stored as ``info`` says.

    For the result of a file read by :func:`read_image_full_depth`: 16-bit grey (the mean of
    the channels) or RGB when ``info.bits == 16``, else 8-bit RGB. ``path`` should end in
    ``info.suffix``.
    """
    if info.bits != 16:
        return write_image(path, image)
    if info.grey:
        image = image.clamp(0, 1).mean(dim=0, keepdim=True)
    return write_image(path, image, bits=16)


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
