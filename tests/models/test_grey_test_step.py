"""The training-time test (srlab-train test=true, SRModule.test_step) scores grey files by the
protocol's grey rule, exactly as srlab-eval does (tests/metrics/test_grey_protocol.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from srlab.archs import ESPCN
from srlab.data import ImageFolder, SRDataModule
from srlab.data.datasets import WholeImageDataset
from srlab.data.sources import prepare_pair
from srlab.evaluation import evaluate_sets
from srlab.models import SRModule

from ..conftest import make_photo

SCALE = 2


@pytest.fixture
def mixed_set(tmp_path):
    """A grey BMP (Set14's bridge.bmp), and a colour PNG."""
    photo = make_photo(38, 45, seed=5)
    grey = (photo.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "bridge.bmp")
    Image.fromarray(make_photo(40, 36, seed=6)).save(tmp_path / "baby.png")
    return tmp_path


def _test_metrics(model: SRModule, folder) -> dict[str, float]:
    dm = SRDataModule(SCALE, test={"set": ImageFolder(folder)})
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.test(model, datamodule=dm, verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def test_eval_batches_carry_the_file_channel_count(mixed_set):
    ds = WholeImageDataset(
        [prepare_pair(r, SCALE) for r in ImageFolder(mixed_set).load(SCALE)], SCALE
    )
    channels = {ds[i]["name"]: ds[i]["file_channels"] for i in range(len(ds))}
    assert channels == {"bridge": 1, "baby": 3}
    assert ds[0]["hr"].shape[0] == 3  # the tensors stay RGB (the grey file replicated)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("grey_files", ["grey", "y"])
def test_test_step_scores_like_srlab_eval(mixed_set, in_channels, grey_files):
    torch.manual_seed(0)
    model = SRModule(ESPCN(scale=SCALE, in_channels=in_channels), grey_files=grey_files).eval()
    logged = _test_metrics(model, mixed_set)
    res = evaluate_sets(
        model, {"set": ImageFolder(mixed_set)}, save_images=False, grey_files=grey_files
    )
    rows = {r["name"]: r for r in res["sets"]["set"]["images"]}
    assert rows["bridge"].get("grey", False) is (grey_files == "grey")
    assert logged["test/set/psnr"] == pytest.approx(res["sets"]["set"]["model"]["psnr"], abs=1e-6)
    assert logged["test/set/ssim"] == pytest.approx(res["sets"]["set"]["model"]["ssim"], abs=1e-6)


def test_the_grey_rule_changes_the_score(mixed_set):
    """The two rules really differ on a grey file (else the test above proves nothing)."""
    torch.manual_seed(0)
    grey, y = (SRModule(ESPCN(scale=SCALE), grey_files=g).eval() for g in ("grey", "y"))
    y.load_state_dict(grey.state_dict())
    a, b = _test_metrics(grey, mixed_set), _test_metrics(y, mixed_set)
    assert abs(a["test/set/psnr"] - b["test/set/psnr"]) > 0.1
