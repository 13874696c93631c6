"""Degradations D(I_y; sigma) as pure functions on tensors, and a configurable pipeline of them.

The foundation ships the classic one: MATLAB-exact bicubic downscaling followed by 8-bit
quantisation, which is how DIV2K's and the benchmark sets' LR images were made. On top of it:
isotropic / anisotropic Gaussian blur (kernels from kornia), additive Gaussian noise of level
sigma (8-bit units), and JPEG compression (torchvision's libjpeg codec). :class:`Degradation`
chains them in a configured order, each parameter a fixed value or a ``[lo, hi]`` range drawn per
sample from a seeded generator, and returns the parameters it used so they can be logged.

Alignment: blur acts on the HR image, then the MATLAB bicubic downscale (exact LR size
``H/scale x W/scale``), then noise and JPEG act on the LR image, so an HR patch and its LR
patch stay aligned exactly as with plain bicubic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..core.imresize import imresize
from ..errors import SRLabError

__all__ = [
    "mod_crop",
    "bicubic_downscale",
    "gaussian_kernel",
    "blur",
    "add_noise",
    "jpeg",
    "Degradation",
    "DEGRADATION_STEPS",
]


def mod_crop(x: Tensor, scale: int) -> Tensor:
    """Crop the bottom/right so that H and W are multiples of ``scale`` (the SR convention)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


def bicubic_downscale(hr: Tensor, scale: int, quantize: bool = True) -> Tensor:
    """LR image from an HR image: MATLAB ``imresize(hr, 1/scale, 'bicubic')``.

    Args:
        hr: uint8 or float image(s) ``(C, H, W)`` / ``(B, C, H, W)``; H and W must be multiples
            of ``scale`` (use :func:`mod_crop`).
        scale: integer downscaling factor.
        quantize: round to 8 bits as the published LR PNGs are.

    Returns:
        The LR image with the input's dtype (uint8 in, uint8 out).
    """
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"bicubic_downscale: HR size {h}x{w} is not a multiple of scale {scale}")
    is_uint8 = not hr.dtype.is_floating_point
    x = hr.float() / 255.0 if is_uint8 else hr
    lr = imresize(x, 1.0 / scale, antialias=True)
    if is_uint8:
        return lr.clamp(0, 1).mul(255.0).round().to(hr.dtype)
    if quantize:
        return lr.clamp(0, 1).mul(255.0).round().div(255.0)
    return lr


def gaussian_kernel(
    sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, size: int | None = None
) -> Tensor:
    """A normalised 2-D Gaussian kernel ``(size, size)``, float32.

    Isotropic when ``sigma_y`` is ``None`` (kornia's ``get_gaussian_kernel2d``); anisotropic with
    standard deviations ``sigma_x``, ``sigma_y`` along axes rotated by ``theta`` radians
    (covariance ``R diag(sx^2, sy^2) R^T``, as in the blind-SR literature; kornia only has
    axis-aligned anisotropic kernels, so the rotated one is written here).

    Args:
        sigma_x: standard deviation in pixels (along the rotated x axis when anisotropic).
        sigma_y: standard deviation along the rotated y axis; ``None``: isotropic.
        theta: rotation of the axes in radians (anisotropic kernels only).
        size: odd side; default ``2 * ceil(3 * max sigma) + 1``.
    """
    sy = sigma_x if sigma_y is None else sigma_y
    if sigma_x <= 0 or sy <= 0:
        raise SRLabError(f"blur sigma must be positive, got {sigma_x}, {sy}")
    if size is None:
        size = 2 * math.ceil(3 * max(sigma_x, sy)) + 1
    if size % 2 == 0:
        raise SRLabError(f"blur kernel size must be odd, got {size}")
    if sigma_y is None or (sigma_y == sigma_x and theta == 0):
        from kornia.filters import get_gaussian_kernel2d

        return get_gaussian_kernel2d((size, size), (sigma_x, sigma_x))[0].float()
    c, s = math.cos(theta), math.sin(theta)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    cov = rot @ torch.diag(torch.tensor([sigma_x**2, sy**2], dtype=torch.float64)) @ rot.T
    inv = torch.linalg.inv(cov)
    r = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    pts = torch.stack([xx, yy], -1)
    k = torch.exp(-0.5 * torch.einsum("...i,ij,...j->...", pts, inv, pts))
    return (k / k.sum()).float()


