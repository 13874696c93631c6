"""Network interpolation (srlab.models.interpolation), checked against the formula by hand."""

import pytest
import torch

import srlab
from srlab.archs import VDSR, SRResNet
from srlab.errors import SRLabError
from srlab.models import interpolate_checkpoints, interpolate_state_dicts, load_model
from srlab.models.checkpoint import read_checkpoint
from tests.helpers import write_checkpoint


def _state_dicts():
    g = torch.Generator().manual_seed(0)
    a = {
        "w": torch.randn(4, 3, generator=g),
        "h": torch.randn(5, generator=g).half(),
        "n": torch.tensor(2),
    }
    b = {
        "w": torch.randn(4, 3, generator=g),
        "h": torch.randn(5, generator=g).half(),
        "n": torch.tensor(9),
    }
    return a, b


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_blend_is_the_weighted_sum_in_the_psnr_dtypes(alpha):
    a, b = _state_dicts()
    out = interpolate_state_dicts(a, b, alpha)
    assert list(out) == list(a)
    torch.testing.assert_close(out["w"], (1 - alpha) * a["w"] + alpha * b["w"])
    assert out["h"].dtype == torch.float16
    torch.testing.assert_close(
        out["h"].float(), (1 - alpha) * a["h"].float() + alpha * b["h"].float(), atol=2e-3, rtol=0
    )
    assert int(out["n"]) == (9 if alpha >= 0.5 else 2)  # integer buffers: the nearer end


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_ends_are_exact_copies_not_views(alpha):
    a, b = _state_dicts()
    out = interpolate_state_dicts(a, b, alpha)
    src = b if alpha == 1.0 else a
    for k in src:
        assert torch.equal(out[k], src[k]) and out[k].data_ptr() != src[k].data_ptr()


def test_bad_alpha_names_and_shapes_are_refused():
    a, b = _state_dicts()
    for alpha in (-0.1, 1.5):
        with pytest.raises(SRLabError, match=r"alpha must be in \[0, 1\]"):
            interpolate_state_dicts(a, b, alpha)
    with pytest.raises(
        SRLabError, match=r"different tensors \(extra\.\.\.\): not the same network"
    ):
        interpolate_state_dicts(a, {**b, "extra": torch.zeros(1)}, 0.5)
    with pytest.raises(
        SRLabError, match=r"tensor w has shape \(4, 3\) in the PSNR generator but \(3, 4\)"
    ):
        interpolate_state_dicts(a, {**b, "w": torch.zeros(3, 4)}, 0.5)


def _ckpt(path, net, spec, disc=True):
    """A checkpoint of an x2 generator; ``disc``: of a GAN stage (a discriminator's description)."""
    return write_checkpoint(
        path,
        net,
        spec,
        extra_state={"discriminator.w": torch.ones(1)},
        hyper_parameters={"crop_border": 2, "metric_y_channel": False, "lr": 1e-4},
        scale=2,
        in_channels=3,
        **({"disc": {"_target_": "D"}} if disc else {}),
    )


def test_interpolate_checkpoints_gives_a_generator_only_checkpoint(tmp_path):
    spec = {"_target_": "srlab.archs.SRResNet", "scale": 2, "num_feat": 4, "num_block": 1}
    torch.manual_seed(0)
    a, b = SRResNet(scale=2, num_feat=4, num_block=1), SRResNet(scale=2, num_feat=4, num_block=1)
    pa, pb = _ckpt(tmp_path / "a.ckpt", a, spec, disc=False), _ckpt(tmp_path / "b.ckpt", b, spec)
    ckpt = interpolate_checkpoints(pa, pb, 0.25)
    assert set(ckpt) == {"state_dict", "srlab", "hyper_parameters"}
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    assert "disc" not in ckpt["srlab"] and ckpt["srlab"]["net"] == spec
    assert ckpt["srlab"]["interpolation"] == {"psnr": str(pa), "gan": str(pb), "alpha": 0.25}
    assert ckpt["hyper_parameters"] == {"crop_border": 2, "metric_y_channel": False}
    w = "head.0.weight"
    torch.testing.assert_close(
        ckpt["state_dict"][f"net.{w}"], 0.75 * a.state_dict()[w] + 0.25 * b.state_dict()[w]
    )
    torch.save(ckpt, tmp_path / "i.ckpt")
    assert read_checkpoint(tmp_path / "i.ckpt")["srlab"]["interpolation"]["alpha"] == 0.25
    model = load_model(tmp_path / "i.ckpt")
    assert model.crop_border == 2 and model(torch.rand(1, 3, 5, 5)).shape == (1, 3, 10, 10)
    other = _ckpt(
        tmp_path / "c.ckpt", SRResNet(scale=2, num_feat=8, num_block=1), {**spec, "num_feat": 8}
    )
    with pytest.raises(SRLabError, match="hold different networks"):
        interpolate_checkpoints(pa, other, 0.5)
    torch.save({"state_dict": {}}, tmp_path / "bare.ckpt")
    with pytest.raises(SRLabError, match="has no srlab network description"):
        interpolate_checkpoints(tmp_path / "bare.ckpt", pb, 0.5)


