"""Reusing checkpoints and published release files.

Rebuild a model from a checkpoint alone, or initialise a new run's network from another run's
weights (e.g. x2 weights for an x4 run).

Loading is safe: files are read with ``torch.load(weights_only=True)`` (plus the few plain data
types of :func:`srlab.published.readers.checkpoint_safe_globals`), so a crafted file cannot run
code when opened, and the network description a checkpoint carries may only name one of srlab's
own networks (:func:`srlab.utils.check_spec`), checked before anything is built. The same entry
points also take the published release files of :mod:`srlab.published` (``.pth``, ``.pt``,
``.safetensors``, ``.mat``, ``.caffemodel``).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..errors import SRLabError
from ..utils import build_from_spec, check_spec, upgrade_spec
from .sr_module import SRModule

if TYPE_CHECKING:
    from ..published import Release

__all__ = [
    "read_checkpoint",
    "load_model",
    "load_net_weights",
    "net_state_dict",
    "is_release_file",
    "safe_checkpoint_loading",
    "safe_fit",
]


def is_release_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a published model file rather than a ``.ckpt`` of srlab-train.

    Decided by the suffix alone (:data:`srlab.published.RELEASE_SUFFIXES`); the file is not read.
    """
    from ..published import RELEASE_SUFFIXES

    return Path(path).suffix.lower() in RELEASE_SUFFIXES


def _plain(obj: Any) -> Any:
    """OmegaConf containers (old or API-built checkpoints) as plain dicts/lists."""
    try:
        from omegaconf import Container, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return obj
    if isinstance(obj, Container):
        try:
            return OmegaConf.to_container(obj, resolve=True)
        except Exception:  # noqa: BLE001 - an interpolation that no longer resolves: keep it as text
            return OmegaConf.to_container(obj, resolve=False)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return (
            type(obj)(_plain(v) for v in obj)
            if isinstance(obj, list)
            else tuple(_plain(v) for v in obj)
        )
    return obj


def _check_specs(ckpt: dict[str, Any], path: Path) -> None:
    """Check that the generator's network description names an srlab network.

    Nothing is built here: resume and init_from never build it, but they must not pass a
    foreign one on. The discriminator's description is never rebuilt from a checkpoint;
    :func:`build_from_spec` refuses a foreign one if anything ever tries.
    """
    meta = ckpt.get("srlab")
    hp = ckpt.get("hyper_parameters")
    found = []
    if isinstance(meta, dict):
        found.append(("srlab.net", meta.get("net")))
    if isinstance(hp, dict):
        found.append(("hyper_parameters.net_spec", hp.get("net_spec")))
    for where, spec in found:
        if spec:
            check_spec(spec, f"{path}: the network description ({where})")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load an srlab/Lightning checkpoint on the CPU, safely.

    The file is read with ``torch.load(weights_only=True)``; its hyper-parameters and srlab
    metadata come back as plain containers, and every network description in it must name an
    srlab network (checked, not built). A missing, corrupt, foreign or unsafe file gets a clear
    error.

    Args:
        path: the ``.ckpt`` file.

    Returns:
        the checkpoint dictionary (``state_dict``, ``hyper_parameters``, ``srlab``, ...).

    Raises:
        SRLabError: one sentence naming the file's problem.
    """
    from ..published.readers import checkpoint_safe_globals, safe_torch_load

    path = Path(path)
    if not path.exists():
        raise SRLabError(f"checkpoint not found: {path}")
    ckpt = safe_torch_load(path, "checkpoint", allow=checkpoint_safe_globals())
    return _validated(ckpt, path)


def _validated(ckpt: Any, path: Path) -> dict[str, Any]:
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SRLabError(f"{path} is not a Lightning checkpoint (no state_dict)")
    if not isinstance(ckpt["state_dict"], dict):
        raise SRLabError(
            f"{path}: its state_dict is a {type(ckpt['state_dict']).__name__}, "
            "not a mapping of tensors"
        )
    for key in ("srlab", "hyper_parameters", "datamodule_hyper_parameters"):
        if key in ckpt:
            ckpt[key] = _plain(ckpt[key])
    _check_specs(ckpt, path)
    return ckpt


def net_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The generator's weights from a module checkpoint (keys ``net.*``, prefix removed)."""
    return {k[4:]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}


