"""VGG19 feature losses: the perceptual loss and EnhanceNet's patch-wise texture loss.

The perceptual (content) loss is the one of SRGAN, ESRGAN and EnhanceNet-P.

The feature extractor is torchvision's VGG19 with its ImageNet weights
(``VGG19_Weights.IMAGENET1K_V1``, file ``vgg19-dcbb9e9d.pth``), found by
:func:`srlab.metrics.weights.resolve_weights` (the rule LPIPS/DISTS follow too): a file named in the
config, else the torch hub cache (``torch.hub.get_dir()/checkpoints/``, where torchvision itself
puts them), else downloaded there the torchvision way when the machine is online (and
``SRLAB_OFFLINE`` is unset); otherwise the run stops with one sentence saying which file to place
where. ``vgg_weights="random"`` builds an untrained VGG, for tests only.

The frozen VGG is kept out of the module tree (no parameters, not in the ``state_dict``, so
checkpoints do not carry 80 MB of VGG weights), but it follows ``.to()``/``.cuda()``/``.half()``
of the loss. Inputs are RGB in [0, 1] (Y input is repeated to three channels) and are normalised
with the ImageNet mean/std that the VGG weights expect.

Layer names follow the VGG paper: ``conv<b>_<i>`` (before the ReLU), ``relu<b>_<i>`` (after it)
and ``pool<b>``. SRGAN's "VGG54" is ``relu5_4``; ESRGAN takes ``conv5_4`` (before activation).
torchvision's in-place ReLUs are replaced by out-of-place ones, so that a ``conv`` feature is not
overwritten by the ReLU that follows it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from ..errors import SRLabError
from ..metrics.weights import hub_checkpoint_path, load_state_dict, resolve_weights

__all__ = [
    "VGG19_URL",
    "VGGFeatures",
    "PerceptualLoss",
    "TextureLoss",
    "gram_matrix",
    "patch_gram_matrices",
    "hub_checkpoint_path",
    "vgg19_layer_names",
]

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layer_names() -> list[str]:
    """Names of the 37 modules of torchvision's ``vgg19().features``, in order."""
    names: list[str] = []
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def _layer_stride(name: str) -> int:
    """Downsampling factor of a VGG layer's output relative to the image."""
    block = int(name[4] if name.startswith("pool") else name.split("_")[0][-1])
    return 2 ** (block if name.startswith("pool") else block - 1)


def _load_vgg19_features(vgg_weights: str | os.PathLike[str]) -> nn.Sequential:
    # torchvision's own VGG19 feature layers, without its 120M-parameter classifier
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"], batch_norm=False)
    if str(vgg_weights) == "random":
        warnings.warn(
            "VGG19 with random weights: "
            "a perceptual/texture loss on it is meaningless outside tests",
            stacklevel=3,
        )
        for m in features.modules():  # torchvision's VGG init keeps deep features at a sane scale
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        return features
    path = resolve_weights(
        VGG19_URL,
        None if str(vgg_weights) == "imagenet" else vgg_weights,
        what="VGG19 ImageNet weights" if str(vgg_weights) == "imagenet" else "VGG19 weights",
        config_hint="loss.terms.<term>.vgg_weights (e.g. loss.terms.percep.vgg_weights)",
    )
    state = load_state_dict(path, "VGG19 weights")
    # a full torchvision VGG19 state dict ("features.N.weight", "classifier...") or features only
    state = {
        k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")
    }
    try:
        features.load_state_dict(state)
    except RuntimeError as e:
        raise SRLabError(f"{path} does not hold torchvision VGG19 weights: {e}") from None
    return features


