"""EMA of the generator's weights: the average, validation on EMA weights, checkpoints."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from pytorch_lightning import Trainer

import srlab
from srlab.callbacks import EMA
from srlab.cli.train import build_module, train
from tests.helpers import compose, tiny_x2_overrides


def test_ema_averages_validates_and_checkpoints_the_ema_weights(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((32, 40),))
    cfg = compose(
        [
            *tiny_x2_overrides(train_dir, val_dir, epochs=1, samples=16),
            "callbacks=[default,ema]",
            "callbacks.ema.decay=0.5",
        ],
        output_dir=tmp_path,
    )
    seen = {}

    class Spy(EMA):  # records the weights validation sees and the raw ones it trains
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen["before"] = {k: v.clone() for k, v in self._tensors(pl_module).items()}
            seen["ema_before"] = {k: v.clone() for k, v in self.ema.items()}

        def on_validation_epoch_start(self, trainer, pl_module):
            if trainer.state.fn == "fit" and not trainer.sanity_checking:
                seen["val"] = {k: v.clone() for k, v in self._tensors(pl_module).items()}

    _metrics, objects = train(cfg)
    ema = next(c for c in objects["callbacks"] if isinstance(c, EMA))
    net = objects["model"].net
    raw = {k: v.detach() for k, v in net.state_dict().items()}
    assert objects["trainer"].global_step == 4
    assert any(
        not torch.equal(raw[k], ema.ema[k]) for k in raw
    )  # training weights are the raw ones
    ckpt = torch.load(
        tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False
    )
    for (
        k,
        v,
    ) in (
        ema.ema.items()
    ):  # checkpoints hold the EMA weights; the raw ones are in the callback state
        assert torch.equal(ckpt["state_dict"][f"net.{k}"], v)
    state = next(v for k, v in ckpt["callbacks"].items() if k.startswith("EMA"))
    for k, v in raw.items():
        assert torch.equal(state["raw"][k], v)
    model = srlab.load_model(tmp_path / "checkpoints" / "last.ckpt")
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, ema.ema[k])

    # the update rule on one step, and validation swapped in the EMA weights (then back)
    spy = Spy(decay=0.5)
    cfg2 = compose(
        tiny_x2_overrides(train_dir, val_dir, epochs=1, samples=4), output_dir=tmp_path / "b"
    )
    module, dm = build_module(cfg2), instantiate(cfg2.data)
    Trainer(
        max_epochs=1,
        callbacks=[spy],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    ).fit(module, datamodule=dm)
    after = {k: v.detach() for k, v in module.net.state_dict().items()}
    for k, v in spy.ema.items():
        torch.testing.assert_close(v, 0.5 * seen["ema_before"][k] + 0.5 * after[k])
        torch.testing.assert_close(seen["val"][k], v)  # validation ran on the EMA weights
    assert any(not torch.equal(after[k], spy.ema[k]) for k in after)
