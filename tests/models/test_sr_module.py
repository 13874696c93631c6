import warnings

import pytest
import pytorch_lightning as pl
import torch

import srlab
from srlab.archs import ESPCN, SRCNN
from srlab.core.color import rgb_to_ycbcr
from srlab.core.imresize import imresize
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


def test_rgb_to_ycbcr_used_for_y_nets_only():
    m = _module(ESPCN(scale=2, in_channels=3))
    x, ycc = m.rules.net_input(torch.rand(1, 3, 4, 4), pad_border=False)
    assert ycc is None and x.shape[1] == 3
    m = _module(ESPCN(scale=2))
    lr = torch.rand(1, 3, 4, 4)
    x, ycc = m.rules.net_input(lr, pad_border=False)
    assert torch.allclose(x, rgb_to_ycbcr(lr)[:, :1])
    warnings.simplefilter("ignore")
