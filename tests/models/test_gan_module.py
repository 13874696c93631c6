"""GANModule: manual G/D optimisation on tiny patches, warm-up, logging, checkpoints, Hydra
wiring."""

import logging
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from srlab.archs import RRDBNet, SRGANDiscriminator, SRResNet, VGGDiscriminator
from srlab.cli.train import build_module
from srlab.errors import SRLabError
from srlab.losses import AdversarialLoss, L1Loss, PerceptualLoss, TextureLoss, WeightedSum
from srlab.models import GANModule, load_model, load_net_weights
from srlab.models.checkpoint import read_checkpoint
from srlab.models.gan_module import build_lpips
from tests.helpers import photo_pair

pytestmark = pytest.mark.filterwarnings(
    "ignore:VGG19 with random weights",
    "ignore:.*LeafSpec.*",
    "ignore:You defined a `validation_step`",
)


TINY_G = dict(num_feat=8, num_block=1)


def pairs(n=4, hr=32, scale=4):
    """``n`` training pairs of made photos: ``{"lr", "hr"}`` dicts of ``(3, H, W)`` tensors."""
    return [
        {"lr": lr[0], "hr": h[0]} for lr, h in (photo_pair(scale, hr, seed=i) for i in range(n))
    ]


def gan_module(kind="standard", disc_start_step=0, scheduler=None):
    if kind == "standard":
        net, disc = (
            SRResNet(scale=4, **TINY_G),
            SRGANDiscriminator(input_size=32, num_feat=4, num_dense_ch=8),
        )
        terms = {
            "pixel": L1Loss(),
            "percep": PerceptualLoss("relu2_2", vgg_weights="random"),
            "adv": AdversarialLoss(),
        }
    else:
        net = RRDBNet(scale=4, num_grow_ch=4, **TINY_G)
        disc = VGGDiscriminator(input_size=32, num_feat=4, num_dense_ch=8)
        terms = {
            "pixel": L1Loss(),
            "texture": TextureLoss(["relu1_1"], patch_size=16, vgg_weights="random"),
            "adv": AdversarialLoss("relativistic"),
        }
    spec = {"_target_": f"srlab.archs.{type(net).__name__}", "scale": 4, **TINY_G}
    if kind != "standard":
        spec["num_grow_ch"] = 4
    loss = WeightedSum(terms, {"pixel": 1.0, "adv": 0.1})
    return GANModule(
        net,
        disc,
        loss,
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        scheduler=scheduler,
        disc_scheduler=scheduler,
        disc_start_step=disc_start_step,
        net_spec=spec,
        disc_spec={"_target_": f"srlab.archs.{type(disc).__name__}", "input_size": 32},
        lpips_net=None,
        metric_y_channel=False,
    )


def fit(module, max_steps, val=False):
    data = pairs()
    trainer = pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1 if val else 0,
        num_sanity_val_steps=0,
    )
    val_loader = DataLoader(data[:1], batch_size=1) if val else None
    trainer.fit(module, DataLoader(data, batch_size=2, shuffle=False), val_loader)
    return trainer


def snapshot(m):
    return [p.detach().clone() for p in m.parameters()]


def changed(m, before):
    return any(not torch.equal(p, q) for p, q in zip(m.parameters(), before))


@pytest.mark.parametrize("kind", ["standard", "relativistic"])
def test_both_networks_learn_and_every_term_is_logged_finite(kind):
    torch.manual_seed(0)
    sched = partial(torch.optim.lr_scheduler.MultiStepLR, milestones=[2], gamma=0.1)
    m = gan_module(kind, scheduler=sched)
    g0, d0 = snapshot(m.net), snapshot(m.discriminator)
    trainer = fit(m, max_steps=6, val=True)  # Lightning counts G and D steps: 3 batches
    assert int(m.gan_step) == 3
    assert changed(m.net, g0) and changed(m.discriminator, d0)
    content = "percep" if kind == "standard" else "texture"
    names = [
        "loss",
        "g_pixel",
        f"g_{content}",
        "g_adv",
        "d_loss",
        "d_real",
        "d_fake",
        "d_x",
        "d_g_z",
    ]
    metrics = trainer.callback_metrics
    for name in names:
        assert f"train/{name}" in metrics and torch.isfinite(metrics[f"train/{name}"]), name
    assert 0 < metrics["train/d_x"] < 1 and 0 < metrics["train/d_g_z"] < 1
    assert "val/psnr" in metrics
    # both schedulers stepped once per batch: lr x0.1 after the 2nd generator update
    for opt in trainer.optimizers:
        assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_discriminator_warm_up_leaves_it_untouched():
    m = gan_module(disc_start_step=2)
    d0 = snapshot(m.discriminator)
    g0 = snapshot(m.net)
    trainer = fit(m, max_steps=2)  # during warm-up one optimizer step per batch
    assert int(m.gan_step) == 2 and m.disc_active  # from the next batch on
    assert changed(m.net, g0) and not changed(m.discriminator, d0)
    assert (
        "train/g_adv" not in trainer.callback_metrics
        and "train/d_loss" not in trainer.callback_metrics
    )
    assert "train/g_pixel" in trainer.callback_metrics


