"""LossWeightSchedule: a loss weight moved during training (DRCN's decaying alpha, IDN's L2 -> L1
switch)."""

import pytest
from torch import nn

from srlab.callbacks import LossWeightSchedule
from srlab.losses import DeepSupervision, L1Loss, MSELoss, WeightedSum
from tests.helpers import tiny_run_overrides


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
    with pytest.raises(AttributeError, match=r"has no 'terms\.deep\.beta'"):
        LossWeightSchedule("terms.deep.beta").apply(module, 0)


def test_drcn_experiment_decays_alpha_during_training(compose_cfg, image_folder):
    from srlab.cli.train import train

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
