"""Distributed training that never hangs: uneven validation shards, every callback, GAN, a NaN
on one rank, a rank killed or failing, the collective timeout, tiled validation.

The multi-process tests run ``srlab-train trainer=ddp_cpu`` (gloo) in a subprocess under a hard
``timeout=``: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

import srlab
from srlab.archs import ESPCN
from srlab.data import SRDataModule
from srlab.data.sampling import EvalShardSampler, PaddedEvalDataset
from srlab.losses import L1Loss, WeightedSum
from srlab.models import SRModule

from .helpers import run_train, weights

HANG_TIMEOUT = 240  # s: far above a passing run, so only a hang reaches it


def _metrics(run: Path) -> list[dict]:
    return list(csv.DictReader(open(next((run / "csv").rglob("metrics.csv")))))


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
        "data=folder",
        f"data.train_dir={train_dir}",
        f"data.val_dir={val_dir}",
        "data.scale=2",
        "data.patch_size=8",
        "data.batch_size=4",
        f"data.samples_per_epoch={samples}",
        "data.num_workers=0",
        "model.net.num_feat=8",
        "logger=csv",
        f"trainer.max_epochs={epochs}",
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "seed=7",
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


# ---------------------------------------------------------------------- in one process (fast)
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_eval_shards_hold_every_image_once_and_the_same_number_of_steps(n, world):
    shards = [list(EvalShardSampler(range(n), num_replicas=world, rank=r)) for r in range(world)]
    assert len({len(s) for s in shards}) == 1  # every rank runs the same number of steps
    real = sorted(i for s in shards for i, pad in s if not pad)
    assert real == list(range(n))  # each image exactly once
    assert all(0 <= i < n for s in shards for i, _ in s)  # padding repeats a real image


def _tiny_module(val_tile=None) -> SRModule:
    torch.manual_seed(0)
    net = ESPCN(scale=2, num_feat=8)
    return SRModule(net, WeightedSum({"l1": L1Loss()}, {"l1": 1.0}), val_tile=val_tile)


def _val_metrics_as_ranks(module: SRModule, ds, world: int) -> float:
    """Validation of ``ds`` split over ``world`` simulated ranks (each its padded shard, its own
    copy of the metrics), the metric states then summed as DDP's reduction does."""
    import copy

    total_sum, total_count = 0.0, 0
    for rank in range(world):
        m = copy.deepcopy(module).eval()
        loader = DataLoader(
            PaddedEvalDataset(ds), batch_size=1, sampler=EvalShardSampler(ds, world, rank)
        )
        m.log = lambda *a, **k: None  # no trainer
        with torch.no_grad():
            for batch in loader:
                m.validation_step(batch, 0)
        total_sum += float(m.val_psnr.sum)
        total_count += int(m.val_psnr.count)
    assert total_count == len(ds)
    return total_sum / total_count


def test_ddp_val_psnr_is_the_mean_over_all_images_with_uneven_shards(image_folder):
    """5 images over 2, 3, 4 ranks (shards 3+2, 2+2+1, 2+1+1+1): padding is never measured, so
    the reduced val/psnr is the one-process mean, whole or tiled (tiles of 12 LR px)."""
    val_dir = image_folder("val", sizes=((40, 44), (36, 32), (44, 40), (32, 36), (28, 40)))
    dm = SRDataModule(2, val_dir=str(val_dir), patch_size=8)
    dm.setup("validate")
    module = _tiny_module()
    one = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
        module, datamodule=dm, verbose=False
    )[0]["val/psnr"]
    for world in (2, 3, 4):
        assert abs(_val_metrics_as_ranks(module, dm.val_set, world) - one) < 1e-6
    tiled = _tiny_module(val_tile=12)
    tiled.load_state_dict(module.state_dict())
    for world in (1, 3):
        assert abs(_val_metrics_as_ranks(tiled, dm.val_set, world) - one) < 1e-4