def test_public_api_exports_them():
    assert srlab.interpolate_checkpoints is interpolate_checkpoints
    assert srlab.interpolate_state_dicts is interpolate_state_dicts


def _generator_checkpoint(path, net, spec):
    """A generator checkpoint as srlab-train writes one (what load_model reads)."""
    return write_checkpoint(
        path,
        net,
        spec,
        hyper_parameters={"crop_border": None, "metric_y_channel": True},
        scale=int(net.scale),
        in_channels=net.in_channels,
    )


def test_an_old_checkpoint_and_a_new_one_hold_the_same_network(tmp_path):
    torch.manual_seed(0)
    a, b = VDSR(scale=2, num_feat=4, num_layer=3), VDSR(scale=2, num_feat=4, num_layer=3)
    old = {"_target_": "srlab.archs.VDSR", "scale": 2, "num_feat": 4, "num_layers": 3}
    new = {"_target_": "srlab.archs.vdsr.VDSR", "scale": 2, "num_feat": 4, "num_layer": 3}
    pa, pb = (
        _generator_checkpoint(tmp_path / "a.ckpt", a, old),
        _generator_checkpoint(tmp_path / "b.ckpt", b, new),
    )
    out = tmp_path / "blend.ckpt"
    ckpt = interpolate_checkpoints(pa, pb, 0.5, out=out)
    assert ckpt["srlab"]["net"] == new  # today's argument names
    w = "body.0.weight"
    torch.testing.assert_close(
        ckpt["state_dict"][f"net.{w}"], 0.5 * a.state_dict()[w] + 0.5 * b.state_dict()[w]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "b.ckpt", "blend.ckpt"]
    model = load_model(out)
    torch.testing.assert_close(model.net.state_dict()[w], ckpt["state_dict"][f"net.{w}"])
    # the other way round, and an argument left at its default against one given explicitly
    interpolate_checkpoints(pb, pa, 0.5)
    default = {"_target_": "srlab.archs.VDSR", "scale": 2, "num_feat": 4, "num_layer": 3}
    explicit = {**default, "in_channels": 1}
    interpolate_checkpoints(
        _generator_checkpoint(tmp_path / "c.ckpt", a, default),
        _generator_checkpoint(tmp_path / "d.ckpt", b, explicit),
        0.5,
    )


def test_different_networks_are_named_by_their_differing_arguments(tmp_path, ckpt):
    old = {"_target_": "srlab.archs.VDSR", "scale": 2, "num_feat": 4, "num_layers": 3}
    deeper = {"_target_": "srlab.archs.VDSR", "scale": 2, "num_feat": 4, "num_layer": 4}
    pa = _generator_checkpoint(tmp_path / "a.ckpt", VDSR(scale=2, num_feat=4, num_layer=3), old)
    pb = _generator_checkpoint(tmp_path / "b.ckpt", VDSR(scale=2, num_feat=4, num_layer=4), deeper)
    with pytest.raises(SRLabError, match=r"hold different networks: VDSR with num_layer 3 vs 4$"):
        interpolate_checkpoints(pa, pb, 0.5, out=tmp_path / "x.ckpt")
    pc = ckpt("espcn_rgb")
    with pytest.raises(SRLabError, match=r"hold different networks: VDSR vs ESPCN$"):
        interpolate_checkpoints(pa, pc, 0.5)
    assert not (tmp_path / "x.ckpt").exists()
