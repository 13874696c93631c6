"""Pixel losses: Charbonnier against its formula."""

import torch

from srlab.losses import CharbonnierLoss, charbonnier_loss


def test_charbonnier_matches_formula_with_eps_outside_root():
    a, b = torch.tensor([0.0, 0.5, -0.25]), torch.zeros(3)
    eps = 1e-3
    expected = torch.sqrt(a**2 + eps**2).mean()
    assert torch.allclose(charbonnier_loss(a, b, eps), expected)
    assert torch.allclose(
        CharbonnierLoss(eps, reduction="sum")(a, b), torch.sqrt(a**2 + eps**2).sum()
    )
    # far from zero it behaves like L1
    assert abs(charbonnier_loss(torch.tensor([3.0]), torch.zeros(1)).item() - 3.0) < 1e-6