def test_val_tile_matches_whole_image_validation(image_folder):
    """model.val_tile: the seam-free tiled forward (tiles smaller than the images) gives the
    untiled metrics within 1e-4 dB, in validation and test."""
    val_dir = image_folder("val", sizes=((48, 52), (40, 36)))
    dm = SRDataModule(2, val_dir=str(val_dir), test={"set": str(val_dir)}, patch_size=8)
    kw = dict(logger=False, enable_progress_bar=False, enable_model_summary=False)
    whole, tiled = _tiny_module(), _tiny_module(val_tile=10)
    a = pl.Trainer(**kw).validate(whole, datamodule=dm, verbose=False)[0]
    b = pl.Trainer(**kw).validate(tiled, datamodule=dm, verbose=False)[0]
    assert abs(a["val/psnr"] - b["val/psnr"]) < 1e-4 and abs(a["val/ssim"] - b["val/ssim"]) < 1e-6
    ta = pl.Trainer(**kw).test(whole, datamodule=dm, verbose=False)[0]
    tb = pl.Trainer(**kw).test(tiled, datamodule=dm, verbose=False)[0]
    assert abs(ta["test/set/psnr"] - tb["test/set/psnr"]) < 1e-4
    with pytest.raises(srlab.SRLabError, match="val_tile"):
        _tiny_module(val_tile=0)


def test_srlab_eval_tile_gives_the_untiled_metrics(image_folder):
    from srlab.cli.evaluate import _tiled
    from srlab.data.sources import ImageFolder
    from srlab.evaluation import evaluate_sets

    val_dir = image_folder("val", sizes=((48, 52),))
    model = _tiny_module().eval()
    sets = {"s": ImageFolder(str(val_dir))}
    a = evaluate_sets(model, sets, save_images=False)["sets"]["s"]["model"]["psnr"]
    b = evaluate_sets(_tiled(model, 10), sets, save_images=False)["sets"]["s"]["model"]["psnr"]
    assert abs(a - b) < 1e-4
    assert _tiled(model, None) is model
    with pytest.raises(srlab.SRLabError, match="tile must be"):
        _tiled(model, 0)


