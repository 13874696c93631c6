"""One argument-name convention for every network (docs/adding-a-network.md, "Argument names"),
and checkpoints written with the names used before it still load."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import torch

import srlab
from srlab.archs import Discriminator, networks
from srlab.errors import SRLabError
from srlab.utils import build_from_spec, upgrade_spec

CONTRACT = {"scale", "in_channels", "scales", "input_size"}
# names the convention replaced (and the usual synonyms of its names in other codebases)
NOT_USED = {"depth", "recursions", "n_feats", "n_resblocks", "n_resgroups", "nf", "nb", "gc",
            "num_features", "features", "width", "blocks", "layers", "units"}  # fmt: skip


def constructor_args(cls: type) -> list[str]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("name", sorted(networks()))
def test_every_network_follows_the_convention(name):
    cls = networks()[name]
    args = constructor_args(cls)
    assert "scale" in args or issubclass(cls, Discriminator)
    for arg in args:
        if arg in CONTRACT:
            continue
        assert len(arg) > 1 and arg not in NOT_USED, (
            f"{name}({arg}=...): see docs/adding-a-network.md"
        )
        if arg.startswith("num_"):  # a width (num_feat, num_<role>_ch) or a count, in the singular
            assert re.fullmatch(r"num_[a-z]+(_[a-z]+)*", arg) and not arg.endswith("s"), (
                f"{name}({arg}=...)"
            )


@pytest.mark.parametrize(
    "name", sorted(n for n, c in networks().items() if getattr(c, "renamed_args", None))
)
def test_renames_lead_from_a_gone_name_to_a_current_one(name):
    cls = networks()[name]
    args = set(constructor_args(cls))
    for old, new in cls.renamed_args.items():
        assert old not in args and new in args, (name, old, new)


# Networks as checkpoints written before the renames describe them, and the arguments they mean
# now (small widths, so that each loads in a blink).
OLD: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "BTSRN": ({"scale": 2, "num_feat": 8, "proj_feat": 4, "num_lr_blocks": 1, "num_hr_blocks": 1},
              {"scale": 2, "num_feat": 8, "num_proj_ch": 4, "num_lr_block": 1, "num_hr_block": 1}),
    "CARN": ({"scale": 2, "scales": [2, 3], "num_feat": 8, "num_blocks": 1, "num_units": 2},
             {"scale": 2, "scales": [2, 3], "num_feat": 8, "num_block": 1, "num_unit": 2}),
    "CARNM": ({"scale": 2, "scales": [2], "num_feat": 8, "num_blocks": 2, "num_units": 1},
              {"scale": 2, "scales": [2], "num_feat": 8, "num_block": 2, "num_unit": 1}),
    "CMSC": ({"scale": 2, "num_feat": 4, "num_stages": 2, "num_modules": 1},
             {"scale": 2, "num_feat": 4, "num_stage": 2, "num_module": 1}),
    "DRCN": ({"scale": 2, "num_feat": 4, "num_recursions": 2},
             {"scale": 2, "num_feat": 4, "num_recursion": 2}),
    "DRRN": ({"scale": 2, "num_feat": 4, "num_blocks": 1, "num_units": 2},
             {"scale": 2, "num_feat": 4, "num_block": 1, "num_unit": 2}),
    "FSRCNN": ({"scale": 3, "d": 8, "s": 4, "m": 1},
               {"scale": 3, "num_feat": 8, "num_shrink_ch": 4, "num_map_layer": 1}),
    "IDN": ({"scale": 2, "num_feat": 16, "num_blocks": 1, "d": 4},
            {"scale": 2, "num_feat": 16, "num_block": 1, "num_distill_ch": 4}),
    "LapSRN": ({"scale": 4, "num_feat": 4, "depth": 1},
               {"scale": 4, "num_feat": 4, "num_layer": 1}),
    "MSLapSRN": ({"scale": 4, "num_feat": 4, "depth": 1, "recursions": 2},
                 {"scale": 4, "num_feat": 4, "num_layer": 1, "num_recursion": 2}),
    "SelNet": ({"scale": 2, "num_feat": 4, "num_units": 1},
               {"scale": 2, "num_feat": 4, "num_unit": 1}),
    "VDSR": ({"scale": 2, "num_feat": 4, "num_layers": 3},
             {"scale": 2, "num_feat": 4, "num_layer": 3}),
    "SRGANDiscriminator": ({"input_size": 16, "num_feat": 4, "num_dense": 8},
                           {"input_size": 16, "num_feat": 4, "num_dense_ch": 8}),
    "VGGDiscriminator": ({"input_size": 32, "num_feat": 4, "num_dense": 8},
                         {"input_size": 32, "num_feat": 4, "num_dense_ch": 8}),
}  # fmt: skip


def test_the_table_has_every_rename():
    renamed = {n: c.renamed_args for n, c in networks().items() if getattr(c, "renamed_args", None)}
    assert set(OLD) == set(renamed)
    for name, (old, _new) in OLD.items():
        assert set(renamed[name]) <= set(old), name  # every old name appears in the old spec
        assert not set(renamed[name].values()) & set(old), name


@pytest.mark.parametrize(
    "name",
    sorted(n for n, c in networks().items() if not issubclass(c, Discriminator) and n in OLD),
)
def test_old_checkpoints_load_through_load_model(name, tmp_path):
    old, new = OLD[name]
    cls = networks()[name]
    torch.manual_seed(0)
    net = cls(**new).eval()
    spec = {"_target_": f"srlab.archs.{name}", **old}
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {"net_spec": spec, "crop_border": None, "metric_y_channel": True},
            "srlab": {"net": spec, "scale": net.scale, "in_channels": net.in_channels},
        },
        tmp_path / "old.ckpt",
    )
    model = srlab.load_model(tmp_path / "old.ckpt")
    assert type(model.net) is cls
    assert model.net_spec == {"_target_": f"srlab.archs.{name}", **new}  # saved again: new names
    for k, v in net.state_dict().items():
        assert torch.equal(model.net.state_dict()[k], v), k
    x = torch.rand(1, net.in_channels, 10, 10)
    with torch.no_grad():
        a, b = model.net(x), net(x)
    for ya, yb in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        assert torch.equal(ya, yb)


@pytest.mark.parametrize("name", ["SRGANDiscriminator", "VGGDiscriminator"])
def test_old_discriminator_descriptions_build(name):
    old, new = OLD[name]
    disc = build_from_spec({"_target_": f"srlab.archs.{name}", **old})
    assert disc.classifier[1].out_features == new["num_dense_ch"]


def test_an_argument_under_both_names_is_refused():
    spec = {"_target_": "srlab.archs.DRRN", "num_units": 2, "num_unit": 3}
    with pytest.raises(
        SRLabError, match="'num_units'/'num_unit': one argument under its old and its new name"
    ):
        build_from_spec(spec)
    assert upgrade_spec({"_target_": "srlab.archs.EDSR", "num_block": 2}) == {
        "_target_": "srlab.archs.EDSR",
        "num_block": 2,
    }
