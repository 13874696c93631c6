"""Super-resolution networks: plain ``nn.Module``s with keyword arguments (torch only).

Every module of this package is searched for networks: a public subclass of
:class:`~srlab.archs.base.SRNet` (or of :class:`~srlab.archs.discriminators.Discriminator`) with
a constructor of its own, defined in a module ``srlab/archs/<file>.py``, is a network that
configs (``_target_: srlab.archs.<Class>``) and checkpoints may name (:func:`networks`). A new
network is therefore one new file here plus one YAML in ``conf/model/net/``; this file needs no
edit (the imports below only spell out the built-in networks for type checkers and IDEs). See
``docs/adding-a-network.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from torch import nn

from .base import SRNet, check_scale
from .blocks import MeanShift, ResidualBlockNoBN, Upsampler
from .btsrn import BTSRN
from .carn import CARN, CARNM
from .cmsc import CMSC
from .discriminators import Discriminator, SRGANDiscriminator, VGGDiscriminator
from .drcn import DRCN
from .drrn import DRRN
from .edsr import EDSR, MDSR
from .enhancenet import EnhanceNet
from .espcn import ESPCN
from .fsrcnn import FSRCNN
from .idn import IDN
from .lapsrn import LapSRN, MSLapSRN
from .rcan import RCAN
from .rrdbnet import RRDBNet
from .selnet import SelNet
from .srcnn import SRCNN
from .srresnet import SRResNet
from .vdsr import VDSR

__all__ = [
    "SRNet",
    "Discriminator",
    "networks",
    "check_scale",
    "MeanShift",
    "ResidualBlockNoBN",
    "Upsampler",
    "VDSR",
    "FSRCNN",
    "EDSR",
    "MDSR",
    "CARN",
    "CARNM",
    "ESPCN",
    "SRCNN",
    "SRResNet",
    "EnhanceNet",
    "RRDBNet",
    "SRGANDiscriminator",
    "VGGDiscriminator",
    "BTSRN",
    "DRCN",
    "DRRN",
    "LapSRN",
    "MSLapSRN",
    "CMSC",
    "IDN",
    "SelNet",
    "RCAN",
]


def _is_network(obj: Any, module: str) -> bool:
    """Whether ``obj`` is a public network or discriminator class defined in ``module``.

    It must build layers: a skeleton that inherits the bare base constructor (such as
    :class:`~srlab.archs.blocks.MeanShiftedResNet`) is not a network.
    """
    if not isinstance(obj, type) or obj.__module__ != module or obj.__name__.startswith("_"):
        return False
    return any(
        issubclass(obj, base) and obj.__init__ is not base.__init__
        for base in (SRNet, Discriminator)
    )


def networks() -> dict[str, type[nn.Module]]:
    """``{class name: class}`` of every network and discriminator of srlab.

    Walks the modules of this package (``srlab.archs.__path__``; nothing else is imported) and
    keeps, from each, the classes :func:`_is_network` accepts, in module order. Nothing is
    cached, so a module added to the package (or to ``__path__``) is found by the next call.

    Raises:
        ImportError: a module of the package fails to import, or two networks share a class name
            (configs name them ``srlab.archs.<Class>``, which must be unambiguous).
    """
    found: dict[str, type[nn.Module]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.isidentifier() or info.ispkg:
            continue
        module_name = f"{__name__}.{info.name}"
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if not _is_network(obj, module_name) or name != obj.__name__:
                continue
            other = found.get(name) or globals().get(name)
            if other is not None and other is not obj:
                raise ImportError(
                    f"two classes are named {name}: {other.__module__}.{name} and "
                    f"{module_name}.{name}; configs name a network srlab.archs.{name}, so rename "
                    "one of them"
                )
            found[name] = obj
    return found


_looking_up = False


def __getattr__(name: str) -> Any:
    """``srlab.archs.<Class>`` for a network defined in any module of the package (PEP 562).

    Makes ``_target_: srlab.archs.<Class>`` and ``from srlab.archs import <Class>`` work for a
    network file that the imports above do not name.
    """
    global _looking_up
    if name.startswith("__") or _looking_up:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _looking_up = True
    try:
        cls = networks().get(name)
    finally:
        _looking_up = False
    if cls is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return cls
