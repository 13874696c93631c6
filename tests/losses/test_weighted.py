"""WeightedSum: the total and its parts, and the mistakes it refuses."""

import pytest
import torch

from srlab.losses import L1Loss, MSELoss, WeightedSum


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
