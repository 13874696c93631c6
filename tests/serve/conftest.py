"""Checkpoints of small networks written by hand (the layout srlab-train writes: ``state_dict``
with ``net.*`` keys and the ``srlab`` network spec), so serving tests need no training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srlab.models.sr_module import SRModule
from srlab.utils import build_from_spec

SPECS = {
    "espcn": {"_target_": "srlab.archs.ESPCN", "scale": 3, "in_channels": 1, "num_feat": 16},
    "srcnn": {
        "_target_": "srlab.archs.SRCNN",
        "scale": 2,
        "in_channels": 1,
        "channels": [16, 8],
        "padding": "valid",
    },
    "edsr": {
        "_target_": "srlab.archs.EDSR",
        "scale": 2,
        "in_channels": 3,
        "num_feat": 16,
        "num_block": 2,
    },
    "lapsrn": {
        "_target_": "srlab.archs.LapSRN",
        "scale": 4,
        "in_channels": 1,
        "num_feat": 8,
        "num_layer": 2,
    },
    "mdsr": {
        "_target_": "srlab.archs.MDSR",
        "scale": 2,
        "scales": [2, 3],
        "num_feat": 8,
        "num_block": 1,
    },
}


def make_model(name: str, seed: int = 0) -> SRModule:
    torch.manual_seed(seed)
    spec = SPECS[name]
    return SRModule(build_from_spec(spec), net_spec=spec).eval()


def write_ckpt(model: SRModule, path: Path) -> Path:
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in model.net.state_dict().items()},
            "srlab": {"net": model.net_spec, "scale": model.scale},
            "hyper_parameters": {},
        },
        path,
    )
    return path


@pytest.fixture
def ckpt(tmp_path):
    """ckpt(name) -> path of a checkpoint of the small network ``name`` (random weights)."""

    def _make(name: str = "espcn") -> Path:
        return write_ckpt(make_model(name), tmp_path / f"{name}.ckpt")

    return _make
