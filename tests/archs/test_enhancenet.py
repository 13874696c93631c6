"""EnhanceNet adds MATLAB bicubic to its residual, on its own mean."""

import torch

from srlab.archs import EnhanceNet
from srlab.core.imresize import imresize


def test_enhancenet_adds_bicubic_to_its_residual():
    net = EnhanceNet(num_feat=8, num_block=1)
    torch.nn.init.zeros_(net.tail[-1].weight)
    torch.nn.init.zeros_(net.tail[-1].bias)
    x = torch.rand(1, 3, 8, 6)
    assert torch.allclose(net(x), imresize(x, 4), atol=1e-5)
    assert torch.allclose(net.mean.flatten(), torch.tensor([0.47614917, 0.45001204, 0.40904046]))
