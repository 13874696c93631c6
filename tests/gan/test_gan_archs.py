"""Generators (SRResNet, EnhanceNet, RRDBNet) and discriminators (SRGAN, ESRGAN)."""

import pytest
import torch

from srlab.archs import EnhanceNet, RRDBNet, SRGANDiscriminator, SRResNet, VGGDiscriminator
from srlab.core.imresize import imresize
from srlab.metrics import psnr


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_paper_parameter_counts():
    # counts with biases, BN affine parameters and PReLU slopes (see the docstrings)
    assert n_params(SRResNet()) == 1_549_462  # "about 1.5M"
    assert n_params(RRDBNet()) == 16_697_987  # the paper's 16.7M
    assert n_params(EnhanceNet()) == 852_867
    assert n_params(SRGANDiscriminator()) == 23_563_649
    assert n_params(VGGDiscriminator()) == 14_499_401


TINY = {
    SRResNet: dict(num_feat=8, num_block=2),
    EnhanceNet: dict(num_feat=8, num_block=2),
    RRDBNet: dict(num_feat=8, num_block=1, num_grow_ch=4),
}


@pytest.mark.parametrize("cls", list(TINY))
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_shapes_and_backward(cls, scale):
    net = cls(scale=scale, **TINY[cls])
    assert not net.pre_upsample and net.border == 0 and net.in_channels == 3
    x = torch.rand(2, 3, 6, 5, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 3, 6 * scale, 5 * scale)
    y.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("cls", list(TINY))
def test_generators_refuse_x3(cls):
    with pytest.raises(ValueError, match="supports scales x2, x4, x8, not x3"):
        cls(scale=3)


def test_srresnet_structure_follows_the_paper():
    net = SRResNet()
    assert net.head[0].kernel_size == (9, 9) and net.tail.kernel_size == (9, 9)
    assert isinstance(net.head[1], torch.nn.PReLU)
    assert len(net.body) == 16 and all(
        isinstance(b.body[1], torch.nn.BatchNorm2d) for b in net.body
    )
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.upsample) == 2
    assert not any(isinstance(m, torch.nn.Tanh) for m in net.modules())  # linear output


def test_rrdbnet_structure_follows_the_paper():
    net = RRDBNet(num_block=2)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    rdb = net.body[0].rdbs[0]
    assert [c.in_channels for c in rdb.convs] == [64, 96, 128, 160, 192]
    assert [c.out_channels for c in rdb.convs] == [32, 32, 32, 32, 64]
    assert rdb.res_scale == 0.2 and net.body[0].res_scale == 0.2
    assert sum(isinstance(m, torch.nn.Upsample) and m.mode == "nearest" for m in net.upsample) == 2
    # He init scaled by 0.1: std ~ 0.1 * sqrt(2 / fan_in)
    w = rdb.convs[4].weight
    assert abs(w.std().item() / (0.1 * (2 / (192 * 9)) ** 0.5) - 1) < 0.1


def test_enhancenet_adds_bicubic_to_its_residual():
    net = EnhanceNet(num_feat=8, num_block=1)
    torch.nn.init.zeros_(net.tail[-1].weight)
    torch.nn.init.zeros_(net.tail[-1].bias)
    x = torch.rand(1, 3, 8, 6)
    assert torch.allclose(net(x), imresize(x, 4), atol=1e-5)
    assert torch.allclose(net.mean.flatten(), torch.tensor([0.47614917, 0.45001204, 0.40904046]))


@pytest.mark.parametrize("cls", list(TINY))
def test_generator_overfits_a_tiny_pair(cls):
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    hr = torch.stack(
        [0.5 + 0.4 * torch.sin(9 * xx + 3 * yy), 0.5 + 0.4 * torch.cos(7 * yy), xx * yy]
    )[None]
    lr = imresize(hr, 1 / 4)
    net = cls(scale=4, num_feat=16, num_block=1, **({"num_grow_ch": 8} if cls is RRDBNet else {}))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.eval()  # BN (SRResNet) with batch statistics of one image: compare in eval mode
    with torch.no_grad():
        before = psnr(net(lr).clamp(0, 1), hr, crop_border=4, y_channel=False)
    net.train()
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.l1_loss(net(lr), hr)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        after = psnr(net(lr).clamp(0, 1), hr, crop_border=4, y_channel=False)
    assert after > before + 3.0, (float(before), float(after))


@pytest.mark.parametrize(("cls", "size"), [(SRGANDiscriminator, 96), (VGGDiscriminator, 128)])
def test_discriminator_default_size_and_logits(cls, size):
    d = cls(num_feat=4, num_dense_ch=8)
    assert d.input_size == size
    assert d(torch.rand(3, 3, size, size)).shape == (3, 1)


def test_discriminator_input_size_follows_patch_and_is_checked():
    d = SRGANDiscriminator(input_size=32, num_feat=4, num_dense_ch=8)
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    assert d.classifier[1].in_features == 8 * 4 * 2 * 2  # 32 px -> 2 px, 8n channels
    with pytest.raises(
        ValueError, match=r"built for \(B, 3, 32, 32\) inputs .* got \(2, 3, 48, 48\)"
    ):
        d(torch.rand(2, 3, 48, 48))
    with pytest.raises(ValueError, match="multiple of 16"):
        SRGANDiscriminator(input_size=40)
    with pytest.raises(ValueError, match="multiple of 32"):
        VGGDiscriminator(input_size=80)
    e = VGGDiscriminator(input_size=64, num_feat=4, num_dense_ch=8)
    assert e.classifier[1].in_features == 32 * 2 * 2
    with pytest.raises(ValueError, match="input_size=64"):
        e(torch.rand(1, 3, 128, 128))