def _release_or_checkpoint(path: Path, net: str | None) -> Release | dict[str, Any]:
    """The :class:`~srlab.published.Release` a release file holds, or an srlab checkpoint.

    An srlab checkpoint saved under a release suffix (``.pt``/``.pth``) is recognised too and
    comes back as the checkpoint dictionary.
    """
    if not is_release_file(path):
        return read_checkpoint(path)
    from ..published import load_release
    from ..published.readers import TrainingCheckpoint

    try:
        return load_release(path, net)
    except TrainingCheckpoint as found:
        return _validated(found.checkpoint, path)


def _module_from_checkpoint(ckpt: dict[str, Any], path: Path) -> SRModule:
    meta = ckpt.get("srlab") or {}
    spec = meta.get("net") if isinstance(meta, dict) else None
    if not spec:
        raise SRLabError(f"{path} has no srlab network description; was it written by srlab-train?")
    cls = check_spec(spec, f"{path}: the network description")
    try:
        spec = upgrade_spec(spec, cls)  # argument names renamed since the file was written
    except SRLabError as e:
        raise SRLabError(f"{path}: {e}") from None
    try:
        net = build_from_spec(spec)
    except (TypeError, ValueError) as e:
        raise SRLabError(
            f"{path}: cannot build {cls.__name__} from its network description: {e}"
        ) from None
    hp = ckpt.get("hyper_parameters") or {}
    model = SRModule(
        net,
        net_spec=spec,
        crop_border=hp.get("crop_border"),
        metric_y_channel=hp.get("metric_y_channel", True),
    )
    try:
        model.net.load_state_dict(net_state_dict(ckpt))
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise SRLabError(
            f"{path}: the weights do not fit its network {cls.__name__} "
            f"({lines[1] if len(lines) > 1 else lines[0]})"
        ) from None
    return model


def _module_from_release(release: Release) -> SRModule:
    """The paper's protocol for a published network: Y-channel metrics, border crop = scale."""
    model = SRModule(release.net, net_spec=release.spec, crop_border=None, metric_y_channel=True)
    model.release_info = {"name": release.name, "arch": release.arch, "notes": list(release.notes)}
    return model


def load_model(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu", net: str | None = None
) -> SRModule:
    """Rebuild an :class:`SRModule` (network + protocol, no loss/optimizer), in eval mode.

    The source is a checkpoint of srlab-train or a published release file.

    Args:
        path: an srlab ``.ckpt``, or a release (``.pth``, ``.pt``, ``.safetensors``, ``.mat``,
            ``.caffemodel``; see :mod:`srlab.published`), whose architecture is recognised from
            its tensors.
        map_location: the device of the returned model.
        net: for a release file, force one architecture (a name of
            :func:`srlab.published.known_archs`) when the file is ambiguous; ignored for an srlab
            checkpoint, which names its network itself.

    Returns:
        the model on ``map_location``, in eval mode; one built from a release carries
        ``release_info`` (``name``, ``arch``, ``notes``: what the file was recognised as).

    Raises:
        SRLabError: one sentence naming the file's problem (a :class:`srlab.published.ReleaseError`
            for a release that no architecture recognises, naming what was found and tried).

    Example:
        ``model = srlab.load_model("outputs/.../checkpoints/best.ckpt")``
    """
    path = Path(path)
    source = _release_or_checkpoint(path, net)
    model = (
        _module_from_checkpoint(source, path)
        if isinstance(source, dict)
        else _module_from_release(source)
    )
    return model.to(map_location).eval()


