"""AdjustableGradientClipping (DRRN, VDSR): gradients clipped to theta / lr."""

import torch
from torch import nn

from srlab.callbacks import AdjustableGradientClipping


def test_adjustable_gradient_clipping_bounds_lr_times_gradient():
    p = nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([5.0, -5.0, 0.05, -0.05])
    opt = torch.optim.SGD([p], lr=0.1)
    AdjustableGradientClipping(theta=0.01).on_before_optimizer_step(None, None, opt)
    torch.testing.assert_close(p.grad, torch.tensor([0.1, -0.1, 0.05, -0.05]))  # +-theta/lr
    opt.param_groups[0]["lr"] = 0.001  # the bound grows as the lr falls
    p.grad = torch.tensor([50.0, -5.0, 0.05, -0.05])
    AdjustableGradientClipping(theta=0.01).on_before_optimizer_step(None, None, opt)
    torch.testing.assert_close(p.grad, torch.tensor([10.0, -5.0, 0.05, -0.05]))
