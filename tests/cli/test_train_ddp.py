"""srlab-train trainer=ddp_cpu: a real multi-process DDP training on the CPU (gloo), metrics
reduced across ranks, a checkpoint that loads; and distributed training that never hangs: uneven
validation shards, every callback, GAN, a NaN on one rank, a rank killed or failing, the
collective timeout, tiled validation.

The multi-process tests run ``srlab-train trainer=ddp_cpu`` (gloo) in a subprocess under a hard
``timeout=``: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

import srlab
from srlab.data import SRDataModule
from srlab.metrics import PSNR
from tests.helpers import checkpoint_weights, run_cli, tiny_x2_overrides

HANG_TIMEOUT = 240  # s: far above a passing run, so only a hang reaches it


def _metrics(run: Path) -> list[dict]:
    """The rows of the run's CSV log."""
    with open(next((run / "csv").rglob("metrics.csv"))) as f:
        return list(csv.DictReader(f))


def _last(rows: list[dict], key: str) -> float:
    return [float(r[key]) for r in rows if r.get(key)][-1]


def _ddp(
    train_dir: Path, val_dir: Path, run: Path, devices: int, samples: int = 16, epochs: int = 1
) -> list[str]:
    """A tiny ESPCN x2 ``trainer=ddp_cpu`` run (8x8 LR patches, batch 4) with every default
    callback on (PNG validation images included)."""
    return [
        "trainer=ddp_cpu",
        f"trainer.devices={devices}",
        f"hydra.run.dir={run}",
        *tiny_x2_overrides(train_dir, val_dir, epochs, samples, val_images=True),
    ]


def _one_process_psnr(ckpt: Path, val_dir: Path, scale: int = 2) -> list[float]:
    """Per-image PSNR of a checkpoint over every validation image, in one process."""
    from srlab.metrics import PSNR

    model = srlab.load_model(ckpt)
    dm = SRDataModule(scale, val_dir=str(val_dir), patch_size=8)
    dm.setup("validate")
    out = []
    with torch.no_grad():
        for item in dm.val_set:
            metric = PSNR(crop_border=scale, y_channel=True)
            metric(model(item["lr"][None], scale).clamp(0, 1), item["hr"][None])
            out.append(float(metric.compute()))
    return out


def _failure_run(
    image_folder, run: Path, samples: int = 32, epochs: int = 1, devices: int = 2
) -> list[str]:
    """Overrides of the failure-injection runs: the tiny DDP run on two made HR images and one
    validation image, without PNG validation images or sanity validation."""
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    return [
        *_ddp(train_dir, val_dir, run, devices=devices, samples=samples, epochs=epochs),
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
    ]


def _inject(name: str, cls: str, rank: int, step: int, **extra: object) -> list[str]:
    """``+callbacks.<name>=tests.helpers.<cls>(rank, step, **extra)`` as Hydra overrides."""
    args = {"rank": rank, "step": step, **extra}
    return [f"+callbacks.{name}._target_=tests.helpers.{cls}"] + [
        f"+callbacks.{name}.{k}={v}" for k, v in args.items()
    ]


def _one_error_line(res) -> str:
    """The run ended with exit status 2 and exactly one ``srlab: error:`` line (from rank 0)."""
    assert res.returncode == 2, res.stderr[-4000:]
    err = [line for line in res.stderr.splitlines() if line.startswith("srlab: error:")]
    assert len(err) == 1, res.stderr[-3000:]
    print(f"\n{err[0]}")
    return err[0]


