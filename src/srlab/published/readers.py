"""Reading PyTorch and safetensors files safely.

- :func:`safe_torch_load`: ``torch.load(weights_only=True, map_location="cpu")`` with every failure
  (missing, a directory, empty, truncated, not a PyTorch file, a pickle that names code) turned
  into one sentence. Nothing is ever unpickled with ``weights_only=False``: a file whose pickle
  names a function (``os.system`` via ``__reduce__``, ...) is refused before anything runs.
- :func:`read_torch`: a ``.pt``/``.pth`` release -> :class:`RawRelease` (bare state dicts and the
  usual wrappers ``params_ema``/``params``/``state_dict``/``model``/``net``, nested once;
  ``module.`` prefixes of DataParallel removed; float32 CPU tensors).
- :func:`read_safetensors`: a ``.safetensors`` release -> :class:`RawRelease` (no pickle at all).

A Lightning/srlab training checkpoint saved under a ``.pt``/``.pth`` name is recognised and
raised as :class:`TrainingCheckpoint` (a :class:`ReleaseError` carrying the loaded checkpoint), so
that :func:`srlab.load_model` can route it to the srlab checkpoint path.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from .core import RawRelease, ReleaseError

__all__ = [
    "read_torch",
    "read_safetensors",
    "safe_torch_load",
    "checkpoint_safe_globals",
    "allowing",
    "is_training_checkpoint",
    "TrainingCheckpoint",
    "WRAPPER_KEYS",
]

#: keys under which releases nest their state dict, in order of preference (BasicSR stores both
#: ``params`` and ``params_ema``: the EMA weights are the published ones)
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net")
_PLAIN = (bool, int, float, str, type(None))


class TrainingCheckpoint(ReleaseError):
    """A Lightning/srlab training checkpoint given where a release was expected.

    Attributes:
        checkpoint: the checkpoint, already loaded safely (``weights_only=True``).
    """

    def __init__(self, path: str | os.PathLike[str], checkpoint: dict[str, Any]) -> None:
        super().__init__(
            f"{path} is a Lightning/srlab training checkpoint, not a published release: "
            "load it with srlab.load_model (srlab-upscale --ckpt, srlab-eval ckpt_path=)"
        )
        self.checkpoint = checkpoint


def checkpoint_safe_globals() -> list[Any]:
    """The few non-tensor types ``torch.load(weights_only=True)`` is allowed to rebuild.

    srlab's own checkpoints need none of them (they hold tensors, plain containers, numbers and
    strings, plus ``collections.OrderedDict``/``Counter``, which torch allows by default). A
    module built from the Python API with an OmegaConf ``net_spec`` (instead of ``srlab-train``,
    which passes plain containers) saves its hyper-parameters as OmegaConf containers, which
    pickle as the classes below; a path argument pickles as ``pathlib.PosixPath``. All are plain
    data holders: rebuilding them runs no code of the file's choosing, and none of them can call
    anything else (a global that is not in this list or torch's own is still refused).
    """
    import collections
    import pathlib
    import typing

    allowed: list[Any] = [
        typing.Any,  # OmegaConf metadata: ref/key/element type "Any"
        dict,
        list,
        int,  # OmegaConf metadata: object/key types (as types, e.g. "object_type: dict")
        collections.defaultdict,  # OmegaConf metadata flags
        pathlib.PosixPath,
    ]
    try:
        from omegaconf import DictConfig, ListConfig
        from omegaconf.base import ContainerMetadata, Metadata
        from omegaconf.nodes import AnyNode
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return allowed
    return [*allowed, DictConfig, ListConfig, ContainerMetadata, Metadata, AnyNode]


@contextlib.contextmanager
def allowing(types: list[Any]) -> Iterator[None]:
    """Context manager letting ``torch.load(weights_only=True)`` rebuild ``types``.

    ``torch.serialization.safe_globals(types)``; on torch < 2.5, ``add_safe_globals``, which
    stays in force after the block: the types are plain data holders either way.

    Args:
        types: the classes and objects to allow (nothing is changed when empty).
    """
    if not types:
        yield
        return
    ctx = getattr(torch.serialization, "safe_globals", None)
    if ctx is None:  # pragma: no cover - torch 2.4
        torch.serialization.add_safe_globals(types)
        yield
        return
    with ctx(types):
        yield


def _first_lines(exc: BaseException, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # torch's weights-only messages: the useful line is the one naming what was refused
    for ln in lines:
        if ln.startswith(
            (
                "Trying to load unsupported GLOBAL",
                "Unsupported global",
                "Unsupported operand",
                "Can only",
                "Trying to call reduce",
            )
        ):
            return ln[:limit]
    text = lines[0] if lines else type(exc).__name__
    text = text.split(". ")[0].rstrip(".")  # torch's advice after the first sentence is noise here
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise ReleaseError(f"{path} is a directory, not a {what} file")
    if not path.is_file():
        raise ReleaseError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise ReleaseError(f"cannot read {what} {path}: the file is empty (0 bytes)")


def safe_torch_load(
    path: str | os.PathLike[str], what: str = "model file", allow: list[Any] | None = None
) -> Any:
    """``torch.load(path, weights_only=True, map_location="cpu")``, failures as one sentence.

    Args:
        path: the file.
        what: how messages name the file (``"checkpoint"``, ``"model file"``).
        allow: extra types ``weights_only`` may rebuild (see :func:`checkpoint_safe_globals`).

    Raises:
        ReleaseError: the file is missing, a directory, empty, truncated, not a PyTorch file, or
            its pickle names something that is not tensor data (a file that would run code).
    """
    p = Path(path)
    _check_file(p, what)
    with open(p, "rb") as f:
        head = f.read(4)
    if not head.startswith((b"PK", b"\x80")):  # torch.save: a zip archive; legacy: a pickle
        raise ReleaseError(
            f"cannot read {what} {p}: it is not a PyTorch file "
            "(neither a torch.save zip archive nor a pickle)"
        )
    try:
        with allowing(allow or []), warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Detected pickle protocol"
            )  # plain pickle.dump files
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        line = _first_lines(e)
        m = re.search(r"GLOBAL ([\w.]+)", line)
        if m:
            raise ReleaseError(
                f"refusing to load {what} {p}: its pickle names {m.group(1)}, "
                "which is not tensor data "
                "(such a file runs code when unpickled; srlab only loads weights)"
            ) from None
        raise ReleaseError(
            f"refusing to load {what} {p}: its pickle is corrupt or holds more than tensors "
            f"and plain containers ({line})"
        ) from None
    except (EOFError, zipfile.BadZipFile) as e:
        raise ReleaseError(
            f"cannot read {what} {p}: the file is truncated or corrupt ({_first_lines(e)})"
        ) from None
    except RuntimeError as e:
        line = _first_lines(e)
        if "legacy .tar format" in line:
            raise ReleaseError(
                f"cannot read {what} {p}: it is in PyTorch's legacy .tar format, "
                "which cannot be loaded as weights only; re-save it with a recent torch.save"
            ) from None
        if any(
            s in line for s in ("central directory", "EOF", "corrupt", "truncated", "zip archive")
        ):
            raise ReleaseError(
                f"cannot read {what} {p}: the file is truncated or corrupt ({line})"
            ) from None
        raise ReleaseError(f"cannot read {what} {p}: {line}") from None
    except Exception as e:  # noqa: BLE001 - whatever else torch.load raises, the file is at fault
        raise ReleaseError(
            f"cannot read {what} {p}: {type(e).__name__}: {_first_lines(e)}"
        ) from None


def is_training_checkpoint(obj: Any) -> bool:
    """A Lightning (or srlab) training checkpoint: ``state_dict`` plus Lightning's/srlab's keys."""
    return (
        isinstance(obj, Mapping)
        and isinstance(obj.get("state_dict"), Mapping)
        and ("pytorch-lightning_version" in obj or "srlab" in obj)
    )


def _has_tensors(obj: Mapping[Any, Any]) -> bool:
    return any(isinstance(v, torch.Tensor) for v in obj.values())


def _to_float32(name: str, t: torch.Tensor, path: Path) -> torch.Tensor:
    if t.is_complex() or t.is_quantized or t.layout != torch.strided:
        raise ReleaseError(
            f"{path}: tensor {name!r} is {t.dtype}/{t.layout}, not a plain real-valued tensor"
        )
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous()


def _strip_module(name: str) -> str:
    while name.startswith("module."):
        name = name[len("module.") :]
    return name


def tensors_from_state(
    state: Mapping[Any, Any], path: Path, fmt: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split a flat state dict into float32 CPU tensors and plain metadata entries.

    Args:
        state: the state dict as the file holds it.
        path: the file (for messages).
        fmt: how messages name the format (``"PyTorch"``, ``"safetensors"``).

    Returns:
        the tensors by name (``module.`` prefixes removed) and the plain entries (numbers,
        strings, ``None``) by key.

    Raises:
        ReleaseError: a key is not a string, two names collide once ``module.`` is removed, an
            entry is neither a tensor nor plain, or there is no tensor at all.
    """
    tensors: dict[str, torch.Tensor] = {}
    extra: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise ReleaseError(f"{path}: state dict key {key!r} is not a string")
        if isinstance(value, torch.Tensor):
            name = _strip_module(key)
            if name in tensors:
                raise ReleaseError(
                    f"{path}: tensors {origin[name]!r} and {key!r} both become {name!r} "
                    "once 'module.' is removed"
                )
            tensors[name] = _to_float32(key, value, path)
            origin[name] = key
        elif isinstance(value, _PLAIN):
            extra[key] = value
        else:
            raise ReleaseError(
                f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor; "
                f"srlab reads flat {fmt} state dicts "
                f"(optionally under one of {', '.join(WRAPPER_KEYS)})"
            )
    if not tensors:
        raise ReleaseError(f"{path}: the file holds no tensors")
    return tensors, extra


def _unwrap(obj: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """Descend through wrapper keys (at most two levels: a wrapper, nested once)."""
    trail: list[str] = []
    ignored: list[str] = []
    for _ in range(2):
        if not isinstance(obj, Mapping) or _has_tensors(obj):
            break
        key = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if key is None:
            break
        ignored += [".".join([*trail, str(k)]) for k in obj if k != key]
        trail.append(key)
        obj = obj[key]
    return obj, trail, ignored


def read_torch(path: str | os.PathLike[str]) -> RawRelease:
    """Read a PyTorch release (``.pt``/``.pth``) safely, with ``weights_only=True``.

    Accepts a bare state dict or one under the usual wrapper keys (``params_ema`` preferred to
    ``params``, then ``state_dict``, ``model``, ``net``; a wrapper nested once inside another is
    unwrapped too; the wrapper's siblings, e.g. ``optimizer``, are ignored and listed in
    ``meta["ignored_keys"]``). DataParallel's ``module.`` prefixes are removed; tensors become
    float32 CPU tensors; plain entries (numbers, strings) of the state dict go to
    ``meta["extra"]``; ``meta["wrapper"]`` is the unwrapped key path (``"params_ema"``,
    ``"state_dict.model"``) or ``None``.

    Args:
        path: the release file.

    Returns:
        the file's tensors as a :class:`RawRelease` of format ``"pytorch"``.

    Raises:
        TrainingCheckpoint: the file is a Lightning/srlab training checkpoint.
        ReleaseError: the file cannot be read safely, or holds no flat state dict.
    """
    p = Path(path)
    obj = safe_torch_load(p, "model file", allow=checkpoint_safe_globals())
    if is_training_checkpoint(obj):
        raise TrainingCheckpoint(p, dict(obj))
    if not isinstance(obj, Mapping):
        raise ReleaseError(f"{p} holds a {type(obj).__name__}, not a state dict of tensors")
    state, trail, ignored = _unwrap(obj, p)
    if not isinstance(state, Mapping):
        raise ReleaseError(
            f"{p}: {'.'.join(trail)} holds a {type(state).__name__}, not a state dict of tensors"
        )
    if not _has_tensors(state):
        keys = ", ".join(repr(k) for k in list(state)[:6]) or "nothing"
        raise ReleaseError(
            f"{p} holds no state dict of tensors (found keys {keys}; "
            "srlab looks for tensors at the top level or under one of {', '.join(WRAPPER_KEYS)})"
        )
    tensors, extra = tensors_from_state(state, p, "PyTorch")
    meta: dict[str, Any] = {
        "wrapper": ".".join(trail) or None,
        "ignored_keys": ignored,
        "extra": extra,
    }
    return RawRelease(path=str(p), format="pytorch", tensors=tensors, meta=meta)


def read_safetensors(path: str | os.PathLike[str]) -> RawRelease:
    """Read a ``.safetensors`` release (no pickle involved).

    Tensors become float32 CPU tensors with ``module.`` prefixes removed; the file's header
    metadata goes to ``meta["metadata"]``.

    Args:
        path: the release file.

    Returns:
        the file's tensors as a :class:`RawRelease` of format ``"safetensors"``.

    Raises:
        ReleaseError: the file is missing, a directory, empty, truncated or not a safetensors
            file.
    """
    from safetensors import safe_open

    p = Path(path)
    _check_file(p, "model file")
    raw: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            header = dict(f.metadata() or {})
            names = f.keys()  # a safe_open handle, not a dict: it is not iterable itself
            for key in names:
                raw[key] = f.get_tensor(key)
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError...: the file is at fault
        raise ReleaseError(
            f"cannot read model file {p}: not a valid safetensors file, "
            f"or truncated ({_first_lines(e)})"
        ) from None
    tensors, _ = tensors_from_state(raw, p, "safetensors")
    return RawRelease(
        path=str(p),
        format="safetensors",
        tensors=tensors,
        meta={"metadata": header, "wrapper": None},
    )