# ---------------------------------------------------------------------- real DDP runs (gloo)
@pytest.mark.slow  # two processes
def test_two_ranks_one_validation_image_every_callback_tiled(tmp_path, image_folder):
    """The reported hang: 2 ranks, 1 validation image (rank 1's shard is padding). Every srlab
    callback on (EMA, PNG images, throughput, NaN check, gradient clipping, loss schedule, step
    checkpoints, LR monitor) and tiled validation; val/psnr = the one-process value."""
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    res = run_train(
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
    res = run_train(
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
    res = run_train(
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
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
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
    res = run_train(
        *_ddp(train_dir, val_dir, run, devices=2, samples=16, epochs=3),
        *gan,
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        "+callbacks.nan._target_=tests.scale.helpers.NaNOnRankAtStep",
        "+callbacks.nan.rank=1",
        "+callbacks.nan.step=4",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 2, res.stderr[-4000:]
    last = run / "checkpoints" / "last.ckpt"
    err = [line for line in res.stderr.splitlines() if line.startswith("srlab: error:")]
    assert len(err) == 1, res.stderr[-3000:]  # one line, from rank 0
    assert "loss is NaN on rank 1" in err[0] and str(last) in err[0], err
    print(f"\n{err[0]}")
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert (
        state["global_step"] == 4 and state["epoch"] == 0
    )  # epoch 1 (2 batches, G+D steps), validated
    assert all(torch.isfinite(v).all() for v in weights(last).values() if v.is_floating_point())
    assert any(r.get("val/psnr") for r in _metrics(run))


@pytest.mark.slow  # two processes, killed, then resumed
def test_killed_rank_ends_the_run_with_one_line_then_it_resumes(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    base = [
        *_ddp(train_dir, val_dir, run, devices=2, samples=64),
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        "callbacks.step_checkpoint.every_n_train_steps=2",
    ]
    t0 = time.time()
    res = run_train(
        *base,
        "+callbacks.kill._target_=tests.scale.helpers.KillRankAtStep",
        "+callbacks.kill.rank=1",
        "+callbacks.kill.step=5",
        timeout=HANG_TIMEOUT,
    )
    ended = time.time()
    killed_at = float((run / "killed_at").read_text())
    assert res.returncode == 2, res.stderr[-4000:]
    assert ended - killed_at < 60, (ended - killed_at, ended - t0)
    err = [line for line in res.stderr.splitlines() if line.startswith("srlab: error:")]
    last = run / "checkpoints" / "last.ckpt"
    assert (
        len(err) == 1
        and "rank 1" in err[0]
        and "SIGKILL" in err[0]
        and f"ckpt_path={last}" in err[0]
    ), res.stderr[-3000:]
    print(f"\nrank 1 killed -> rank 0 exited after {ended - killed_at:.1f} s: {err[0]}")
    assert (
        torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 4
    )  # mid-epoch (of 8)
    res = run_train(*base, f"ckpt_path={last}", timeout=HANG_TIMEOUT)
    assert res.returncode == 0, res.stderr[-4000:]
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 8


@pytest.mark.slow  # two processes
def test_data_error_on_one_rank_is_named_by_rank_0(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    t0 = time.time()
    res = run_train(
        *_ddp(train_dir, val_dir, run, devices=2, samples=32),
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        "+callbacks.bad._target_=tests.scale.helpers.RaiseOnRankAtStep",
        "+callbacks.bad.rank=1",
        "+callbacks.bad.step=2",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 2, res.stderr[-4000:]
    err = [line for line in res.stderr.splitlines() if line.startswith("srlab: error:")]
    assert len(err) == 1, res.stderr[-3000:]
    assert (
        "rank 1 failed at step 2: ValueError: cannot decode image 0007.png (injected)" in err[0]
    ), err
    assert "Traceback" not in res.stderr
    assert "ValueError" in (run / "rank1_error.txt").read_text()
    print(f"\ndata error run ended in {time.time() - t0:.1f} s: {err[0]}")


@pytest.mark.slow  # two processes
def test_collective_timeout_ends_a_hang_naming_the_collective(tmp_path, image_folder):
    """A rank that never reaches a collective (here: asleep): the others' collective times out
    (the process-group timeout, 3 s here, trainer.strategy.timeout in the configs) and the run
    ends with one line naming the collective, instead of hanging."""
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44)))
    val_dir = image_folder("val", sizes=((40, 44),))
    run = tmp_path / "run"
    res = run_train(
        *_ddp(train_dir, val_dir, run, devices=2, samples=32),
        "~callbacks.val_images",
        "+trainer.num_sanity_val_steps=0",
        "+callbacks.stall._target_=tests.scale.helpers.StallRankAtStep",
        "+callbacks.stall.rank=1",
        "+callbacks.stall.step=1",
        "+callbacks.stall.sleep_s=40",
        timeout=HANG_TIMEOUT,
    )
    assert res.returncode == 2, res.stderr[-4000:]
    err = [line for line in res.stderr.splitlines() if line.startswith("srlab: error:")]
    assert len(err) == 1, res.stderr[-3000:]
    assert "a collective" in err[0] and "failed on rank 0" in err[0], err
    print(f"\n{err[0]}")


def test_ddp_configs_set_a_collective_timeout_in_minutes():
    from hydra.utils import instantiate

    from ..cli.conftest import compose_at

    for trainer in ("ddp", "ddp_cpu"):
        cfg = compose_at(Path("/tmp/x"), [f"trainer={trainer}"])
        assert instantiate(cfg.trainer.strategy)._timeout.total_seconds() == 600
        cfg = compose_at(
            Path("/tmp/x"), [f"trainer={trainer}", "trainer.strategy.timeout.minutes=3"]
        )
        assert instantiate(cfg.trainer.strategy)._timeout.total_seconds() == 180


def test_rank_0_names_the_first_failure_and_not_the_ranks_that_followed():
    """The diagnosis of RankFailureGuard: a posted error first, then a signal; ranks that only
    stopped because of another (status 3), or that rank 0 killed itself, are not blamed."""
    from srlab.callbacks.distributed import RankFailureGuard, is_collective_error

    class Proc:
        def __init__(self, pid, code):
            self.pid, self.code = pid, code

        def poll(self):
            return self.code

    guard = RankFailureGuard(grace_s=0.0)
    guard.world, guard.procs = 4, [Proc(11, -9), Proc(12, 3), Proc(13, None)]
    assert guard._failures() == ["rank 1 (pid 11) was killed by SIGKILL"]
    guard._posted = lambda: {3: "step 7: ValueError: bad image"}  # type: ignore[method-assign]
    assert guard._failures() == [
        "rank 3 failed at step 7: ValueError: bad image",
        "rank 1 (pid 11) was killed by SIGKILL",
    ]
    guard.step = 7
    assert guard.diagnose().startswith(
        "distributed training stopped near step 7: rank 3 failed at step 7"
    )
    assert is_collective_error(
        RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer")
    )
    assert not is_collective_error(ValueError("bad image")) and not is_collective_error(
        RuntimeError("timeout")
    )
