"""srlab-train and dashboards: protocol tags, model size with MACs, throughput, W&B summary."""

from __future__ import annotations

import csv

import yaml

from srlab.cli.dashboard import add_wandb_tags, protocol_tags
from srlab.cli.train import build_module, train

from ..conftest import tiny_run_overrides
from .conftest import compose_at
from .test_evaluate_dashboards import ESPCN_X3_MACS


def test_protocol_tags_are_added_to_the_configured_wandb_tags(tmp_path):
    cfg = compose_at(tmp_path, ["logger=wandb", "tags=[dev,espcn]"])
    add_wandb_tags(cfg, protocol_tags(build_module(cfg), cfg.data))
    assert list(cfg.logger.wandb.tags) == ["dev", "espcn", "x3", "y-bt601", "bicubic-matlab"]
    deg = "+data.degradation={steps:[{blur:{sigma:1}},{bicubic:{}},{noise:{sigma:5}}]}"
    cfg = compose_at(
        tmp_path,
        ["model/net=srcnn", "model.net.in_channels=3", "model.metric_y_channel=false", deg],
    )
    assert protocol_tags(build_module(cfg), cfg.data) == [
        "srcnn",
        "x3",
        "rgb",
        "degradation-blur+bicubic+noise",
    ]
    cfg = compose_at(tmp_path, ["logger=none"])
    add_wandb_tags(cfg, ["x3"])  # no W&B logger: nothing to tag, no error
    assert not cfg.get("logger")


def test_train_logs_model_size_throughput_and_a_wandb_summary(tmp_path, image_folder, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
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
    train(compose_at(out, overrides))
    hparams = yaml.safe_load(next((out / "csv").rglob("hparams.yaml")).read_text())
    assert hparams["model_size"] == {"params": 22_729, "macs_720p_hr": {"x3": ESPCN_X3_MACS}}
    assert hparams["protocol"].startswith("bicubic-matlab x3, y-bt601")
    with open(next((out / "csv").rglob("metrics.csv"))) as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/samples_per_sec")]
    assert len(rows) == 2 and all(float(r["train/samples_per_sec"]) > 0 for r in rows)  # one a step
    assert all(float(r["train/hr_mpix_per_sec"]) > 0 for r in rows)
    (run,) = (out / "wandb").glob("offline-run-*")
    record = next(run.glob("run-*.wandb")).read_bytes()
    for needle in (
        b"espcn",
        b"y-bt601",
        b"bicubic-matlab",
        b'"macs_720p_hr"',
        str(ESPCN_X3_MACS).encode(),
        b"train/samples_per_sec",
    ):
        assert needle in record, needle
    # the run was finished: a second job in this process (a Hydra multirun) gets a run of its own
    train(compose_at(tmp_path / "run2", overrides))
    (run2,) = (tmp_path / "run2" / "wandb").glob("offline-run-*")
    assert run2.name.rsplit("-", 1)[1] != run.name.rsplit("-", 1)[1]
