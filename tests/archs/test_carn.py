"""CARN and CARN-M: the recursive unit of CARN-M is one module, used three times."""

import torch

from srlab.archs import CARN, CARNM
from tests.helpers import n_params


def test_carn_m_recursive_unit_is_shared():
    net = CARNM(num_feat=8)
    for block in net.blocks:
        assert block.unit(0) is block.unit(1) is block.unit(2)
        assert block.unit(0).body[0].weight is block.unit(2).body[0].weight
        assert len(block.units) == 1 and len({id(f) for f in block.fusions}) == 3
        assert block.unit(0).body[0].groups == 4
    assert net.blocks[0].unit(0) is not net.blocks[1].unit(0)  # not shared across blocks
    calls = []
    hook = net.blocks[0].unit(0).register_forward_hook(lambda *a: calls.append(1))
    net(torch.rand(1, 3, 6, 6), scale=2)
    hook.remove()
    assert len(calls) == 3
    carn = CARN(num_feat=8)
    assert carn.blocks[0].unit(0) is not carn.blocks[0].unit(1)
    assert n_params(carn.blocks[0]) > n_params(net.blocks[0])
