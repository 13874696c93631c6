"""DRCN: one recursive convolution and one reconstruction net, shared by every recursion."""

import torch
from torch import nn

from srlab.archs import DRCN
from tests.helpers import weights_seen


def test_drcn_recursion_shares_one_convolution():
    net = DRCN(scale=3, num_feat=8, num_recursion=3)
    x = torch.rand(1, 1, 9, 9)
    seen = weights_seen(net.recursive_conv, lambda: net(x))
    assert len(seen) == 3 and all(w is net.recursive_conv.weight for w in seen)
    recon = weights_seen(net.reconstruct[0], lambda: net(x))  # one reconstruction net, not D heads
    assert len(recon) == 3 and all(w is recon[0] for w in recon)
    n_conv = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    assert n_conv == 5  # 2 embedding + 1 recursive + 2 reconstruction, whatever D
    assert net.ensemble_weights.shape == (3,)
