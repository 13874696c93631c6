"""Checkpoints (srlab.models.checkpoint): a checkpoint alone rebuilds its model, serves every scale
of a multi-scale network, initialises another network's weights; errors name the file."""

import pytest
import pytorch_lightning as pl
import torch

import srlab
from srlab.archs import ESPCN
from srlab.losses import L1Loss, WeightedSum
from srlab.models import SRModule, load_model, load_net_weights


def _module(net):
    spec = {
        "_target_": f"srlab.archs.{type(net).__name__}",
        "scale": net.scale,
        "in_channels": net.in_channels,
    }
    return SRModule(
        net,
        loss=WeightedSum({"l1": L1Loss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        net_spec=spec,
    )


def test_checkpoint_rebuilds_model_alone(tmp_path, image_folder):
    hr = image_folder(sizes=((36, 36), (30, 33)))
    dm = srlab.data.SRDataModule(
        3, train_dir=str(hr), val_dir=str(hr), patch_size=8, batch_size=2, samples_per_epoch=4
    )
    module = _module(ESPCN(scale=3))
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=dm)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    loaded = load_model(ckpt)
    assert not loaded.training and loaded.scale == 3
    lr = torch.rand(1, 3, 9, 9)
    module.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(lr), module(lr))
    up = srlab.upscale(loaded, (lr[0] * 255).round().to(torch.uint8))
    assert up.shape == (3, 27, 27) and up.min() >= 0 and up.max() <= 1


def test_weights_only_init_skips_mismatched_tail(tmp_path):
    src = _module(ESPCN(scale=2))
    ckpt = tmp_path / "x2.ckpt"
    torch.save({"state_dict": src.state_dict(), "srlab": {}}, ckpt)
    dst = ESPCN(scale=4)
    with pytest.warns(UserWarning, match="skipped 2"):
        loaded, skipped = load_net_weights(dst, ckpt)
    assert len(loaded) == 4 and sorted(skipped) == ["body.4.bias", "body.4.weight"]
    assert torch.equal(dst.body[0].weight, src.net.body[0].weight)


def test_load_model_errors(tmp_path):
    with pytest.raises(srlab.SRLabError, match="checkpoint not found"):
        load_model(tmp_path / "none.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not a checkpoint")
    with pytest.raises(srlab.SRLabError, match="cannot read checkpoint"):
        load_model(bad)
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(srlab.SRLabError, match="no srlab network"):
        load_model(tmp_path / "foreign.ckpt")


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
