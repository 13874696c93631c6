"""What runs tell their dashboards (srlab.cli.dashboard): the protocol's own names in the tags
(added to the configured W&B tags), the model size with its fall-back, and one home for the
protocol's spelling in the source."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from torch import nn

import srlab
from srlab.archs import ESPCN
from srlab.cli.dashboard import add_wandb_tags, model_size_info, protocol_tags, run_info
from srlab.cli.train import build_module
from srlab.core.protocol import DEGRADATION, Protocol
from srlab.models.sr_module import SRModule
from tests.helpers import compose

SRC = Path(srlab.__file__).resolve().parent
#: the protocol's names, spelled once, in srlab/core/protocol.py
PROTOCOL_NAMES = (DEGRADATION, Protocol(y_channel=True).colour)
#: NIQE's description names its own measure (uint8 Y of a different protocol), not the SR one
OWN_MEASURES = {SRC / "core" / "protocol.py", SRC / "metrics" / "niqe.py"}


def _docstrings(tree: ast.AST) -> set[int]:
    """``id``s of the docstring constants of a module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            out.add(id(body[0].value))
    return out


def test_the_protocol_is_spelled_only_in_core_protocol():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path in OWN_MEASURES:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and any(n in node.value for n in PROTOCOL_NAMES)
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
    assert not found, "spell these through srlab.core.protocol:\n" + "\n".join(found)


def _module(y_channel: bool = True) -> SRModule:
    return SRModule(ESPCN(scale=3, in_channels=3, num_feat=8), metric_y_channel=y_channel)


@pytest.mark.parametrize("y_channel", [True, False])
def test_tags_carry_the_protocols_own_names(y_channel):
    model = _module(y_channel)
    tags = protocol_tags(model)
    assert tags == ["espcn", "x3", model.eval_protocol.colour, DEGRADATION]
    assert tags[2] == ("y-bt601" if y_channel else "rgb")  # what W&B filters on stays put
    # srlab-eval tags the colour metrics.json records, whatever the model's own
    recorded = Protocol(scales=(2, 4), y_channel=not y_channel).as_dict()
    tags = protocol_tags(model, scales=[2, 4], colour=recorded["colour"])
    assert tags[1:4] == ["x2", "x4", recorded["colour"]]
    assert protocol_tags(model, {"train_lr_dir": "lr/"})[-1] == "lr-from-files"
    blur = {"degradation": {"steps": [{"blur": {"sigma": 1}}, {"bicubic": {}}]}}
    assert protocol_tags(model, blur)[-1] == "degradation-blur+bicubic"


def test_run_info_holds_the_model_size_and_the_protocol_name():
    model = _module()
    info = run_info(model)
    params = sum(p.numel() for p in model.net.parameters())
    assert info["model_size"]["params"] == params
    assert set(info["model_size"]["macs_720p_hr"]) == {"x3"}
    assert info["protocol"] == model.protocol and info["protocol"].startswith(f"{DEGRADATION} x3,")
    assert run_info(model, macs=False)["model_size"] == {"params": params}


def test_a_network_the_mac_counter_cannot_run_gets_its_parameters(caplog):
    net = nn.Conv2d(3, 3, 3)  # declares no scale: MACs cannot be counted
    with caplog.at_level(logging.WARNING, logger="srlab.dashboard"):
        assert model_size_info(net) == {"params": 84}
    assert "MACs not counted (SRLabError" in caplog.text
    caplog.clear()
    assert model_size_info(net, macs=False) == {"params": 84} and not caplog.text


def test_protocol_tags_are_added_to_the_configured_wandb_tags(tmp_path):
    cfg = compose(["logger=wandb", "tags=[dev,espcn]"], output_dir=tmp_path)
    add_wandb_tags(cfg, protocol_tags(build_module(cfg), cfg.data))
    assert list(cfg.logger.wandb.tags) == ["dev", "espcn", "x3", "y-bt601", "bicubic-matlab"]
    deg = "+data.degradation={steps:[{blur:{sigma:1}},{bicubic:{}},{noise:{sigma:5}}]}"
    cfg = compose(
        ["model/net=srcnn", "model.net.in_channels=3", "model.metric_y_channel=false", deg],
        output_dir=tmp_path,
    )
    assert protocol_tags(build_module(cfg), cfg.data) == [
        "srcnn",
        "x3",
        "rgb",
        "degradation-blur+bicubic+noise",
    ]
    cfg = compose(["logger=none"], output_dir=tmp_path)
    add_wandb_tags(cfg, ["x3"])  # no W&B logger: nothing to tag, no error
    assert not cfg.get("logger")
