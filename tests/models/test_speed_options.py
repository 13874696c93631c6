"""trainer.precision=auto and model.channels_last=auto pick float32/NCHW on a CPU."""

import pytest
import torch

from srlab.archs import ESPCN
from srlab.losses import MSELoss, WeightedSum
from srlab.models import SRModule
from srlab.speed import resolve_channels_last, resolve_precision


def test_resolve_on_this_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("auto", "gpu") == "32-true"  # no GPU here: float32
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"  # asked for: kept (warned)
    assert resolve_precision(32, "cpu") == 32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "gpu") == "bf16-mixed"
    assert resolve_precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "auto") == "16-mixed"


def test_channels_last_auto():
    assert resolve_channels_last("auto", "cpu") is False
    assert resolve_channels_last("auto", torch.device("cuda", 0)) is True
    assert resolve_channels_last(True, "cpu") is True
    with pytest.raises(ValueError, match="true, false or auto"):
        resolve_channels_last("yes", "cpu")
    with pytest.raises(ValueError, match="true, false or auto"):
        SRModule(ESPCN(scale=2), channels_last="yes")


def test_module_with_auto_runs_nchw_on_cpu():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    module = SRModule(
        ESPCN(scale=2),
        loss=WeightedSum({"l2": MSELoss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        channels_last="auto",
    )
    batches = [{"lr": torch.rand(2, 3, 8, 8), "hr": torch.rand(2, 3, 16, 16)} for _ in range(2)]
    trainer = pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        precision=resolve_precision("auto", "cpu"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    w = module.net.body[0].weight if hasattr(module.net, "body") else next(module.net.parameters())
    assert w.is_contiguous()  # NCHW, not channels_last, on the CPU
    assert trainer.precision == "32-true"


def test_train_config_auto(compose_cfg, image_folder):
    from srlab.cli.train import train
    from tests.conftest import tiny_run_overrides

    folder = image_folder("hr", sizes=((40, 40), (42, 39)))
    cfg = compose_cfg(
        [
            "experiment=espcn_x3",
            "debug=fdr",
            "trainer.precision=auto",
            "model.channels_last=auto",
            *tiny_run_overrides(folder, 24),
        ]
    )
    _, objects = train(cfg)
    assert objects["trainer"].precision == "32-true"
    assert (
        objects["model"].channels_last == "auto"
        and next(objects["model"].net.parameters()).is_contiguous()
    )