def blur(x: Tensor, kernel: Tensor) -> Tensor:
    """Convolve float image(s) ``(C, H, W)`` / ``(B, C, H, W)`` with a 2-D kernel.

    Reflect padding, the output the size of the input (kornia's ``filter2d``).
    """
    from kornia.filters import filter2d

    squeeze = x.dim() == 3
    y = filter2d(x[None] if squeeze else x, kernel[None].to(x), border_type="reflect")
    return y[0] if squeeze else y


def add_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """Additive white Gaussian noise of standard deviation ``sigma`` in 8-bit units.

    ``sigma=25`` means 25/255 on [0, 1] images; the result is clamped to [0, 1].
    """
    if sigma <= 0:
        return x
    n = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x)
    return (x + n * (sigma / 255.0)).clamp(0, 1)


def jpeg(x: Tensor, quality: float) -> Tensor:
    """JPEG-compress and decode float RGB image(s) in [0, 1] at ``quality`` (1-100, rounded).

    Uses torchvision's libjpeg (``encode_jpeg`` / ``decode_jpeg``).
    """
    from torchvision.io import decode_jpeg, encode_jpeg

    q = round(quality)
    if not 1 <= q <= 100:
        raise SRLabError(f"JPEG quality must lie in 1..100, got {quality}")
    squeeze = x.dim() == 3
    xs = x[None] if squeeze else x
    u8 = xs.detach().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu()
    out = torch.stack([decode_jpeg(encode_jpeg(im.contiguous(), quality=q)) for im in u8])
    out = out.to(x.device, torch.float32).div(255.0)
    return out[0] if squeeze else out


#: step name -> its parameters (each a number or a ``[lo, hi]`` range drawn per sample)
DEGRADATION_STEPS: dict[str, tuple[str, ...]] = {
    "blur": ("sigma",),  # isotropic Gaussian blur on HR
    "aniso_blur": (
        "sigma_x",
        "sigma_y",
        "theta",
    ),  # anisotropic Gaussian blur on HR (theta radians)
    "bicubic": (),  # MATLAB-exact bicubic downscale by the scale (always exactly once)
    "noise": ("sigma",),  # additive Gaussian noise, 8-bit units
    "jpeg": ("quality",),  # JPEG compression quality
}
_HR_STEPS = ("blur", "aniso_blur")


def _draw(value: Any, generator: torch.Generator | None, integer: bool = False) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
        if hi < lo:
            raise SRLabError(f"degradation range [{lo}, {hi}] has hi < lo")
        if integer:
            return float(int(torch.randint(int(lo), int(hi) + 1, (), generator=generator)))
        return lo + (hi - lo) * float(torch.rand((), generator=generator))
    raise SRLabError(f"a degradation parameter must be a number or a [lo, hi] range, got {value!r}")


