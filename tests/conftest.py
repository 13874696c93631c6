"""Fixtures shared by the whole suite: configs composed the way srlab-train composes them, tiny
image folders, small checkpoints, an empty torch hub, an offline W&B, one intra-op thread.

Plain helpers (no fixtures) are in ``tests/helpers.py``; fixtures that one folder alone needs are
in that folder's ``conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.helpers import compose, make_photo, one_torch_thread, small_model, write_checkpoint

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HYDRA_FULL_ERROR", "0")
# tests never download (pretrained weights of LPIPS/DISTS/VGG losses): a missing file is an error
os.environ.setdefault("SRLAB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs torch on one intra-op thread: the tests run tiny tensors, for which one
    thread is faster, and on a shared, loaded machine the default thread pool spins and makes
    small convolutions many times slower. (Entry points run in a subprocess get
    ``OMP_NUM_THREADS=1`` from :func:`tests.helpers.run_cli`.)"""
    with one_torch_thread():
        yield


@pytest.fixture
def compose_cfg(tmp_path):
    """``compose_cfg(overrides, config_name="train", output_dir=None)``: the composed config,
    ``paths.output_dir`` in ``tmp_path / "run"`` unless given (see :func:`tests.helpers.compose`).
    """

    def _compose(overrides=(), config_name="train", output_dir=None):
        return compose(overrides, config_name, output_dir or tmp_path / "run")

    return _compose


@pytest.fixture
def image_folder(tmp_path):
    """``image_folder(name, sizes, ext=".png", sub=None)``: a folder of photos made in the test
    (every second one in the subfolder ``sub`` when given)."""

    def _make(name="hr", sizes=((48, 60), (51, 45)), ext=".png", sub=None):
        root = tmp_path / name
        for i, (h, w) in enumerate(sizes):
            d = root / sub if sub and i % 2 else root
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(make_photo(h, w, seed=i)).save(d / f"{i:04d}{ext}")
        return root

    return _make


@pytest.fixture
def ckpt(tmp_path):
    """``ckpt(name="espcn")``: the path of a checkpoint of the small network ``name`` of
    :data:`tests.helpers.SMALL_SPECS` (random weights, no training run)."""

    def _make(name: str = "espcn") -> Path:
        model = small_model(name)
        return write_checkpoint(
            tmp_path / f"{name}.ckpt", model.net, model.net_spec, scale=model.scale
        )

    return _make


@pytest.fixture
def torch_hub(tmp_path, monkeypatch):
    """An empty torch hub directory for the test, downloads off (``SRLAB_OFFLINE=1``); the hub
    directory is restored afterwards."""
    monkeypatch.setenv("SRLAB_OFFLINE", "1")
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(before)


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    """W&B in offline mode, its artifact staging (the logged images) in ``tmp_path /
    "wandb_data"``, which is returned. Read a run's record with
    :func:`tests.helpers.wandb_record`."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))
    return tmp_path / "wandb_data"


@pytest.fixture(scope="session")
def mdsr_run(tmp_path_factory):
    """A tiny MDSR trained a few steps on x2/x3/x4 (one scale per batch), once per session:
    ``(checkpoint, trainer metrics, scales of the training batches, HR folder)``."""
    import pytorch_lightning as pl

    from srlab.archs import MDSR
    from srlab.data import SRDataModule
    from srlab.losses import L1Loss, WeightedSum
    from srlab.models import SRModule

    class Recorder(pl.Callback):
        def __init__(self):
            self.scales = []

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            self.scales.append(int(batch["scale"][0]))

    root = tmp_path_factory.mktemp("ms")
    hr = root / "hr"
    hr.mkdir()
    for i, (h, w) in enumerate(((48, 60), (36, 48))):
        Image.fromarray(make_photo(h, w, seed=i)).save(hr / f"{i}.png")
    torch.manual_seed(0)
    spec = {
        "_target_": "srlab.archs.MDSR",
        "scale": [2, 3, 4],
        "scales": [2, 3, 4],
        "num_feat": 8,
        "num_block": 1,
    }
    module = SRModule(
        MDSR(scale=[2, 3, 4], num_feat=8, num_block=1),
        loss=WeightedSum({"l1": L1Loss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        net_spec=spec,
    )
    dm = SRDataModule(
        [2, 3, 4],
        train_dir=str(hr),
        val_dir=str(hr),
        patch_size=6,
        batch_size=2,
        samples_per_epoch=40,
    )
    rec = Recorder()
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[rec],
        default_root_dir=root,
    )
    with one_torch_thread():  # set up before the autouse fixture of the test that asks first
        trainer.fit(module, datamodule=dm)
    ckpt = root / "mdsr.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, {k: float(v) for k, v in trainer.callback_metrics.items()}, rec.scales, hr
