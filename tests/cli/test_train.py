"""srlab-train: fast dev runs, the end-to-end run, multiruns, config errors, the Hydra glue, and
what a run logs to its dashboards (model size with MACs, throughput, the W&B summary)."""

from __future__ import annotations

import csv

import pytest
import yaml
from omegaconf import OmegaConf

from srlab.cli.train import train
from tests.helpers import ESPCN_X3_MACS, compose, run_cli, tiny_run_overrides, wandb_record


@pytest.mark.parametrize("net", ["espcn", "srcnn"])
def test_fast_dev_run_each_net(tmp_path, net):
    cfg = compose([f"model/net={net}", "debug=fdr", "data.scale=2"], output_dir=tmp_path)
    metrics, objects = train(cfg)
    assert "train/loss" in metrics and "val/psnr" in metrics
    assert objects["model"].net.scale == 2


@pytest.mark.slow
def test_end_to_end_training_improves_psnr(trained):
    ckpt, metrics, before = trained
    assert ckpt.exists() and (ckpt.parent / "last.ckpt").exists()
    assert metrics["val/psnr"] > before + 3.0, (before, metrics["val/psnr"])
    assert list((ckpt.parent.parent / "csv").rglob("metrics.csv"))
    assert list(ckpt.parent.parent.rglob("val_images/*.png"))


@pytest.mark.slow
def test_multirun(tmp_path):
    res = run_cli(
        "srlab-train",
        "-m",
        "model/net=espcn,srcnn",
        "data.scale=2,3",
        "debug=fdr",
        f"hydra.sweep.dir={tmp_path}",
        "data.samples_per_epoch=32",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert jobs == ["0", "1", "2", "3"], jobs
    assert all((tmp_path / j / ".hydra" / "overrides.yaml").exists() for j in jobs)


@pytest.mark.slow  # srlab-train in three fresh processes
def test_config_errors_are_one_sentence(tmp_path):
    res = run_cli("srlab-train", "no_such_key=1", f"hydra.run.dir={tmp_path}")
    assert res.returncode != 0 and "no_such_key" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("srlab-train", "data=folder", "debug=fdr", f"hydra.run.dir={tmp_path}")
    assert res.returncode == 2 and "data.train_dir" in res.stderr and "Traceback" not in res.stderr
    res = run_cli(
        "srlab-train",
        "data=folder",
        f"data.train_dir={tmp_path}/none",
        f"data.val_dir={tmp_path}/none",
        "debug=fdr",
        f"hydra.run.dir={tmp_path}",
    )
    assert (
        res.returncode == 2
        and "image folder not found" in res.stderr
        and "Traceback" not in res.stderr
    )


@pytest.mark.parametrize("multi_scale", [True, False])
def test_train_sets_find_unused_parameters_in_the_config(compose_cfg, multi_scale):
    from srlab.cli.train import _allow_unused_heads_under_ddp

    class Model:
        pass

    model = Model()
    model.multi_scale = multi_scale
    cfg = compose_cfg(["trainer=ddp_cpu"])
    _allow_unused_heads_under_ddp(cfg, model)
    strategy = OmegaConf.to_container(cfg.trainer.strategy)
    assert strategy.get("find_unused_parameters") is (True if multi_scale else None)
    assert strategy["timeout"] == {"_target_": "datetime.timedelta", "minutes": 10}
    cfg = compose_cfg(["trainer=ddp_cpu", "trainer.strategy=ddp"])
    _allow_unused_heads_under_ddp(cfg, model)
    assert cfg.trainer.strategy == ("ddp_find_unused_parameters_true" if multi_scale else "ddp")


def test_runs_of_one_multirun_share_a_wandb_group():
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from srlab.cli.train import _group_multirun_in_wandb

    cfg = compose(
        ["logger=wandb", "hydra.mode=MULTIRUN", "hydra.sweep.dir=/tmp/multirun/sweep42"],
        return_hydra_config=True,
    )
    HydraConfig.instance().set_config(cfg)
    try:
        job = cfg.copy()
        with open_dict(job):
            del job["hydra"]
        _group_multirun_in_wandb(job)
        assert job.logger.wandb.group == "train/sweep42"
        job.logger.wandb.group = "mine"  # an explicit group stays
        _group_multirun_in_wandb(job)
        assert job.logger.wandb.group == "mine"
    finally:
        HydraConfig.instance().cfg = None


def test_train_config_auto(compose_cfg, image_folder):
    from srlab.cli.train import train

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


def test_train_logs_model_size_throughput_and_a_wandb_summary(
    tmp_path, image_folder, offline_wandb
):
    folder = image_folder(sizes=((36, 36), (36, 48)))
    overrides = [
        "data=folder",
        *tiny_run_overrides(folder, hr_patch_size=18),
        "logger=[csv,wandb]",
        "data.samples_per_epoch=4",
        "trainer.max_epochs=1",
        "trainer.log_every_n_steps=1",
    ]
    out = tmp_path / "run"
    train(compose(overrides, output_dir=out))
    hparams = yaml.safe_load(next((out / "csv").rglob("hparams.yaml")).read_text())
    assert hparams["model_size"] == {"params": 22_729, "macs_720p_hr": {"x3": ESPCN_X3_MACS}}
    assert hparams["protocol"].startswith("bicubic-matlab x3, y-bt601")
    with open(next((out / "csv").rglob("metrics.csv"))) as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/samples_per_sec")]
    assert len(rows) == 2  # the throughput of each of the two steps
    for r in rows:  # the HR pixels counted per sample: 18 x 18 patches
        mpix_per_sample = float(r["train/hr_mpix_per_sec"]) / float(r["train/samples_per_sec"])
        assert mpix_per_sample == pytest.approx(18 * 18 / 1e6)
    (run,) = (out / "wandb").glob("offline-run-*")
    # the run was finished: a second job in this process (a Hydra multirun) gets a run of its own
    train(compose(overrides, output_dir=tmp_path / "run2"))
    (run2,) = (tmp_path / "run2" / "wandb").glob("offline-run-*")
    assert run2.name.rsplit("-", 1)[1] != run.name.rsplit("-", 1)[1]
    record = wandb_record(run)
    for needle in (
        b"espcn",
        b"y-bt601",
        b"bicubic-matlab",
        b'"macs_720p_hr"',
        str(ESPCN_X3_MACS).encode(),
        b"train/samples_per_sec",
    ):
        assert needle in record, needle
