import pytest
import torch

from srlab.losses import CharbonnierLoss, L1Loss, MSELoss, WeightedSum, charbonnier_loss


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


def test_weighted_sum_total_and_parts():
    pred, target = torch.full((2, 1, 4, 4), 0.5), torch.zeros(2, 1, 4, 4)
    loss = WeightedSum({"l1": L1Loss(), "l2": MSELoss()}, {"l1": 2.0, "l2": 10.0})
    total, parts = loss(pred, target)
    assert parts["l1"].item() == pytest.approx(0.5) and parts["l2"].item() == pytest.approx(0.25)
    assert total.item() == pytest.approx(2.0 * 0.5 + 10.0 * 0.25)


def test_weighted_sum_rejects_typos_and_empty():
    with pytest.raises(ValueError, match="l3"):
        WeightedSum({"l1": L1Loss()}, {"l3": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum({})
    with pytest.raises(ValueError, match="reduction"):
        L1Loss(reduction="none")
