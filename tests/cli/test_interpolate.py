"""srlab-interp: ESRGAN network interpolation between a PSNR and a GAN generator."""

import pytest
import torch

from srlab.archs import RRDBNet, SRResNet
from srlab.cli.interpolate import main
from srlab.errors import SRLabError
from srlab.models import interpolate_state_dicts, load_model
from srlab.models.checkpoint import read_checkpoint
from tests.helpers import write_checkpoint


def write_ckpt(path, net, spec):
    """A GAN-stage checkpoint of an x4 generator (with a discriminator's weights)."""
    return write_checkpoint(
        path,
        net,
        spec,
        extra_state={"discriminator.w": torch.ones(2)},
        hyper_parameters={"crop_border": 4, "metric_y_channel": True},
        scale=4,
        in_channels=3,
        protocol="x4",
        disc={"_target_": "D"},
    )


@pytest.fixture
def pair(tmp_path):
    spec = {"_target_": "srlab.archs.SRResNet", "scale": 4, "num_feat": 8, "num_block": 1}
    torch.manual_seed(0)
    a, b = SRResNet(scale=4, num_feat=8, num_block=1), SRResNet(scale=4, num_feat=8, num_block=1)
    b.body[0].body[1].running_mean.fill_(0.5)  # BN buffers differ too
    b.body[0].body[1].num_batches_tracked.fill_(7)
    return (
        write_ckpt(tmp_path / "psnr.ckpt", a, spec),
        write_ckpt(tmp_path / "gan.ckpt", b, spec),
        a,
        b,
    )


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_0_and_1_reproduce_the_inputs_exactly(tmp_path, pair, alpha):
    psnr, gan, a, b = pair
    out = tmp_path / "out" / "interp.ckpt"
    main(["--psnr", str(psnr), "--gan", str(gan), "--alpha", str(alpha), "--out", str(out)])
    want = (b if alpha == 1.0 else a).state_dict()
    got = load_model(out).net.state_dict()
    assert list(got) == list(want)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert [p.name for p in out.parent.iterdir()] == ["interp.ckpt"]  # no temporary file left


def test_alpha_blends_and_output_is_a_generator_checkpoint(tmp_path, pair):
    psnr, gan, a, b = pair
    out = tmp_path / "interp.ckpt"
    main(["--psnr", str(psnr), "--gan", str(gan), "--alpha", "0.8", "--out", str(out)])
    ckpt = read_checkpoint(out)
    assert not any(k.startswith("discriminator.") for k in ckpt["state_dict"])
    assert "disc" not in ckpt["srlab"] and ckpt["srlab"]["interpolation"]["alpha"] == 0.8
    sa, sb, got = a.state_dict(), b.state_dict(), load_model(out).net.state_dict()
    w = "head.0.weight"
    assert torch.allclose(got[w], 0.2 * sa[w] + 0.8 * sb[w], atol=1e-7)
    assert int(got["body.0.body.1.num_batches_tracked"]) == 7  # integer buffers: the nearer end
    model = load_model(out)
    assert model.crop_border == 4 and model(torch.rand(1, 3, 6, 6)).shape == (1, 3, 24, 24)


def test_interpolation_errors_are_clear(tmp_path, pair, capsys):
    psnr, gan, _, _ = pair
    other = write_ckpt(
        tmp_path / "rrdb.ckpt",
        RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4),
        {
            "_target_": "srlab.archs.RRDBNet",
            "scale": 4,
            "num_feat": 8,
            "num_block": 1,
            "num_grow_ch": 4,
        },
    )
    with pytest.raises(SystemExit) as e:
        main(
            [
                "--psnr",
                str(psnr),
                "--gan",
                str(other),
                "--alpha",
                "0.5",
                "--out",
                str(tmp_path / "x.ckpt"),
            ]
        )
    assert e.value.code == 2 and "hold different networks" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "--psnr",
                str(psnr),
                "--gan",
                str(gan),
                "--alpha",
                "1.5",
                "--out",
                str(tmp_path / "x.ckpt"),
            ]
        )
    assert "--alpha must be in [0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "--psnr",
                str(tmp_path / "none.ckpt"),
                "--gan",
                str(gan),
                "--alpha",
                "0.5",
                "--out",
                str(tmp_path / "x.ckpt"),
            ]
        )
    assert "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "x.ckpt").exists()
    with pytest.raises(SRLabError, match="different tensors"):
        interpolate_state_dicts({"a": torch.zeros(1)}, {"b": torch.zeros(1)}, 0.5)


def test_interp_alpha_message_is_the_flags(tmp_path, capsys):
    from srlab.cli.interpolate import main

    with pytest.raises(SystemExit) as e:
        main(["--psnr", "a", "--gan", "b", "--alpha", "-0.5", "--out", str(tmp_path / "x.ckpt")])
    assert (
        e.value.code == 2
        and "srlab: error: --alpha must be in [0, 1], got -0.5" in capsys.readouterr().err
    )