def load_net_weights(
    net: nn.Module, path: str | os.PathLike[str], release_net: str | None = None
) -> tuple[list[str], list[str]]:
    """Initialise ``net`` from the generator weights of a checkpoint or a release file.

    Weights only. Tensors whose name or shape does not match (e.g. the x2 upsampler tail in an
    x4 network) are skipped with a warning.

    Args:
        net: the network to initialise (in place).
        path: an srlab ``.ckpt`` or a published release file (see :func:`load_model`); a release
            is recognised and converted to its srlab network first, whose weights are copied.
        release_net: for a release, force its architecture (``init_from_net=`` of srlab-train).

    Returns:
        ``(loaded, skipped)``: the names of the tensors copied and of those that did not fit.

    Raises:
        SRLabError: the file holds no generator weights, or none of them fits ``net``.
    """
    path = Path(path)
    found = _release_or_checkpoint(path, release_net)
    if isinstance(found, dict):
        source = net_state_dict(found)
    else:
        source = {k: v.detach().clone() for k, v in found.net.state_dict().items()}
    if not source:
        raise SRLabError(f"{path} holds no generator weights (no 'net.*' tensors)")
    target = net.state_dict()
    loaded, skipped = [], []
    new_state = {}
    for name, value in source.items():
        if name in target and target[name].shape == value.shape:
            new_state[name] = value
            loaded.append(name)
        else:
            skipped.append(name)
    missing = [n for n in target if n not in new_state]
    net.load_state_dict(new_state, strict=False)
    if not loaded:
        raise SRLabError(f"no tensor of {path} fits this network: is it the same architecture?")
    if skipped or missing:
        warnings.warn(
            f"init from {path}: loaded {len(loaded)} tensors; skipped {len(skipped)} that do "
            f"not fit ({', '.join(skipped[:6])}{'...' if len(skipped) > 6 else ''}); "
            f"{len(missing)} left at their initial values "
            f"({', '.join(missing[:6])}{'...' if len(missing) > 6 else ''})",
            stacklevel=2,
        )
    return loaded, skipped


@contextlib.contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` read srlab checkpoints while active.

    Inside the context it also accepts the plain data types of
    :func:`srlab.published.readers.checkpoint_safe_globals` (for Lightning's own loading).
    """
    from ..published.readers import allowing, checkpoint_safe_globals

    with allowing(checkpoint_safe_globals()):
        yield


def safe_fit(
    trainer: Any,
    model: Any,
    datamodule: Any = None,
    ckpt_path: str | os.PathLike[str] | None = None,
) -> None:
    """``trainer.fit(model, datamodule=..., ckpt_path=...)``, resuming safely.

    A resume checkpoint is first read with :func:`read_checkpoint` (weights only; network
    descriptions checked), so a crafted file is refused with one sentence before Lightning sees
    it; Lightning then loads it with ``weights_only=True`` too (explicitly, whatever its default).
    """
    if ckpt_path is not None:
        p = Path(ckpt_path)
        if is_release_file(p) and p.suffix.lower() not in (".pt", ".pth"):
            raise SRLabError(
                f"ckpt_path={p} is a published model file: resuming needs a checkpoint of "
                "srlab-train (use init_from= to start a run from a release's weights)"
            )
        from ..published.readers import checkpoint_safe_globals, safe_torch_load

        if not p.exists():
            raise SRLabError(f"checkpoint not found: {p}")
        ckpt = safe_torch_load(p, "checkpoint", allow=checkpoint_safe_globals())
        if not (
            isinstance(ckpt, dict)
            and "state_dict" in ckpt
            and "optimizer_states" in ckpt
            and "loops" in ckpt
        ):
            raise SRLabError(
                f"ckpt_path={p} is not a training checkpoint of srlab-train (no optimizer and loop "
                "state to resume from); use init_from= to start a new run from its weights"
            )
        _validated(ckpt, p)  # its network description names an srlab network
        del ckpt
    kwargs: dict[str, Any] = {"datamodule": datamodule, "ckpt_path": ckpt_path}
    if "weights_only" in inspect.signature(trainer.fit).parameters:
        kwargs["weights_only"] = True
    with safe_checkpoint_loading():
        trainer.fit(model, **kwargs)
