"""Deep supervision of multi-output networks (DRCN, CMSC, LapSRN, MS-LapSRN)."""

import pytest
import torch
from torch import nn

from srlab.archs import CMSC, DRCN, LapSRN, MSLapSRN
from srlab.core.imresize import imresize
from srlab.losses import CharbonnierLoss, DeepSupervision, L1Loss, MSELoss, WeightedSum


def _gmax(p):
    return 0.0 if p.grad is None else float(p.grad.abs().max())


def test_equal_weights_and_alpha_mix():
    t = torch.zeros(1, 1, 4, 4)
    preds = [torch.full_like(t, 1.0), torch.full_like(t, 3.0), torch.full_like(t, 2.0)]
    assert DeepSupervision(L1Loss())(preds, t).item() == pytest.approx(6.0)
    assert DeepSupervision(L1Loss(), weights=[0.0, 1.0, 0.5])(preds, t).item() == pytest.approx(4.0)
    # alpha * mean(intermediate) + (1 - alpha) * final
    assert DeepSupervision(L1Loss(), alpha=0.25)(preds, t).item() == pytest.approx(
        0.25 * 2.0 + 0.75 * 2.0
    )
    assert DeepSupervision(L1Loss(), alpha=1.0)(preds, t).item() == pytest.approx(2.0)
    assert DeepSupervision(L1Loss(), alpha=0.0)(preds, t).item() == pytest.approx(2.0)
    # a plain tensor is one prediction
    assert DeepSupervision(L1Loss(), alpha=0.3)(preds[1], t).item() == pytest.approx(3.0)


def test_dict_outputs():
    t = torch.zeros(1, 1, 4, 4)
    preds = {"coarse": torch.full_like(t, 4.0), "out": torch.full_like(t, 1.0)}
    assert DeepSupervision(L1Loss(), weights={"coarse": 0.5})(preds, t).item() == pytest.approx(3.0)
    assert DeepSupervision(L1Loss(), alpha=0.5)(preds, t).item() == pytest.approx(
        2.5
    )  # "out" is final
    with pytest.raises(ValueError, match="do not exist"):
        DeepSupervision(L1Loss(), weights={"fine": 1.0})(preds, t)


def test_smaller_predictions_meet_the_bicubic_downscaled_target():
    torch.manual_seed(0)
    t = torch.rand(2, 1, 16, 12)
    small, full = torch.rand(2, 1, 8, 6), torch.rand(2, 1, 16, 12)
    got = DeepSupervision(MSELoss())([small, full], t)
    want = nn.functional.mse_loss(small, imresize(t, 0.5)) + nn.functional.mse_loss(full, t)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="cannot be compared"):
        DeepSupervision(MSELoss())([torch.rand(2, 1, 5, 6)], t)
    with pytest.raises(ValueError, match="cannot be compared"):
        DeepSupervision(MSELoss(), resize_target=False)([small], t)


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ValueError, match="either weights or alpha"):
        DeepSupervision(L1Loss(), weights=[1.0], alpha=0.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        DeepSupervision(L1Loss(), alpha=1.5)
    t = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="2 weights for 3 predictions"):
        DeepSupervision(L1Loss(), weights=[1.0, 1.0])([t, t, t], t)


def test_weighted_sum_passes_lists_to_deep_terms_only():
    t = torch.zeros(1, 1, 4, 4)
    preds = [torch.ones_like(t), torch.ones_like(t)]
    total, parts = WeightedSum({"deep": DeepSupervision(L1Loss())}, {"deep": 0.5})(preds, t)
    assert total.item() == pytest.approx(1.0) and parts["deep"].item() == pytest.approx(2.0)
    with pytest.raises(
        TypeError,
        match=r"loss terms \['l1'\] take one tensor; wrap them in srlab.losses.DeepSupervision",
    ):
        WeightedSum({"l1": L1Loss()})(preds, t)
    assert WeightedSum({"l1": L1Loss()})(torch.ones_like(t), t)[0].item() == pytest.approx(1.0)


def test_drcn_intermediate_predictions_get_their_own_supervision():
    torch.manual_seed(0)
    net = DRCN(num_feat=4, num_recursion=3)
    x, t = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    alpha, n = 0.4, t.numel()
    out = net(x)
    for o in out:
        o.retain_grad()
    DeepSupervision(MSELoss(), alpha=alpha)(out, t).backward()
    # y_1 reaches the loss through its own term (alpha / D) and through the ensemble (w_1)
    want = (alpha / 3) * 2 * (out[0] - t) / n + (1 - alpha) * net.ensemble_weights[0] * 2 * (
        out[-1] - t
    ) / n
    torch.testing.assert_close(out[0].grad, want.detach())
    # alpha = 1: only the intermediate terms count, the ensemble weights get no gradient
    net.zero_grad()
    DeepSupervision(MSELoss(), alpha=1.0)(net(x), t).backward()
    assert _gmax(net.ensemble_weights) == 0 and _gmax(net.recursive_conv.weight) > 0
    net.zero_grad()
    DeepSupervision(MSELoss(), alpha=0.0)(net(x), t).backward()
    assert _gmax(net.ensemble_weights) > 0


def test_cmsc_stage_estimates_are_supervised():
    torch.manual_seed(0)
    net = CMSC(num_feat=4, num_stage=2, num_module=1)
    x, t = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    DeepSupervision(MSELoss(), alpha=1.0)(net(x), t).backward()
    assert _gmax(net.assembly_weights) == 0
    # the last stage's own parameters get a gradient only from its estimate's term
    assert _gmax(net.stages[-1].entry.weight) > 0


@pytest.mark.parametrize("cls", [LapSRN, MSLapSRN])
def test_every_pyramid_level_is_supervised_against_the_downscaled_hr(cls):
    torch.manual_seed(0)
    net = cls(scale=4, num_feat=4, num_layer=1)
    x, hr = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 24, 24)
    base = CharbonnierLoss()

    def level1_grad(weights):
        out = net(x)
        out[0].retain_grad()
        DeepSupervision(base, weights=weights)(out, hr).backward()
        return out[0].grad, out[0].detach()

    with_x2, y2 = level1_grad([1.0, 1.0])
    without_x2, _ = level1_grad([0.0, 1.0])
    # the difference is exactly the gradient of the x2 term against HR downscaled by 2
    y = y2.clone().requires_grad_(True)
    base(y, imresize(hr, 0.5)).backward()
    torch.testing.assert_close(with_x2 - without_x2, y.grad)
    assert y.grad.abs().max() > 0
