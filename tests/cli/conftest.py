"""A checkpoint trained once per session (a few dozen ESPCN x3 steps on the bundled photos),
shared by the end-to-end, evaluation and upscaling tests of the entry points."""

from __future__ import annotations

import pytest

from tests.helpers import compose, one_torch_thread

E2E_OVERRIDES = [
    "experiment=demo",
    "logger=csv",
    "trainer.max_epochs=4",
    "data.samples_per_epoch=480",  # 4 epochs x 15 batches of 32 = 60 steps
    "model/scheduler=none",
    "trainer.enable_progress_bar=false",
]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(checkpoint path, final metrics, val/psnr of the untrained network)."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from srlab.cli.train import build_module, train

    out = tmp_path_factory.mktemp("e2e")
    cfg = compose(E2E_OVERRIDES, output_dir=out)
    pl.seed_everything(cfg.seed, workers=True)
    dm = instantiate(cfg.data)
    with one_torch_thread():  # set up before the autouse fixture of the test that asks first
        before = pl.Trainer(
            logger=False, enable_progress_bar=False, enable_model_summary=False
        ).validate(build_module(cfg), datamodule=dm, verbose=False)[0]["val/psnr"]
        metrics, _ = train(cfg)
    return out / "checkpoints" / "best.ckpt", metrics, before