class VGGFeatures(nn.Module):
    """Frozen VGG19 feature extractor returning ``{layer name: feature map}``.

    Args:
        layers: names (see :func:`vgg19_layer_names`) of the features to return.
        vgg_weights: ``"imagenet"`` (the torch hub cache), a path to a VGG19 state dict, or
            ``"random"`` (tests only).
        normalize: apply the ImageNet mean/std to [0, 1] RGB input (the VGG weights expect it).

    Shape:
        ``(B, 3 or 1, H, W)`` -> ``{name: (B, C_l, H / stride_l, W / stride_l)}``.
    """

    mean: Tensor
    std: Tensor

    def __init__(
        self,
        layers: Sequence[str],
        vgg_weights: str | os.PathLike[str] = "imagenet",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        names = vgg19_layer_names()
        unknown = [n for n in layers if n not in names]
        if unknown or not layers:
            raise ValueError(f"unknown VGG19 layers {unknown or list(layers)}; choose from {names}")
        self.layers = list(dict.fromkeys(layers))
        last = max(names.index(n) for n in self.layers)
        features = _load_vgg19_features(vgg_weights)[: last + 1]
        for i, m in enumerate(features):
            if isinstance(m, nn.ReLU):
                features[i] = nn.ReLU(inplace=False)
        features.eval().requires_grad_(False)
        # hidden from the module tree: not a parameter, not in the state_dict (see module doc)
        self._vgg: tuple[nn.Sequential] = (features,)
        self._names = names[: last + 1]
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def vgg(self) -> nn.Sequential:
        """The frozen VGG19 feature layers (kept out of the module tree)."""
        return self._vgg[0]

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> VGGFeatures:
        super()._apply(fn, *args, **kwargs)
        self._vgg[0]._apply(fn, *args, **kwargs)
        return self

    @override
    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(
                "VGGFeatures expects (B, 3, H, W) RGB (or (B, 1, H, W)) input, "
                f"got {tuple(x.shape)}"
            )
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.normalize:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = {}
        for name, module in zip(self._names, self.vgg):
            x = module(x)
            if name in self.layers:
                out[name] = x
        return out


def _layer_weights(layers: str | Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    if isinstance(layers, str):
        return {layers: 1.0}
    if isinstance(layers, Mapping):
        return {str(k): float(v) for k, v in layers.items()}
    return {str(k): 1.0 for k in layers}


_CRITERIA = {"mse": F.mse_loss, "l1": F.l1_loss}


class PerceptualLoss(nn.Module):
    """Distance between VGG19 features of the prediction and of the target.

    ``sum_l w_l * criterion(phi_l(pred), phi_l(target))`` with the mean over elements.

    - SRGAN (``VGG54``): ``layers="relu5_4"``, ``criterion="mse"``; the paper rescales the loss
      by 1/12.75 (UNVERIFIED), which srlab's configs put in the term's weight.
    - ESRGAN: ``layers="conv5_4"`` (before the activation: sharper, denser features),
      ``criterion="l1"``.
    - EnhanceNet-P: ``layers={"pool2": ..., "pool5": ...}`` (UNVERIFIED), ``criterion="mse"``.

    Args:
        layers: one layer name, a list, or ``{name: weight}``.
        criterion: ``"mse"`` or ``"l1"``.
        vgg_weights: ``"imagenet"`` (torch hub cache), a file path, or ``"random"`` (tests).
        normalize: ImageNet mean/std normalisation of [0, 1] input.

    Example:
        >>> loss = PerceptualLoss("relu2_2", vgg_weights="random")
        >>> loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)).shape
        torch.Size([])
    """

    def __init__(
        self,
        layers: str | Sequence[str] | Mapping[str, float] = "relu5_4",
        criterion: str = "mse",
        vgg_weights: str | os.PathLike[str] = "imagenet",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        if criterion not in _CRITERIA:
            raise ValueError(
                f"PerceptualLoss: criterion must be one of {sorted(_CRITERIA)}, got {criterion!r}"
            )
        self.layer_weights = _layer_weights(layers)
        self.criterion = criterion
        self.features = VGGFeatures(list(self.layer_weights), vgg_weights, normalize)

    @override
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f"PerceptualLoss: pred {tuple(pred.shape)} != target {tuple(target.shape)}"
            )
        fp = self.features(pred)
        with torch.no_grad():
            ft = self.features(target.detach())
        crit = _CRITERIA[self.criterion]
        return torch.stack([w * crit(fp[n], ft[n]) for n, w in self.layer_weights.items()]).sum()


def gram_matrix(feat: Tensor) -> Tensor:
    """Gram matrix ``F F^T / (H W)`` of ``(B, C, H, W)`` features -> ``(B, C, C)``."""
    b, c, h, w = feat.shape
    f = feat.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def patch_gram_matrices(feat: Tensor, patch: int) -> Tensor:
    """Gram matrices of the non-overlapping ``patch x patch`` tiles of a feature map.

    A remainder at the right/bottom border is left out.

    Shape:
        ``(B, C, H, W) -> (B, N, C, C)`` with ``N = (H // patch) * (W // patch)``.
    """
    b, c, h, w = feat.shape
    if patch < 1 or h < patch or w < patch:
        raise ValueError(f"texture patches of {patch}x{patch} do not fit a {h}x{w} feature map")
    tiles = F.unfold(feat, kernel_size=patch, stride=patch)  # (B, C*p*p, N)
    n = tiles.shape[-1]
    tiles = tiles.reshape(b, c, patch * patch, n).permute(0, 3, 1, 2)  # (B, N, C, p*p)
    return tiles @ tiles.transpose(-1, -2) / (patch * patch)


class TextureLoss(nn.Module):
    """EnhanceNet's texture loss: Gram matrices of VGG features matched patch by patch.

    The image is cut into non-overlapping ``patch_size x patch_size`` tiles (16 px in the paper),
    and the Gram matrices of the VGG features of each tile are matched between prediction and
    target (squared error, mean over the Gram entries, tiles and batch), which makes textures
    locally similar rather than only globally as in a style loss. At a layer of stride ``s`` a tile
    covers ``patch_size // s`` feature pixels. The Gram normalisation (by the tile's pixel count)
    is srlab's; the paper's weights assume its own, so its weights do not transfer as numbers.

    The paper uses conv1.1, conv2.1 and conv3.1 (UNVERIFIED); srlab's default takes them after
    the ReLU (``relu1_1``...), as TensorFlow VGG ports name their rectified outputs.

    Args:
        layers: one name, a list, or ``{name: weight}``.
        patch_size: tile side in image pixels (16).
        vgg_weights: ``"imagenet"`` (torch hub cache), a file path, or ``"random"`` (tests).
        normalize: ImageNet mean/std normalisation of [0, 1] input.
    """

    def __init__(
        self,
        layers: str | Sequence[str] | Mapping[str, float] = ("relu1_1", "relu2_1", "relu3_1"),
        patch_size: int = 16,
        vgg_weights: str | os.PathLike[str] = "imagenet",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.layer_weights = _layer_weights(layers)
        bad = [
            n
            for n in self.layer_weights
            if n in vgg19_layer_names() and patch_size % _layer_stride(n)
        ]
        if patch_size < 1 or bad:
            raise ValueError(
                f"TextureLoss: patch_size={patch_size} must be a positive multiple of the stride "
                f"of layers {bad}"
            )
        self.patch_size = int(patch_size)
        self.features = VGGFeatures(list(self.layer_weights), vgg_weights, normalize)

    @override
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f"TextureLoss: pred {tuple(pred.shape)} != target {tuple(target.shape)}"
            )
        if min(pred.shape[-2:]) < self.patch_size:
            raise ValueError(
                f"TextureLoss: {self.patch_size}x{self.patch_size} patches do not fit "
                f"{tuple(pred.shape[-2:])} images"
            )
        fp = self.features(pred)
        with torch.no_grad():
            ft = self.features(target.detach())
        terms = []
        for name, w in self.layer_weights.items():
            p = self.patch_size // _layer_stride(name)
            terms.append(
                w * F.mse_loss(patch_gram_matrices(fp[name], p), patch_gram_matrices(ft[name], p))
            )
        return torch.stack(terms).sum()
