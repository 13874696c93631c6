"""Multi-scale networks end to end: training samples several scales, validation, evaluation and
upscaling report / serve every scale from one checkpoint."""

import json

import pytest
import pytorch_lightning as pl
import torch

import srlab
from srlab.archs import CARN, EDSR, ESPCN, MDSR, VDSR
from srlab.cli.evaluate import evaluate
from srlab.cli.upscale import run as upscale_cli
from srlab.data import SRDataModule
from srlab.evaluation import evaluate_sets, results_markdown
from srlab.losses import L1Loss, WeightedSum
from srlab.models import SRModule, load_model
from tests.cli.conftest import compose_at


def _module(net, spec):
    return SRModule(
        net,
        loss=WeightedSum({"l1": L1Loss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        net_spec=spec,
    )


class _Recorder(pl.Callback):
    def __init__(self):
        self.scales = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.scales.append(int(batch["scale"][0]))


@pytest.fixture(scope="module")
def mdsr_run(tmp_path_factory):
    """A tiny MDSR trained a few steps on x2/x3/x4: (checkpoint, trainer metrics, recorder)."""
    from PIL import Image

    from tests.conftest import make_photo

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
    module = _module(MDSR(scale=[2, 3, 4], num_feat=8, num_block=1), spec)
    dm = SRDataModule(
        [2, 3, 4],
        train_dir=str(hr),
        val_dir=str(hr),
        patch_size=6,
        batch_size=2,
        samples_per_epoch=40,
    )
    rec = _Recorder()
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[rec],
        default_root_dir=root,
    )
    trainer.fit(module, datamodule=dm)
    ckpt = root / "mdsr.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, {k: float(v) for k, v in trainer.callback_metrics.items()}, rec, hr


def test_training_samples_scales_and_validation_reports_each(mdsr_run):
    ckpt, metrics, rec, _ = mdsr_run
    assert len(rec.scales) == 20 and set(rec.scales) == {2, 3, 4}
    per_scale = [metrics[f"val/x{s}/psnr"] for s in (2, 3, 4)]
    assert metrics["val/psnr"] == pytest.approx(sum(per_scale) / 3, abs=1e-4)  # mean over scales
    assert all(f"val/x{s}/{k}" in metrics for s in (2, 3, 4) for k in ("ssim", "psnr_bicubic"))
    assert metrics["val/x2/psnr_bicubic"] > metrics["val/x4/psnr_bicubic"]  # each at its own scale


def test_checkpoint_serves_every_scale(mdsr_run):
    ckpt, _, _, _ = mdsr_run
    model = load_model(ckpt)
    assert model.scales == (2, 3, 4) and model.scale == 2 and model.multi_scale
    img = (torch.rand(3, 7, 9) * 255).to(torch.uint8)
    for s in (2, 3, 4):
        assert srlab.upscale(model, img, scale=s).shape == (3, 7 * s, 9 * s)
    assert srlab.upscale(model, img).shape == (3, 14, 18)  # the default scale
    with pytest.raises(srlab.SRLabError, match="upscales x2, x3, x4, not x5"):
        srlab.upscale(model, img, scale=5)


def test_evaluation_reports_every_scale(mdsr_run, tmp_path, capsys):
    ckpt, _, _, hr = mdsr_run
    model = load_model(ckpt)
    results = evaluate_sets(model, {"mine": srlab.data.ImageFolder(hr)}, save_images=False)
    assert list(results["sets"]) == ["mine/x2", "mine/x3", "mine/x4"]
    assert [r["scale"] for r in results["sets"].values()] == [2, 3, 4]
    assert [r["crop_border"] for r in results["sets"].values()] == [2, 3, 4]
    table = results_markdown(results)
    assert all(f"| mine | 2 | x{s} |" in table for s in (2, 3, 4))
    cfg = compose_at(
        tmp_path / "eval",
        [f"ckpt_path={ckpt}", f"test_sets.photos={hr}", "scales=[3,4]"],
        config_name="eval",
    )
    evaluate(cfg)
    out = capsys.readouterr().out
    assert "| photos | 2 | x3 |" in out and "| photos | 2 | x4 |" in out and "x2 |" not in out
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (
        saved["protocol"]["scale"] == [3, 4]
        and (tmp_path / "eval" / "compare" / "photos" / "x4").is_dir()
    )


def test_upscale_cli_scale_argument(mdsr_run, tmp_path, image_folder, capsys):
    ckpt, _, _, _ = mdsr_run
    folder = image_folder("in", sizes=((10, 12),))
    written = upscale_cli(
        [str(folder), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"), "--scale", "3"]
    )
    assert srlab.data.read_image(written[0]).shape == (3, 30, 36)
    with pytest.raises(SystemExit) as e:
        upscale_cli(
            [str(folder), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"), "--scale", "5"]
        )
    assert e.value.code == 2 and "upscales x2, x3, x4, not x5" in capsys.readouterr().err


def test_module_feeds_the_batch_scale():
    vdsr = VDSR(scale=[2, 3, 4], num_feat=4, num_layer=3)  # pre-upsampled by the batch's scale
    m = _module(vdsr, None)
    x, ycc = m.rules.net_input(torch.rand(1, 3, 5, 6), pad_border=False, scale=4)
    assert x.shape == (1, 1, 20, 24)
    assert m(torch.rand(1, 3, 5, 6), 3).shape == (1, 3, 15, 18)
    m.log = lambda *a, **k: None
    carn = _module(CARN(scale=2, num_feat=8), None)
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
    single = _module(
        ESPCN(scale=3), None
    )  # single-scale nets keep forward(x); other scales refused
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
        srlab.SRLabError, match="data.scale asks for x3 but the network .EDSR. upscales x2"
    ):
        trainer.fit(_module(EDSR(scale=2, num_feat=4, num_block=1), None), datamodule=dm)
