"""Deep supervision of multi-output networks (DRCN, CMSC, LapSRN, MS-LapSRN), the loss-weight
schedule (DRCN's decaying alpha) and adjustable gradient clipping (DRRN)."""

import pytest
import torch
from torch import nn

from srlab.archs import CMSC, DRCN, LapSRN, MSLapSRN
from srlab.callbacks import AdjustableGradientClipping, LossWeightSchedule
from srlab.core.imresize import imresize
from srlab.losses import CharbonnierLoss, DeepSupervision, L1Loss, MSELoss, WeightedSum


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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


class _Holder(nn.Module):
    def __init__(self, loss):
        super().__init__()
        self.loss = loss


def test_loss_weight_schedule_moves_alpha():
    deep = DeepSupervision(MSELoss(), alpha=0.5)
    module = _Holder(WeightedSum({"deep": deep}))
    sched = LossWeightSchedule("terms.deep.alpha", start=1.0, end=0.0, duration=4)
    assert [sched.apply(module, e) for e in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert deep.alpha == 0.0
    late = LossWeightSchedule("terms.deep.alpha", start=1.0, end=0.2, duration=0, begin=3)
    assert [late.value_at(e) for e in (0, 2, 3, 9)] == [1.0, 1.0, 0.2, 0.2]
    # a WeightedSum weight (IDN's L2 -> L1 switch)
    ws = WeightedSum({"l2": MSELoss(), "l1": L1Loss()}, {"l1": 0.0})
    LossWeightSchedule("weights.l1", start=0.0, end=1.0, duration=0, begin=2).apply(_Holder(ws), 2)
    assert ws.weights == {"l2": 1.0, "l1": 1.0}
    with pytest.raises(AttributeError, match="has no 'terms.deep.beta'"):
        LossWeightSchedule("terms.deep.beta").apply(module, 0)


def test_drcn_experiment_decays_alpha_during_training(compose_cfg, image_folder):
    from srlab.cli.train import train
    from tests.conftest import tiny_run_overrides

    folder = image_folder(sizes=((36, 36), (36, 42)))
    cfg = compose_cfg(
        [
            "experiment=drcn_x3",
            "debug=overfit",
            *tiny_run_overrides(folder, 12),
            "model.net.num_feat=4",
            "model.net.num_recursion=2",
            "trainer.max_epochs=3",
            "~callbacks.model_checkpoint",
        ]
    )
    assert cfg.callbacks.alpha_decay.duration == 3  # decays over the whole run
    metrics, objects = train(cfg)
    deep = objects["model"].loss.terms["deep"]
    sched = next(c for c in objects["callbacks"] if isinstance(c, LossWeightSchedule))
    assert deep.alpha == pytest.approx(sched.value_at(2)) == pytest.approx(1 / 3)  # epoch 2 of 3
    assert metrics["train/terms.deep.alpha"] == pytest.approx(1 / 3)


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