@pytest.mark.slow  # three processes start: ~30-50 s on a busy 2-core machine
def test_two_process_cpu_ddp_training(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    # two validation images of different difficulty: rank 0 validates one, rank 1 the other
    val_dir = image_folder("val", sizes=((32, 40), (36, 32)))
    run = tmp_path / "ddp"
    res = run_cli(
        "srlab-train",
        *tiny_x2_overrides(train_dir, val_dir, epochs=1, samples=32),
        "trainer=ddp_cpu",
        f"hydra.run.dir={run}",
        "callbacks.step_checkpoint.every_n_train_steps=null",
    )
    assert res.returncode == 0, res.stderr[-4000:]
    rows = _metrics(run)
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
    res = run_cli(
        "srlab-train",
        *tiny_x2_overrides(train_dir, val_dir, epochs=1, samples=16),
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
    rows = _metrics(run)
    assert any(r.get("val/x2/psnr") for r in rows) and any(r.get("val/x3/psnr") for r in rows)


# ---------------------------------------------------------------------- real DDP runs (gloo)
@pytest.mark.slow  # two processes
def test_two_ranks_one_validation_image_every_callback_tiled(tmp_path, image_folder):
    """The reported hang: 2 ranks, 1 validation image (rank 1's shard is padding). Every srlab
    callback on (EMA, PNG images, throughput, NaN check, gradient clipping, loss schedule, step
    checkpoints, LR monitor) and tiled validation; val/psnr = the one-process value."""
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    res = run_cli(
        "srlab-train",
        *_ddp(train_dir, val_dir, run, devices=2),
        "model.val_tile=12",
        "+callbacks.ema._target_=srlab.callbacks.EMA",
        "+callbacks.ema.decay=0.5",
        "callbacks.step_checkpoint.every_n_train_steps=1",
        "+callbacks.clip._target_=srlab.callbacks.AdjustableGradientClipping",
        "+callbacks.schedule._target_=srlab.callbacks.LossWeightSchedule",
        "+callbacks.schedule.attribute=weights.l1",
        "+callbacks.schedule.interval=step",
        "+callbacks.schedule.duration=2",
        "+callbacks.schedule.end=0.5",
        "callbacks.throughput.log_every_n_steps=1",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    rows = _metrics(run)
    assert any(r.get("train/samples_per_sec") for r in rows) and any(
        r.get("train/weights.l1") for r in rows
    )
    assert list(run.rglob("val_images/*.png"))  # rank 0 wrote its picture, without a collective
    ckpt = run / "checkpoints" / "last.ckpt"
    (psnr,) = _one_process_psnr(ckpt, val_dir)  # EMA weights: validated and saved
    assert abs(_last(rows, "val/psnr") - psnr) < 1e-4


@pytest.mark.slow  # three processes
def test_three_ranks_one_validation_image(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    res = run_cli(
        "srlab-train",
        *_ddp(train_dir, val_dir, run, devices=3, samples=24),
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    (psnr,) = _one_process_psnr(run / "checkpoints" / "last.ckpt", val_dir)
    assert abs(_last(_metrics(run), "val/psnr") - psnr) < 1e-4


@pytest.mark.slow  # four processes
def test_multiscale_net_four_ranks_five_images_uneven_shards(tmp_path, image_folder):
    """MDSR x2/x3 on 4 ranks, 5 validation images per scale (shards 2+1+1+1): each rank steps
    through both loaders; val/x2/psnr, val/x3/psnr are the one-process means over all images."""
    train_dir = image_folder("hr", sizes=((48, 48), (54, 48)))
    val_dir = image_folder("val", sizes=((36, 36), (30, 42), (42, 30), (36, 48), (48, 36)))
    run = tmp_path / "run"
    res = run_cli(
        "srlab-train",
        *_ddp(train_dir, val_dir, run, devices=4, samples=16),
        "model/net=mdsr",
        "data.scale=[2,3]",
        "model.net.scales=[2,3]",
        "model.net.num_block=1",
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    rows = _metrics(run)
    model = srlab.load_model(run / "checkpoints" / "last.ckpt")
    dm = SRDataModule([2, 3], val_dir=str(val_dir), patch_size=8)
    one = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        model, datamodule=dm, verbose=False
    )
    one = {k: v for d in one for k, v in d.items()}
    for key in ("val/x2/psnr", "val/x3/psnr", "val/psnr"):
        assert abs(_last(rows, key) - one[key]) < 1e-4, key


@pytest.mark.slow  # two processes
def test_gan_under_ddp_then_nan_on_rank_1_stops_every_rank(tmp_path, image_folder):
    """model=gan trains and validates an epoch on 2 ranks; then rank 1's loss turns NaN: both
    ranks stop at the same step, one line names rank 1 and the untouched last checkpoint."""
    run = tmp_path / "run"
    gan = [
        "model=gan",
        "model/net=srresnet",
        "model/disc=esrgan",
        "loss=esrgan",
        "loss.terms.percep.vgg_weights=random",
        "model.net.num_block=1",
        "model.disc.num_feat=4",
        "model.lpips_net=null",
        "data.patch_size=16",
    ]
    res = run_cli(
        "srlab-train",
        *_failure_run(image_folder, run, samples=16, epochs=3),
        *gan,
        *_inject("nan", "NaNOnRankAtStep", rank=1, step=4),
        timeout=HANG_TIMEOUT,
    )
    last = run / "checkpoints" / "last.ckpt"
    err = _one_error_line(res)
    assert "loss is NaN on rank 1" in err and str(last) in err, err
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert (
        state["global_step"] == 4 and state["epoch"] == 0
    )  # epoch 1 (2 batches, G+D steps), validated
    assert all(
        torch.isfinite(v).all() for v in checkpoint_weights(last).values() if v.is_floating_point()
    )
    assert any(r.get("val/psnr") for r in _metrics(run))


@pytest.mark.slow  # two processes, killed, then resumed
def test_killed_rank_ends_the_run_with_one_line_then_it_resumes(tmp_path, image_folder):
    run = tmp_path / "run"
    base = [
        *_failure_run(image_folder, run, samples=64),
        "callbacks.step_checkpoint.every_n_train_steps=2",
    ]
    # rank 0 must notice the dead rank and stop: without the watchdog it waits in the next
    # collective until the process-group timeout (10 minutes), past HANG_TIMEOUT
    res = run_cli(
        "srlab-train",
        *base,
        *_inject("kill", "KillRankAtStep", rank=1, step=5),
        timeout=HANG_TIMEOUT,
    )
    err = _one_error_line(res)
    last = run / "checkpoints" / "last.ckpt"
    assert "rank 1" in err and "SIGKILL" in err and f"ckpt_path={last}" in err, err
    # the last checkpoint is the one before the kill, mid-epoch (of 8 steps)
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 4
    res = run_cli("srlab-train", *base, f"ckpt_path={last}", timeout=HANG_TIMEOUT)
    assert res.returncode == 0, res.stderr[-4000:]
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 8


@pytest.mark.slow  # two processes
def test_data_error_on_one_rank_is_named_by_rank_0(tmp_path, image_folder):
    run = tmp_path / "run"
    res = run_cli(
        "srlab-train",
        *_failure_run(image_folder, run),
        *_inject("bad", "RaiseOnRankAtStep", rank=1, step=2),
        timeout=HANG_TIMEOUT,
    )
    err = _one_error_line(res)
    assert "rank 1 failed at step 2: ValueError: cannot decode image 0007.png (injected)" in err
    assert "Traceback" not in res.stderr
    assert "ValueError" in (run / "rank1_error.txt").read_text()


@pytest.mark.slow  # two processes
def test_collective_timeout_ends_a_hang_naming_the_collective(tmp_path, image_folder):
    """A rank that never reaches a collective (here: asleep): the others' collective times out
    (the process-group timeout, 3 s here, trainer.strategy.timeout in the configs) and the run
    ends with one line naming the collective, instead of hanging."""
    run = tmp_path / "run"
    res = run_cli(
        "srlab-train",
        *_failure_run(image_folder, run),
        *_inject("stall", "StallRankAtStep", rank=1, step=1, sleep_s=40),
        timeout=HANG_TIMEOUT,
    )
    err = _one_error_line(res)
    assert "a collective" in err and "failed on rank 0" in err, err
