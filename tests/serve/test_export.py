"""srlab-export: every network of the zoo exports to ONNX and TorchScript with dynamic sizes,
and the exported model matches PyTorch (checked at a size other than the traced one)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from srlab.cli.common import CONF_DIR
from srlab.export import PARITY_TOL, export_model
from srlab.models.sr_module import SRModule
from srlab.utils import build_from_spec

NET_DIR = Path(CONF_DIR) / "model" / "net"
NETS = sorted(p.stem for p in NET_DIR.glob("*.yaml"))

# small widths/depths where the paper default is big (the graph is the same, only smaller)
SMALL = dict(
    num_feat=16,
    num_block=2,
    num_unit=2,
    num_group=1,
    num_layer=4,
    num_recursion=2,
    num_stage=1,
    num_module=1,
    num_grow_ch=8,
    reduction=4,
    num_lr_block=1,
    num_hr_block=1,
)
KEEP_WIDTH = {"idn", "carn_m"}  # grouped/sliced convs: their widths must keep divisibility


def small_net(name: str, scale: int = 2) -> torch.nn.Module:
    raw = OmegaConf.load(NET_DIR / f"{name}.yaml")
    root = OmegaConf.create({"data": {"scale": scale}, "net": raw})
    spec = OmegaConf.to_container(root.net, resolve=True)
    for k, v in SMALL.items():
        if k in spec and not (k == "num_feat" and name in KEEP_WIDTH):
            spec[k] = v
    if name == "carn_m":
        spec["num_feat"] = 16
    return build_from_spec(spec)


@pytest.mark.parametrize("name", NETS)
def test_every_zoo_net_exports_with_parity(name, tmp_path):
    torch.manual_seed(0)
    model = SRModule(small_net(name)).eval()
    for fmt in ("onnx", "torchscript"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = export_model(
                model, fmt, tmp_path / f"{name}.{fmt}", example_size=(20, 24), check_size=(23, 17)
            )
        assert r["path"].is_file()
        assert r["max_abs_diff"] <= PARITY_TOL, (name, fmt, r["max_abs_diff"])
