from pathlib import Path

import pytest
from omegaconf import OmegaConf

from srlab.cli.common import CONF_DIR
from srlab.cli.train import train

from .conftest import compose_at, run_cli

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("net", ["espcn", "srcnn"])
def test_fast_dev_run_each_net(tmp_path, net):
    cfg = compose_at(tmp_path, [f"model/net={net}", "debug=fdr", "data.scale=2"])
    metrics, objects = train(cfg)
    assert "train/loss" in metrics and "val/psnr" in metrics
    assert objects["model"].net.scale == 2


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_config_runs(tmp_path, image_folder, experiment):
    probe = compose_at(tmp_path, [f"experiment={experiment}"])
    overrides = [f"experiment={experiment}", "debug=fdr", "data.num_workers=0"]
    if "train_dir" in probe.data:  # experiments on real data sets get a folder made here
        d = probe.data
        scales = (
            list(d.scale) if OmegaConf.is_list(d.scale) else [d.scale]
        )  # multi-scale nets list several
        hr_patch = max(d.get("hr_patch_size") or 0, (d.get("patch_size") or 0) * max(scales))
        side = max(96, hr_patch + 12) // 12 * 12  # divisible by every scale 2, 3, 4
        folder = image_folder(sizes=((side, side + 24), (side, side)))
        val = image_folder(
            "val", sizes=((48, 72),)
        )  # small (x2..x8): validation runs once per scale
        overrides += [f"data.train_dir={folder}", f"data.val_dir={val}", "data.batch_size=2"]
    if OmegaConf.is_missing(probe, "stage1_ckpt"):  # GAN stages name their PSNR-stage checkpoint
        overrides.append("init_from=null")
    for name, term in (
        (probe.get("loss") or {}).get("terms") or {}
    ).items():  # VGG losses: no ImageNet weights here
        if OmegaConf.is_dict(term) and "vgg_weights" in term:
            overrides.append(f"loss.terms.{name}.vgg_weights=random")
    overrides += list(probe.get("smoke_test_overrides") or [])  # e.g. a shallower trunk on the CPU
    metrics, _ = train(compose_at(tmp_path, overrides))
    assert metrics["train/loss"] == metrics["train/loss"]  # finite, not NaN


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
