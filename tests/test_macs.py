"""srlab.macs: one MAC counter for srlab-zoo, the train run info, srlab-eval and srlab-report."""

from __future__ import annotations

import torch

from srlab.macs import MACS_KEY, count_module, count_net, model_size
from srlab.utils import build_from_spec

# ESPCN x3, 1-64-32-9 with 5-3-3 kernels: 22,624 MACs per LR pixel, 1280x720/9 LR pixels
ESPCN_X3 = {"_target_": "srlab.archs.ESPCN", "scale": 3}
ESPCN_X3_MACS = (25 * 64 + 9 * 64 * 32 + 9 * 32 * 9) * 1280 * 720 // 9


def test_model_size_of_a_built_net_equals_the_count_of_its_spec():
    # single-scale post-upsampling (x3: interpolated LR width), pre-upsampling with a border,
    # multi-scale (CARN: every branch's params, MACs per scale, the paper's 222.8G at x2)
    specs = [
        ESPCN_X3,
        {"_target_": "srlab.archs.SRCNN", "scale": 3},
        {"_target_": "srlab.archs.CARN", "scale": 2},
    ]
    for spec in specs:
        net = build_from_spec(spec).train()
        weight = next(net.parameters())
        by_spec, by_module = model_size(net, spec), model_size(net)
        assert by_spec == by_module, spec
        assert weight.device.type == "cpu" and net.training  # the real network is left as it was
    assert model_size(build_from_spec(ESPCN_X3)) == {
        "params": 22_729,
        MACS_KEY: {"x3": ESPCN_X3_MACS},
    }
    carn = model_size(build_from_spec(specs[2]), specs[2])
    assert set(carn[MACS_KEY]) == {"x2", "x3", "x4"} and carn[MACS_KEY]["x2"] == 222_820_761_600
    assert carn["params"] == count_net(specs[2], 4)["params"] == 1_591_939


def test_shared_weights_count_once_in_params_and_every_use_in_macs():
    spec = {"_target_": "srlab.archs.DRCN", "scale": 3, "num_feat": 8, "num_recursion": 3}
    one = model_size(build_from_spec({**spec, "num_recursion": 1}))
    three = model_size(build_from_spec(spec))
    assert three["params"] == one["params"] + 2  # two more ensemble weights, the conv is shared
    # each recursion: the shared conv and the shared reconstruction (8->8, 8->1), at HR size
    per_recursion = (9 * 8 * 8 + 9 * 8 * 8 + 9 * 8 * 1) * 1280 * 720
    assert three[MACS_KEY]["x3"] - one[MACS_KEY]["x3"] == 2 * per_recursion


def test_a_scale_that_does_not_divide_720_is_left_out():
    net = build_from_spec({"_target_": "srlab.archs.ESPCN", "scale": 7})
    assert model_size(net) == {"params": sum(p.numel() for p in net.parameters()), MACS_KEY: {}}
    assert count_module(net, 7, out_w=1274, out_h=714) == (
        (25 * 64 + 9 * 64 * 32 + 9 * 32 * 49) * (1274 // 7) * (714 // 7)
    )
    assert not any(p.device.type == "meta" for p in net.parameters())
    assert torch.isfinite(net(torch.rand(1, 1, 4, 4))).all()  # still a working network
