"""Published models: run the released weights of the classic SR networks as srlab networks.

``load_release(path, net=None)`` reads a release file (PyTorch ``.pt``/``.pth``, ``.safetensors``,
MatConvNet ``.mat``, Caffe ``.caffemodel``), recognises the architecture and its hyper-parameters
from the tensor names and shapes, folds range/layout conversions into the weights and returns a
:class:`Release` holding an ordinary srlab network in [0, 1]. Nothing is unpickled beyond plain
tensors and containers, and nothing a file names is imported or called.

See :mod:`srlab.published.core` for the package layout and the recogniser contract.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from .core import RECOGNISERS, RawRelease, Release, ReleaseError, TensorLedger, recogniser

__all__ = [
    "RawRelease",
    "Release",
    "ReleaseError",
    "TensorLedger",
    "recogniser",
    "load_release",
    "read_release",
    "known_archs",
    "resolve_arch",
    "RELEASE_SUFFIXES",
]

#: file suffix -> (module of this package with the reader, reader function name)
_READERS = {
    ".pt": ("readers", "read_torch"),
    ".pth": ("readers", "read_torch"),
    ".safetensors": ("readers", "read_safetensors"),
    ".mat": ("matconvnet", "read_mat"),
    ".caffemodel": ("caffe", "read_caffemodel"),
}
RELEASE_SUFFIXES = tuple(_READERS)
#: modules whose import registers recognisers
_RECOGNISER_MODULES = ("torch_nets", "matconvnet", "caffe")


def _load_recognisers() -> None:
    for mod in _RECOGNISER_MODULES:
        try:
            importlib.import_module(f".{mod}", __name__)
        except ModuleNotFoundError as e:  # a module not written yet must not break the others
            if e.name != f"{__name__}.{mod}":
                raise


def known_archs() -> list[str]:
    """The architecture names ``net=`` / ``--net`` accepts.

    Any spelling that :func:`resolve_arch` folds onto one of them works too.
    """
    _load_recognisers()
    return sorted({e.arch for e in RECOGNISERS})


def _folded(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def resolve_arch(name: str) -> str:
    """The registered architecture a user-written ``--net``/``net=`` name means.

    Names are compared case-insensitively with ``-`` and ``_`` ignored, so ``ms_lapsrn``,
    ``MS-LapSRN`` and ``mslapsrn`` all name ``mslapsrn``, and ``CARN-M`` names ``carn_m``.

    Raises:
        ReleaseError: no architecture has that name (the message lists the known ones).

    Example:
        >>> resolve_arch("MS-LapSRN"), resolve_arch("CARN-M")
        ('mslapsrn', 'carn_m')
    """
    by_folded = {_folded(a): a for a in known_archs()}
    arch = by_folded.get(_folded(str(name)))
    if arch is None:
        raise ReleaseError(f"unknown architecture {name!r}; known: {', '.join(known_archs())}")
    return arch


def read_release(path: str | os.PathLike[str]) -> RawRelease:
    """Read a release file into a :class:`RawRelease` (format chosen by the suffix)."""
    p = Path(path)
    if p.is_dir():
        raise ReleaseError(f"{p} is a directory, not a model file")
    if not p.is_file():
        raise ReleaseError(f"model file not found: {p}")
    reader = _READERS.get(p.suffix.lower())
    if reader is None:
        raise ReleaseError(
            f"{p}: unknown model file type {p.suffix!r}; srlab reads "
            f"{', '.join(RELEASE_SUFFIXES)} release files and .ckpt checkpoints"
        )
    module = importlib.import_module(f".{reader[0]}", __name__)
    return getattr(module, reader[1])(p)


def load_release(path: str | os.PathLike[str], net: str | None = None) -> Release:
    """Load a published model file as an srlab network.

    Args:
        path: the release file.
        net: force one architecture (a name of :func:`known_archs`, spelt in any case and with or
            without ``-``/``_``, see :func:`resolve_arch`) when a file is ambiguous.

    Returns:
        the :class:`Release` (network in eval mode, its spec, what it was recognised as).

    Raises:
        ReleaseError: the file cannot be read, or no architecture recognises it (the message
            names what was found in the file and which architectures were tried).
    """
    if net is not None:
        net = resolve_arch(net)
    raw = read_release(path)
    _load_recognisers()
    tried: list[str] = []
    for entry in RECOGNISERS:
        if raw.format not in entry.formats or (net is not None and entry.arch != net):
            continue
        tried.append(entry.arch)
        found = entry.fn(raw)
        if found is not None:
            return found
    if net is not None and not tried:
        formats = sorted({f for e in RECOGNISERS if e.arch == net for f in e.formats})
        raise ReleaseError(
            f"{path}: the {net} importer reads {', '.join(formats)} files, not {raw.format} ones"
        )
    names = ", ".join(dict.fromkeys(tried)) or "none for this format"
    raise ReleaseError(
        f"{path}: not a recognised {raw.format} release: found {raw.describe()}; tried {names}"
    )
