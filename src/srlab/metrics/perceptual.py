"""Learned full-reference perceptual distances: LPIPS and DISTS (torchmetrics' implementations).

- **LPIPS** (Zhang et al., CVPR 2018): distance between unit-normalised deep features of the two
  images, weighted by linear heads trained on human 2AFC judgements. 0 = identical, **lower is
  better**; typical x4 SR values 0.1 (GAN) to 0.3 (PSNR-oriented) with the AlexNet backbone.
- **DISTS** (Ding et al., TPAMI 2020): 1 - a learned mix of structure (correlation) and texture
  (mean/variance) similarities of VGG16 features; tolerant to texture resampling. 0 = identical,
  **lower is better**.

Both are torchmetrics' ports (``LearnedPerceptualImagePatchSimilarity``, validated by torchmetrics
against the authors' ``lpips`` package; ``DeepImageStructureAndTextureSimilarity``); their learned
heads ship inside the torchmetrics wheel. The ImageNet backbones (AlexNet
``alexnet-owt-7be5be79.pth``, VGG16 ``vgg16-397923af.pth``, SqueezeNet
``squeezenet1_1-b8a52dc0.pth``) are found by
:func:`srlab.metrics.weights.resolve_weights`: a configured file, else the torch hub cache, else
downloaded there when online; torchvision then reads exactly that file.

srlab's protocol: RGB in [0, 1], rounded to 8 bits, the same border crop as PSNR (the scale), the
whole image at once (no resizing); one value per image.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, cast

import torch
from torch import Tensor, nn
from typing_extensions import override

from .weights import hub_checkpoint_path, resolve_weights

__all__ = ["LPIPS_NETS", "backbone_url", "PerceptualDistance", "build_lpips", "build_dists"]

# LPIPS backbone -> torchvision weights enum name (their IMAGENET1K_V1 file is the one LPIPS uses)
LPIPS_NETS = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}
LpipsNet = Literal["alex", "vgg", "squeeze"]


def backbone_url(kind: str) -> str:
    """The torchvision URL of the backbone of ``lpips-<kind>`` (alex|vgg|squeeze) or ``dists``."""
    import torchvision

    enum = "VGG16_Weights" if kind == "dists" else LPIPS_NETS.get(kind)
    if enum is None:
        raise ValueError(f"unknown LPIPS backbone {kind!r}; choose from {sorted(LPIPS_NETS)}")
    return getattr(torchvision.models, enum).IMAGENET1K_V1.url


@contextlib.contextmanager
def _torchvision_reads(file: Path, url: str) -> Iterator[None]:
    """Make torchvision's own ``weights=...`` loading read ``file`` for ``url``, never download.

    A file outside the hub cache is linked into a temporary hub directory for the duration.
    """
    if file.resolve() == hub_checkpoint_path(url).resolve():
        yield
        return
    before = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="srlab-hub-") as tmp:
        link = Path(tmp) / "checkpoints" / os.path.basename(url)
        link.parent.mkdir()
        try:
            link.symlink_to(file.resolve())
        except OSError:  # no symlinks (some filesystems): a copy
            link.write_bytes(file.read_bytes())
        torch.hub.set_dir(tmp)
        try:
            yield
        finally:
            torch.hub.set_dir(before)


def _prepare_rgb(x: Tensor, crop_border: int, quantize: bool) -> Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, 3, H, W) RGB images in [0, 1], got {tuple(x.shape)}")
    x = x.float().clamp(0, 1)
    if quantize:
        x = torch.round(x * 255) / 255
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    return x


class PerceptualDistance(nn.Module):
    """One value per image of a learned distance (LPIPS or DISTS) between ``sr`` and ``hr``.

    Build with :func:`build_lpips` / :func:`build_dists`. ``forward(sr, hr) -> (B,)`` float64.
    """

    def __init__(
        self, name: str, net: nn.Module, crop_border: int = 0, quantize: bool = True
    ) -> None:
        super().__init__()
        self.name = name
        self.net = net.eval().requires_grad_(False)
        self.crop_border = int(crop_border)
        self.quantize = bool(quantize)

    @torch.no_grad()
    def forward(self, sr: Tensor, hr: Tensor, crop_border: int | None = None) -> Tensor:
        """``(B,)`` float64 distances; ``crop_border`` overrides the module's."""
        if sr.shape != hr.shape:
            raise ValueError(f"{self.name}: sr {tuple(sr.shape)} and hr {tuple(hr.shape)} differ")
        c = self.crop_border if crop_border is None else int(crop_border)
        dev = next(self.net.parameters()).device
        a = _prepare_rgb(sr, c, self.quantize).to(dev)
        b = _prepare_rgb(hr, c, self.quantize).to(dev)
        # LPIPS nets take [-1, 1]
        out = self.net(a, b) if self.name == "dists" else self.net(a * 2 - 1, b * 2 - 1)
        return out.reshape(a.shape[0]).double().cpu()

    @override
    def extra_repr(self) -> str:
        return f"name={self.name!r}, crop_border={self.crop_border}, quantize={self.quantize}"


def build_lpips(
    net: str = "alex",
    weights: str | os.PathLike[str] | None = None,
    crop_border: int = 0,
    download: bool = True,
    quantize: bool = True,
) -> PerceptualDistance:
    """LPIPS with the ``net`` backbone as a :class:`PerceptualDistance`.

    Args:
        net: ``alex`` (the authors' default for evaluation), ``vgg`` or ``squeeze``.
        weights: a file with the torchvision backbone state dict (default: the hub cache,
            downloaded when online).
        crop_border: pixels removed from each side before the distance.
        download: allow fetching missing backbone weights.
        quantize: round the images to 8 bits first.

    Raises:
        SRLabError: the backbone weights are missing and cannot be fetched (names the file).
    """
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    url = backbone_url(net)
    file = resolve_weights(
        url,
        weights,
        what=f"LPIPS-{net} backbone weights ({net} ImageNet)",
        config_hint=f"metric_weights.lpips_{net}",
        download=download,
    )
    with _torchvision_reads(file, url):
        model = _NoTrainLpips(net=cast(LpipsNet, net))  # checked by backbone_url
    return PerceptualDistance(f"lpips-{net}", model, crop_border, quantize)


def build_dists(
    weights: str | os.PathLike[str] | None = None,
    crop_border: int = 0,
    download: bool = True,
    quantize: bool = True,
) -> PerceptualDistance:
    """DISTS (VGG16 backbone; ``weights`` as in :func:`build_lpips`)."""
    from torchmetrics.functional.image.dists import DISTSNetwork

    url = backbone_url("dists")
    file = resolve_weights(
        url,
        weights,
        what="DISTS backbone weights (VGG16 ImageNet)",
        config_hint="metric_weights.dists",
        download=download,
    )
    with _torchvision_reads(file, url):
        model = DISTSNetwork()
    return PerceptualDistance("dists", model, crop_border, quantize)