def test_checkpoint_loads_as_a_generator(tmp_path):
    m = gan_module()
    trainer = fit(m, max_steps=2)
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(path)
    ckpt = read_checkpoint(path)
    assert ckpt["srlab"]["disc"]["_target_"] == "srlab.archs.SRGANDiscriminator"
    keys = ckpt["state_dict"].keys()
    assert any(k.startswith("discriminator.") for k in keys)
    assert not any("vgg" in k or "lpips" in k for k in keys)  # frozen feature nets stay out
    assert (
        "discriminator" not in ckpt["hyper_parameters"]
        and "disc_optimizer" not in ckpt["hyper_parameters"]
    )
    model = load_model(path)
    assert type(model.net) is SRResNet
    for (name, p), q in zip(model.net.state_dict().items(), m.net.state_dict().values()):
        assert torch.equal(p, q), name
    # the GAN stage's generator can seed another run (init_from)
    fresh = SRResNet(scale=4, **TINY_G)
    loaded, skipped = load_net_weights(fresh, path)
    assert not skipped and len(loaded) == len(fresh.state_dict())


def test_module_errors_are_clear():
    net, disc = (
        SRResNet(scale=4, **TINY_G),
        SRGANDiscriminator(input_size=32, num_feat=4, num_dense_ch=8),
    )
    with pytest.raises(ValueError, match="exactly one adversarial loss term"):
        GANModule(net, disc, WeightedSum({"l1": L1Loss()}), lpips_net=None)
    grey = SRGANDiscriminator(input_size=32, in_channels=1, num_feat=4, num_dense_ch=8)
    with pytest.raises(ValueError, match="discriminator takes 1-channel"):
        GANModule(net, grey, WeightedSum({"adv": AdversarialLoss()}), lpips_net=None)


def test_lpips_only_with_local_weights(torch_hub, caplog):
    with caplog.at_level(logging.INFO, logger="srlab.gan"):
        assert build_lpips("alex") is None
    assert "val/lpips skipped" in caplog.text and "alexnet-owt-7be5be79.pth" in caplog.text
    assert build_lpips(None) is None
    with pytest.raises(ValueError, match="lpips_net"):
        build_lpips("resnet")


GAN_OVERRIDES = [
    "model=gan",
    "model/net=srresnet",
    "model/disc=esrgan",
    "loss=esrgan",
    "loss.terms.percep.vgg_weights=random",
    "data.scale=4",
    "data.patch_size=8",
    "model.net.num_feat=8",
    "model.net.num_block=1",
    "model.disc.num_feat=4",
    "model.lpips_net=null",
]


def test_hydra_builds_the_gan_module_with_the_patch_size(compose_cfg):
    m = build_module(compose_cfg(GAN_OVERRIDES))
    assert isinstance(m, GANModule) and isinstance(m.discriminator, VGGDiscriminator)
    assert m.discriminator.input_size == 32 and m.disc_spec["input_size"] == 32
    assert m.adv_name == "adv" and set(m.content_terms) == {"percep", "pixel"}
    opts = m.configure_optimizers()
    assert len(opts) == 2 and opts[1]["optimizer"].param_groups[0]["params"][0] is next(
        m.discriminator.parameters()
    )
    with pytest.raises(SRLabError, match=r"expects 64x64 inputs .* HR training patches are 32x32"):
        build_module(compose_cfg([*GAN_OVERRIDES, "model.disc.input_size=64"]))
    with pytest.raises(
        SRLabError,
        match=r"model\.disc: VGGDiscriminator: input_size must be a positive multiple of 32",
    ):
        build_module(compose_cfg([*GAN_OVERRIDES, "data.patch_size=6"]))


def test_gan_stage_asks_for_its_psnr_checkpoint(compose_cfg):
    with pytest.raises(SRLabError, match=r"stage1_ckpt=<that run>/checkpoints/best\.ckpt"):
        build_module(compose_cfg(["experiment=srgan_x4"]))


def test_val_niqe_is_logged_and_equals_niqe_of_the_validated_image():
    """model.val_niqe=true: val/niqe is MATLAB-style NIQE of the SR validation image (crop = scale),
    so a GAN checkpoint can be chosen by a perceptual metric."""
    from srlab.metrics.niqe import NIQE, niqe

    module = gan_module()
    module.val_niqe, module._niqe = True, (NIQE(crop_border=4, skip_small=True),)
    lr, h = photo_pair(4, (208, 216), seed=5)
    val = [{"lr": lr[0], "hr": h[0]}]
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, DataLoader(pairs(), batch_size=2), DataLoader(val, batch_size=1))
    logged = float(trainer.callback_metrics["val/niqe"])
    module.eval()
    with torch.no_grad():
        sr = module(val[0]["lr"][None]).clamp(0, 1)
    assert logged == pytest.approx(float(niqe(sr, crop_border=4)[0]), rel=1e-4)


def test_val_niqe_from_the_config(compose_cfg):
    m = build_module(compose_cfg([*GAN_OVERRIDES, "model.val_niqe=true"]))
    assert m.val_niqe and m._niqe[0] is not None and m._niqe[0].crop_border == 4
    assert build_module(compose_cfg(GAN_OVERRIDES))._niqe[0] is None  # off by default
