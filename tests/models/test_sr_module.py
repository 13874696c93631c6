"""SRModule: the input rules it applies (Y networks with bicubic chroma, pre-upsampling, valid
borders), training steps, one scale per batch of a multi-scale network, validation (mean over
ranks with uneven shards, tiled, self-ensemble) and the training-time test, which scores grey
files by the protocol's grey rule exactly as srlab-eval does."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader

import srlab
from srlab.archs import CARN, EDSR, ESPCN, SRCNN, VDSR
from srlab.core.color import rgb_to_ycbcr
from srlab.core.imresize import imresize
from srlab.data import ImageFolder, SRDataModule
from srlab.data.datasets import WholeImageDataset
from srlab.data.sampling import EvalShardSampler, PaddedEvalDataset
from srlab.data.sources import prepare_pair
from srlab.evaluation import evaluate_sets
from srlab.losses import L1Loss, MSELoss, WeightedSum
from srlab.models import SRModule
from srlab.speed import resolve_precision
from tests.helpers import make_photo, small_model


def _module(net):
    return SRModule(
        net,
        loss=WeightedSum({"l1": L1Loss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
    )


def test_y_network_merges_bicubic_chroma():
    class Identity(ESPCN):
        def forward(self, x):  # returns bicubic Y, so the whole output must equal bicubic RGB
            return imresize(x, self.scale)

    m = _module(Identity(scale=2))
    lr = torch.rand(2, 3, 10, 12)
    assert torch.allclose(m(lr), imresize(lr, 2), atol=1e-5)


def test_pre_upsampled_and_valid_border_contract():
    net = SRCNN(scale=3)  # valid convs, border 6, pre-upsampled Y
    m = _module(net)
    x, ycc = m.rules.net_input(torch.rand(1, 3, 11, 11), pad_border=False)
    assert x.shape == (1, 1, 33, 33) and ycc.shape == (1, 3, 11, 11)
    assert m.rules.target(torch.rand(1, 3, 33, 33)).shape == (1, 1, 21, 21)
    assert m(torch.rand(1, 3, 11, 13)).shape == (1, 3, 33, 39)  # padded at inference


def test_training_step_logs_and_learns():
    torch.manual_seed(0)
    m = _module(ESPCN(scale=2, in_channels=3))
    opt = m.configure_optimizers()
    batch = {"lr": torch.rand(4, 3, 8, 8), "hr": torch.rand(4, 3, 16, 16)}
    m.log = lambda *a, **k: None
    first = m.training_step(batch, 0).item()
    for _ in range(30):
        opt.zero_grad()
        m.training_step(batch, 0).backward()
        opt.step()
    assert m.training_step(batch, 0).item() < first


def test_rgb_to_ycbcr_used_for_y_nets_only():
    m = _module(ESPCN(scale=2, in_channels=3))
    x, ycc = m.rules.net_input(torch.rand(1, 3, 4, 4), pad_border=False)
    assert ycc is None and x.shape[1] == 3
    m = _module(ESPCN(scale=2))
    lr = torch.rand(1, 3, 4, 4)
    x, ycc = m.rules.net_input(lr, pad_border=False)
    assert torch.allclose(x, rgb_to_ycbcr(lr)[:, :1])
    warnings.simplefilter("ignore")


def test_module_with_auto_runs_nchw_on_cpu():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    module = SRModule(
        ESPCN(scale=2),
        loss=WeightedSum({"l2": MSELoss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        channels_last="auto",
    )
    batches = [{"lr": torch.rand(2, 3, 8, 8), "hr": torch.rand(2, 3, 16, 16)} for _ in range(2)]
    trainer = pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        precision=resolve_precision("auto", "cpu"),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    w = module.net.body[0].weight if hasattr(module.net, "body") else next(module.net.parameters())
    assert w.is_contiguous()  # NCHW, not channels_last, on the CPU
    assert trainer.precision == "32-true"


def test_training_samples_scales_and_validation_reports_each(mdsr_run):
    _, metrics, scales, _ = mdsr_run  # the scales of the 20 training batches
    assert len(scales) == 20 and set(scales) == {2, 3, 4}
    per_scale = [metrics[f"val/x{s}/psnr"] for s in (2, 3, 4)]
    assert metrics["val/psnr"] == pytest.approx(sum(per_scale) / 3, abs=1e-4)  # mean over scales
    assert all(f"val/x{s}/{k}" in metrics for s in (2, 3, 4) for k in ("ssim", "psnr_bicubic"))
    assert metrics["val/x2/psnr_bicubic"] > metrics["val/x4/psnr_bicubic"]  # each at its own scale


def test_module_feeds_the_batch_scale():
    vdsr = VDSR(scale=[2, 3, 4], num_feat=4, num_layer=3)  # pre-upsampled by the batch's scale
    m = _module(vdsr)
    x, _ycc = m.rules.net_input(torch.rand(1, 3, 5, 6), pad_border=False, scale=4)
    assert x.shape == (1, 1, 20, 24)
    assert m(torch.rand(1, 3, 5, 6), 3).shape == (1, 3, 15, 18)
    m.log = lambda *a, **k: None
    carn = _module(CARN(scale=2, num_feat=8))
    carn.log = lambda *a, **k: None
    for s in (2, 3, 4):
        batch = {
            "lr": torch.rand(2, 3, 4, 4),
            "hr": torch.rand(2, 3, 4 * s, 4 * s),
            "scale": torch.tensor([s, s]),
        }
        assert torch.isfinite(carn.training_step(batch, 0))
    mixed = {
        "lr": torch.rand(2, 3, 4, 4),
        "hr": torch.rand(2, 3, 8, 8),
        "scale": torch.tensor([2, 3]),
    }
    with pytest.raises(ValueError, match="one scale per batch"):
        carn.training_step(mixed, 0)
    # single-scale nets keep forward(x); other scales refused
    single = _module(ESPCN(scale=3))
    assert single.scales == (3,) and not single.multi_scale
    with pytest.raises(srlab.SRLabError, match="upscales x3, not x2"):
        single(torch.rand(1, 3, 4, 4), 2)


def test_fit_refuses_data_scales_the_network_does_not_serve(image_folder):
    hr = image_folder(sizes=((48, 48),))
    dm = SRDataModule([2, 3], train_dir=str(hr), patch_size=4, batch_size=2, samples_per_epoch=4)
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    with pytest.raises(
        srlab.SRLabError, match=r"data\.scale asks for x3 but the network \(EDSR\) upscales x2"
    ):
        trainer.fit(_module(EDSR(scale=2, num_feat=4, num_block=1)), datamodule=dm)


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


def test_validation_uses_the_self_ensemble_when_configured(monkeypatch):
    model = small_model("edsr")
    model.self_ensemble_val = True
    calls = []
    orig = model.forward_x8
    monkeypatch.setattr(
        model, "forward_x8", lambda lr, scale=None: calls.append(1) or orig(lr, scale)
    )
    batch = {"lr": torch.rand(1, 3, 10, 12), "hr": torch.rand(1, 3, 20, 24)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.validation_step(batch, 0)
    assert calls == [1]