class Degradation:
    """A degradation model D(I; sigma): steps applied in order, parameters fixed or random.

    Args:
        steps: list of ``{name: {param: value}}`` (or ``{"name": ..., param: value}``) in the
            order of application; names in :data:`DEGRADATION_STEPS`. Every value is a number or
            a ``[lo, hi]`` range drawn uniformly per sample (JPEG quality: integers). Blur steps
            must come before ``bicubic`` (they act on the HR image); noise and JPEG after it. When
            ``bicubic`` is missing it is inserted after the last blur.
        seed: base seed; sample ``i`` uses ``torch.Generator().manual_seed(seed + i)``, so the
            same index gives the same degradation every epoch and every run.

    Example (config)::

        degradation:
          _target_: srlab.data.Degradation
          seed: 0
          steps:
            - blur: {sigma: [0.2, 2.0]}
            - bicubic: {}
            - noise: {sigma: [0, 25]}
            - jpeg: {quality: [30, 95]}
    """

    def __init__(self, steps: Sequence[Mapping[str, Any]] = (), seed: int = 0) -> None:
        parsed: list[tuple[str, dict[str, Any]]] = []
        for st in steps:
            st = dict(st)
            if "name" in st:
                name = st.pop("name")
                params = st
            elif len(st) == 1:
                name, params = next(iter(st.items()))
                params = dict(params or {})
            else:
                raise SRLabError(f"a degradation step is {{name: {{params}}}}, got {st!r}")
            if name not in DEGRADATION_STEPS:
                raise SRLabError(
                    f"unknown degradation step {name!r}; known: {', '.join(DEGRADATION_STEPS)}"
                )
            allowed = DEGRADATION_STEPS[name]
            unknown = set(params) - set(allowed) - {"size"}
            missing = set(allowed) - set(params) - ({"theta"} if name == "aniso_blur" else set())
            if unknown or missing:
                raise SRLabError(
                    f"degradation step {name!r} takes {', '.join(allowed) or 'no parameters'}; "
                    f"got {', '.join(sorted(params)) or 'none'}"
                )
            parsed.append((name, params))
        names = [n for n, _ in parsed]
        if names.count("bicubic") > 1:
            raise SRLabError("degradation: 'bicubic' may appear only once")
        if "bicubic" not in names:
            last_blur = max((i for i, n in enumerate(names) if n in _HR_STEPS), default=-1)
            parsed.insert(last_blur + 1, ("bicubic", {}))
            names = [n for n, _ in parsed]
        b = names.index("bicubic")
        wrong = [n for n in names[:b] if n not in _HR_STEPS] + [
            n for n in names[b + 1 :] if n in _HR_STEPS
        ]
        if wrong:
            raise SRLabError(
                f"degradation order {names}: blur acts on the HR image (before bicubic), "
                f"noise and jpeg on the LR image (after it); misplaced: {wrong}"
            )
        self.steps = parsed
        self.seed = int(seed)

    def __repr__(self) -> str:
        return f"Degradation({[{n: p} for n, p in self.steps]}, seed={self.seed})"

    @property
    def is_plain_bicubic(self) -> bool:
        """Whether the model is bicubic downscaling alone (no blur, noise or JPEG)."""
        return [n for n, _ in self.steps] == ["bicubic"]

    @property
    def hr_support(self) -> int:
        """Radius in HR pixels of the largest blur kernel this model can draw (0 without blur).

        This is the context a patch needs around it to be degraded as if cut from the whole image.
        """
        r = 0
        for name, p in self.steps:
            if name in _HR_STEPS:
                vals = [p[k] for k in ("sigma", "sigma_x", "sigma_y") if k in p]
                hi = max(max(v) if isinstance(v, Sequence) else v for v in vals)
                r = max(r, int(p["size"]) // 2 if "size" in p else math.ceil(3 * float(hi)))
        return r

    def config(self) -> dict[str, Any]:
        """The configuration (to log with the run)."""
        return {"seed": self.seed, "steps": [{n: dict(p)} for n, p in self.steps]}

    def sample_params(
        self, generator: torch.Generator | None
    ) -> list[tuple[str, dict[str, float]]]:
        """Draw one concrete parameter set (numbers only) for every step."""
        out = []
        for name, params in self.steps:
            out.append(
                (
                    name,
                    {
                        k: _draw(v, generator, integer=(k in ("quality", "size")))
                        for k, v in params.items()
                    },
                )
            )
        return out

    def __call__(
        self, hr: Tensor, scale: int, index: int = 0, seed: int | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Degrade an HR image (uint8 or float ``(C, H, W)``, H and W multiples of ``scale``).

        Args:
            hr: the HR image.
            scale: the downscaling factor.
            index: sample index; the sample's generator is seeded with ``seed + index``.
            seed: the sample's seed itself (overrides ``self.seed + index``).

        Returns:
            ``(lr, params)``: LR of the input's dtype, exactly ``H/scale x W/scale``, and the
            concrete parameters used, ``{"seed": ..., "steps": [{name: {param: value}}]}``; the
            same seed gives the same LR.
        """
        seed = self.seed + index if seed is None else int(seed)
        generator = torch.Generator().manual_seed(seed)
        is_uint8 = not hr.dtype.is_floating_point
        x = hr.float() / 255.0 if is_uint8 else hr.float()
        drawn = self.sample_params(generator)
        for name, p in drawn:
            size = int(p["size"]) if "size" in p else None
            if name == "blur":
                if p["sigma"] > 0:
                    x = blur(x, gaussian_kernel(p["sigma"], size=size))
            elif name == "aniso_blur":
                x = blur(
                    x, gaussian_kernel(p["sigma_x"], p["sigma_y"], p.get("theta", 0.0), size=size)
                )
            elif name == "bicubic":
                x = bicubic_downscale(x, scale, quantize=True)
            elif name == "noise":
                x = add_noise(x, p["sigma"], generator)
            elif name == "jpeg":
                x = jpeg(x, int(p["quality"]))
        x = x.clamp(0, 1)
        lr = x.mul(255.0).round().to(torch.uint8) if is_uint8 else x
        params = {"seed": seed, "steps": [{n: p} for n, p in drawn]}
        return lr, params
