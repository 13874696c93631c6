"""Which classes are networks: every public SRNet/Discriminator subclass with a constructor of its
own, defined in a module of ``srlab.archs`` (found by walking the package, no registry)."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

import srlab.archs
from srlab.archs import SRNet, networks
from srlab.archs.blocks import MeanShiftedResNet
from srlab.errors import SRLabError
from srlab.utils import build_from_spec, network_classes

BUILT_IN = {
    "BTSRN",
    "CARN",
    "CARNM",
    "CMSC",
    "DRCN",
    "DRRN",
    "EDSR",
    "ESPCN",
    "EnhanceNet",
    "FSRCNN",
    "IDN",
    "LapSRN",
    "MDSR",
    "MSLapSRN",
    "RCAN",
    "RRDBNet",
    "SRCNN",
    "SRResNet",
    "SelNet",
    "VDSR",
    "SRGANDiscriminator",
    "VGGDiscriminator",
}

PROBE = '''
from torch import nn

from .base import SRNet
from .discriminators import Discriminator
from .edsr import EDSR  # imported, not defined here: it stays srlab.archs.edsr.EDSR


class _PrivateNet(SRNet):
    def __init__(self, scale: int = 2, in_channels: int = 1) -> None:
        super().__init__(scale, in_channels)


class Skeleton(SRNet):
    """No constructor of its own: builds no layers, not a network."""


class ProbeNet(SRNet):
    def __init__(self, scale: int = 2, in_channels: int = 1, num_feat: int = 4) -> None:
        super().__init__(scale, in_channels)
        self.body = nn.Conv2d(in_channels, in_channels * scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return self.shuffle(self.body(x))


class ProbeDisc(Discriminator):
    def __init__(self, input_size: int = 16, in_channels: int = 3) -> None:
        super().__init__(input_size, in_channels)


Alias = ProbeNet
'''


@pytest.fixture
def extra_module(tmp_path, monkeypatch):
    """``extra_module(name, source)``: a module of ``srlab.archs`` in a folder added to its path."""
    added: list[str] = []
    monkeypatch.setattr(srlab.archs, "__path__", [*srlab.archs.__path__, str(tmp_path)])

    def _add(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        importlib.invalidate_caches()
        added.append(f"srlab.archs.{name}")

    yield _add
    for mod in added:
        sys.modules.pop(mod, None)


def test_the_built_in_networks_and_nothing_else():
    found = networks()
    assert set(found) == BUILT_IN
    assert all(getattr(srlab.archs, name) is cls for name, cls in found.items())
    table = network_classes()
    for cls in (SRNet, MeanShiftedResNet):
        assert cls not in table.values()
    assert not any("_PyramidNet" in key for key in table)


def test_a_module_added_to_the_package_is_searched(extra_module):
    extra_module("probe_nets", PROBE)
    found = networks()
    assert set(found) == BUILT_IN | {"ProbeNet", "ProbeDisc"}  # not _PrivateNet, Skeleton, Alias
    assert found["EDSR"].__module__ == "srlab.archs.edsr"
    table = network_classes()
    assert (
        table["srlab.archs.probe_nets.ProbeNet"]
        is table["srlab.archs.ProbeNet"]
        is found["ProbeNet"]
    )
    assert (
        "srlab.archs.probe_nets.EDSR" not in table and "srlab.archs.probe_nets.Alias" not in table
    )
    net = build_from_spec({"_target_": "srlab.archs.ProbeNet", "scale": 3})
    assert type(net) is found["ProbeNet"] and net.scale == 3
    assert srlab.archs.ProbeDisc is found["ProbeDisc"]
    for name in ("Skeleton", "_PrivateNet", "NoSuchNet"):
        with pytest.raises(SRLabError, match="which is not an srlab network"):
            build_from_spec({"_target_": f"srlab.archs.{name}"})
    with pytest.raises(AttributeError, match="NoSuchNet"):
        srlab.archs.NoSuchNet  # noqa: B018


def test_two_networks_with_one_name_are_refused(extra_module):
    extra_module(
        "probe_clash",
        """
        from .base import SRNet


        class EDSR(SRNet):
            def __init__(self, scale: int = 2, in_channels: int = 3) -> None:
                super().__init__(scale, in_channels)
        """,
    )
    with pytest.raises(
        ImportError, match=r"srlab.archs.edsr.EDSR and srlab.archs.probe_clash.EDSR"
    ):
        networks()


def test_a_name_under_srlab_archs_that_is_no_module_imports_nothing():
    with pytest.raises(SRLabError, match="which is not an srlab network"):
        build_from_spec({"_target_": "srlab.archs.not_a_module.Net"})
    assert "srlab.archs.not_a_module" not in sys.modules
