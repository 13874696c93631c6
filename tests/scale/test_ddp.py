"""A real 2-process DDP training on the CPU (gloo): metrics reduced across ranks, checkpoint loads."""

from __future__ import annotations

import csv

import pytest
import pytorch_lightning as pl
import torch

import srlab
from srlab.data import SRDataModule
from srlab.metrics import PSNR

from .helpers import run_train, tiny_overrides


@pytest.mark.slow  # three processes start: ~30-50 s on a busy 2-core machine
def test_two_process_cpu_ddp_training(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    # two validation images of different difficulty: rank 0 validates one, rank 1 the other
    val_dir = image_folder("val", sizes=((32, 40), (36, 32)))
    run = tmp_path / "ddp"
    res = run_train(
        *tiny_overrides(train_dir, val_dir, epochs=1, samples=32),
        "trainer=ddp_cpu",
        f"hydra.run.dir={run}",
        "callbacks.step_checkpoint.every_n_train_steps=null",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    rows = list(csv.DictReader(open(next((run / "csv").rglob("metrics.csv")))))
    logged = [float(r["val/psnr"]) for r in rows if r.get("val/psnr")]
    steps = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert len(logged) == 1
    assert max(steps) == 3  # 32 samples / 2 ranks / batch 4 = 4 steps per rank (logged from rank 0)

    ckpt = run / "checkpoints" / "last.ckpt"
    model = srlab.load_model(ckpt)
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 4
    # the same weights, one process, every validation image: the logged value is the mean over all
    dm = SRDataModule(2, val_dir=str(val_dir), patch_size=8)
    dm.setup("validate")
    per_image = []
    with torch.no_grad():
        for item in dm.val_set:
            metric = PSNR(crop_border=2, y_channel=True)
            metric(model(item["lr"][None]).clamp(0, 1), item["hr"][None])
            per_image.append(float(metric.compute()))
    mean = sum(per_image) / len(per_image)
    assert abs(per_image[0] - per_image[1]) > 0.05, per_image  # rank 0's image alone would differ
    assert abs(logged[0] - mean) < 1e-3, (logged, per_image)
    val = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        model, datamodule=dm, verbose=False
    )[0]["val/psnr"]
    assert abs(val - mean) < 1e-4


@pytest.mark.slow  # three processes start
def test_multiscale_net_trains_under_ddp(tmp_path, image_folder):
    """MDSR uses one scale's head per step: DDP must accept the other heads' missing gradients
    (srlab-train turns on find_unused_parameters for multi-scale nets); each rank gets half the
    epoch and every step one scale, the same on both ranks."""
    train_dir = image_folder("hr", sizes=((48, 48), (54, 48)))
    val_dir = image_folder("val", sizes=((36, 36),))
    run = tmp_path / "ddp_ms"
    res = run_train(
        *tiny_overrides(train_dir, val_dir, epochs=1, samples=16),
        "trainer=ddp_cpu",
        f"hydra.run.dir={run}",
        "model/net=mdsr",
        "data.scale=[2,3]",
        "model.net.scales=[2,3]",
        "model.net.num_block=1",
        "model.net.num_feat=8",
        "callbacks.step_checkpoint.every_n_train_steps=null",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 2  # 16 samples / 2 ranks / batch 4
    rows = list(csv.DictReader(open(next((run / "csv").rglob("metrics.csv")))))
    assert any(r.get("val/x2/psnr") for r in rows) and any(r.get("val/x3/psnr") for r in rows)
