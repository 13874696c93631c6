"""A checkpoint trained once per session (a few dozen ESPCN x3 steps on the bundled photos),
shared by the end-to-end, evaluation and upscaling tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from srlab.cli.common import CONF_DIR


def compose_at(out_dir: Path, overrides=(), config_name="train"):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
        cfg = compose(config_name, overrides=[f"paths.output_dir={out_dir}", *overrides])
    GlobalHydra.instance().clear()
    return cfg


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
    cfg = compose_at(out, E2E_OVERRIDES)
    pl.seed_everything(cfg.seed, workers=True)
    dm = instantiate(cfg.data)
    before = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False
    ).validate(build_module(cfg), datamodule=dm, verbose=False)[0]["val/psnr"]
    metrics, objects = train(cfg)
    return out / "checkpoints" / "best.ckpt", metrics, before


def run_cli(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a console entry point (from the venv's bin, as a user would)."""
    exe = Path(sys.executable).parent / name
    cmd = (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-m", f"srlab.cli.{name.split('-')[1].replace('eval', 'evaluate')}"]
    )
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=cwd, timeout=600)
