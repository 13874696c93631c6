"""srlab.export: every network of the zoo exports to ONNX and TorchScript with dynamic sizes, and
the exported model matches PyTorch (checked at a size other than the traced one); an export is
written only once its parity check passed, and a failed one leaves nothing behind."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import srlab.export
from srlab.cli.common import CONF_DIR
from srlab.errors import SRLabError
from srlab.export import PARITY_TOL, export_model
from srlab.models.sr_module import SRModule
from srlab.utils import build_from_spec
from tests.helpers import small_model

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


EXPORT_FAST = "espcn"  # the representative of the loop in `pytest -m "not slow"`


@pytest.mark.parametrize(
    "name", [n if n == EXPORT_FAST else pytest.param(n, marks=pytest.mark.slow) for n in NETS]
)
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


def test_export_writes_only_a_checked_file(tmp_path):
    model = small_model("espcn_rgb")
    out = tmp_path / "m.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = export_model(model, "torchscript", out)
    assert r["path"] == out and r["max_abs_diff"] <= PARITY_TOL
    assert r["check_size"] == (29, 29)  # unlike the traced 24x32 in both sizes and parities
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary file left
    x = torch.rand(1, 3, 7, 5)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load: deprecated, still loads
        torch.testing.assert_close(
            torch.jit.load(str(out))(x), model(x).clamp(0, 1), atol=1e-5, rtol=0
        )


def test_a_failed_parity_check_writes_nothing_and_keeps_an_earlier_file(tmp_path, monkeypatch):
    model = small_model("espcn_rgb")
    out = tmp_path / "m.pt"
    with warnings.catch_warnings(), pytest.raises(SRLabError) as e:
        warnings.simplefilter("ignore")
        export_model(model, "torchscript", out, tol=-1.0)  # no difference passes
    assert "the torchscript export differs from PyTorch by" in str(e.value)
    assert f"{out} not written" in str(e.value) and not list(tmp_path.iterdir())
    out.write_bytes(b"an earlier export")
    monkeypatch.setattr(srlab.export, "PARITY_TOL", -1.0)  # the default is read at call time
    with warnings.catch_warnings(), pytest.raises(SRLabError, match="differs from PyTorch"):
        warnings.simplefilter("ignore")
        export_model(model, "torchscript", out)
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
