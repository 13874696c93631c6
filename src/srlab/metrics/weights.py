"""Where pretrained network weights come from: one rule for every metric and loss that needs them.

torchvision ImageNet backbones (VGG19 for the perceptual/texture losses, VGG16 or AlexNet for
LPIPS, VGG16 for DISTS) are looked up in this order:

1. a file named in the config (``vgg_weights=/path/to/vgg19-dcbb9e9d.pth``,
   ``metric_weights.lpips_vgg=...``): used as is, an error if it does not exist;
2. the torch hub cache, where torchvision itself keeps them:
   ``torch.hub.get_dir()/checkpoints/<file name>`` (``$TORCH_HOME/hub/checkpoints``, by default
   ``~/.cache/torch/hub/checkpoints``);
3. otherwise they are downloaded there from ``download.pytorch.org`` the standard torchvision way
   (``torch.hub.download_url_to_file``), unless downloads are off (``download=False`` or the
   environment variable ``SRLAB_OFFLINE=1``); when that is impossible (offline machine) the error
   is one sentence naming the file to place and where.

The small learned heads (LPIPS's linear layers, DISTS's alpha/beta) ship inside torchmetrics'
wheel and need nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from ..errors import SRLabError

__all__ = ["hub_checkpoint_path", "resolve_weights", "downloads_allowed", "load_state_dict"]


def hub_checkpoint_path(url: str) -> Path:
    """Where torchvision keeps the weights downloaded from ``url``: the torch hub cache.

    That is ``$TORCH_HOME/hub/checkpoints/<file name>``, or ``torch.hub.set_dir()``'s folder.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def downloads_allowed() -> bool:
    """False when ``SRLAB_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("SRLAB_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on")


def resolve_weights(
    url: str,
    path: str | os.PathLike[str] | None = None,
    *,
    what: str = "weights",
    config_hint: str | None = None,
    download: bool = True,
) -> Path:
    """The local file holding the weights published at ``url`` (see the module doc for the order).

    Args:
        url: the torchvision URL (its file name is the name in the hub cache).
        path: a file named in the config; ``None``: the hub cache.
        what: what the weights are, for messages (``"VGG19 ImageNet weights"``).
        config_hint: the config key that takes a path, for the message
            (``"loss.terms.percep.vgg_weights"``).
        download: allow fetching a missing file (also needs ``SRLAB_OFFLINE`` unset).

    Returns:
        An existing file.

    Raises:
        SRLabError: the named file does not exist, or the weights are missing and cannot be fetched.
    """
    name = os.path.basename(url)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            key = f" ({config_hint})" if config_hint else ""
            raise SRLabError(
                f"{what} file not found: {p}{key}; it should be a copy of {name} from {url}"
            )
        return p
    cached = hub_checkpoint_path(url)
    if cached.is_file():
        return cached
    hint = f", or set {config_hint}=/path/to/{name}" if config_hint else ""
    if download and downloads_allowed():
        cached.parent.mkdir(parents=True, exist_ok=True)
        print(f"srlab: downloading {what} {url} to {cached}", file=sys.stderr)
        try:
            torch.hub.download_url_to_file(url, str(cached), progress=sys.stderr.isatty())
        except Exception as e:  # noqa: BLE001 - offline, proxy, disk: all end in the same advice
            raise SRLabError(
                f"{what} not found and could not be downloaded ({type(e).__name__}: {e}): "
                f"place {name} (from {url}) at {cached}{hint}"
            ) from None
        return cached
    raise SRLabError(
        f"{what} not found: place {name} (from {url}) at {cached}{hint} (downloads are off)"
    )


def load_state_dict(file: str | os.PathLike[str], what: str = "weights") -> dict[str, torch.Tensor]:
    """``torch.load`` of a state dict (``weights_only``), with a one-line error for a bad file."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise SRLabError(f"cannot read {what} {file}: {e}") from None
    if not isinstance(state, dict):
        raise SRLabError(f"{file} does not hold a state dict ({what})")
    return state
