"""Release files through every entry point (load_model, srlab-upscale, srlab-export, srlab-eval,
init_from), with a tiny test-only recogniser; srlab's own checkpoints still load and resume."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import srlab.published as pub
from srlab.archs import ESPCN
from srlab.cli import export as export_cli
from srlab.cli import upscale as upscale_cli
from srlab.errors import SRLabError
from srlab.models import SRModule
from srlab.models.checkpoint import load_model, load_net_weights
from srlab.published import RECOGNISERS, Release, ReleaseError, TensorLedger, recogniser
from srlab.published.core import load_into
from srlab.utils import build_from_spec
from tests.helpers import compose

from .test_safety import TRAIN_TINY

#: the test release's tensor names -> the srlab ESPCN's
NAMES = {"tiny_conv1": "body.0", "tiny_conv2": "body.2", "tiny_conv3": "body.4"}


def recognise_tiny(raw):
    """A release of a 3-layer ReLU ESPCN whose tensors are called ``tiny_conv{1,2,3}.*``."""
    if "tiny_conv1.weight" not in raw.tensors:
        return None
    ledger = TensorLedger(raw)
    w1, w3 = raw.tensors["tiny_conv1.weight"], raw.tensors["tiny_conv3.weight"]
    in_ch, num_feat = int(w1.shape[1]), int(w1.shape[0])
    scale = round((w3.shape[0] / in_ch) ** 0.5)
    spec = {
        "_target_": "srlab.archs.ESPCN",
        "scale": scale,
        "in_channels": in_ch,
        "num_feat": num_feat,
        "activation": "relu",
    }
    net = build_from_spec(spec)
    want = net.state_dict()
    state = {
        f"{dst}.{p}": ledger.take(f"{src}.{p}", tuple(want[f"{dst}.{p}"].shape))
        for src, dst in NAMES.items()
        for p in ("weight", "bias")
    }
    ledger.finish()
    return Release(
        net=load_into(net, state),
        spec=spec,
        name=f"tiny ESPCN x{scale} (test release)",
        arch="tinytest",
    )


@pytest.fixture
def tiny_recogniser(monkeypatch):
    """Only the test recognisers (and none of the real ones) while the test runs."""
    monkeypatch.setattr(pub, "_RECOGNISER_MODULES", ())
    saved = list(RECOGNISERS)
    RECOGNISERS.clear()
    recogniser("tinytest", formats=("pytorch", "safetensors"))(recognise_tiny)
    recogniser("tinynever", formats=("pytorch",))(lambda raw: None)
    yield
    RECOGNISERS[:] = saved


def reference_net(seed: int = 0) -> ESPCN:
    torch.manual_seed(seed)
    return ESPCN(scale=2, in_channels=1, num_feat=8, activation="relu").eval()


def release_state(net: ESPCN, prefix: str = "") -> OrderedDict[str, torch.Tensor]:
    sd = net.state_dict()
    return OrderedDict(
        (f"{prefix}{src}.{p}", sd[f"{dst}.{p}"].clone())
        for src, dst in NAMES.items()
        for p in ("weight", "bias")
    )


@pytest.fixture
def release(tmp_path):
    """Path of a tiny ``.pth`` release (bare state dict) and the srlab network it should become."""
    ref = reference_net()
    path = tmp_path / "tiny_x2.pth"
    torch.save(release_state(ref), path)
    return path, ref


def same_output(a: torch.nn.Module, b: torch.nn.Module, atol: float = 0.0) -> bool:
    x = torch.rand(1, 1, 12, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=atol, rtol=0)


# ------------------------------------------------------------------ load_model
def test_load_model_reads_a_release(tiny_recogniser, release):
    path, ref = release
    model = load_model(path)
    assert isinstance(model, SRModule) and not model.training
    assert (
        model.scale == 2 and model.crop_border == 2 and model.metric_y_channel
    )  # the paper's protocol
    assert (
        model.net_spec["_target_"] == "srlab.archs.ESPCN"
        and model.release_info["arch"] == "tinytest"
    )
    assert same_output(model.net, ref)


def test_wrapped_prefixed_and_safetensors_releases(tiny_recogniser, tmp_path):
    from safetensors.torch import save_file

    ref = reference_net()
    files = {
        "basicsr.pth": {
            "params": release_state(reference_net(5)),
            "params_ema": release_state(ref),
        },
        "dp.pth": {"state_dict": release_state(ref, "module.")},
        "model.pt": {"model": release_state(ref), "epoch": 10},
    }
    for name, obj in files.items():
        torch.save(obj, tmp_path / name)
    save_file(dict(release_state(ref, "module.")), str(tmp_path / "tiny.safetensors"))
    for name in [*files, "tiny.safetensors"]:
        assert same_output(load_model(tmp_path / name).net, ref), name


def test_net_forces_an_architecture_and_unknown_files_name_what_was_tried(
    tiny_recogniser, release, tmp_path
):
    path, ref = release
    assert same_output(load_model(path, net="tinytest").net, ref)
    with pytest.raises(
        ReleaseError,
        match=r"not a recognised pytorch release: found 6 tensors .*; tried tinynever$",
    ):
        load_model(path, net="tinynever")
    with pytest.raises(
        ReleaseError, match="unknown architecture 'nope'; known: tinynever, tinytest"
    ):
        load_model(path, net="nope")
    torch.save({"foo.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ReleaseError) as e:
        load_model(tmp_path / "other.pth")
    msg = str(e.value)
    assert (
        "found 1 tensors (foo.weight (3, 3))" in msg
        and msg.endswith("tried tinytest, tinynever")
        and "\n" not in msg
    )
    sd = release_state(ref)
    sd["tiny_conv9.weight"] = torch.zeros(2)
    torch.save(sd, tmp_path / "extra.pth")
    with pytest.raises(
        ReleaseError,
        match=r"1 tensor\(s\) of the file are not part of the recognised architecture "
        r"\(tiny_conv9\.weight\)",
    ):
        load_model(tmp_path / "extra.pth")


# ------------------------------------------------------------------ the commands
def test_upscale_and_export_take_a_release(tiny_recogniser, release, tmp_path, capsys):
    from PIL import Image

    path, _ref = release
    img = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(
        img
    )
    written = upscale_cli.run(
        [str(img), "--ckpt", str(path), "--out", str(tmp_path / "out"), "--device", "cpu"]
    )
    assert len(written) == 1 and Image.open(written[0]).size == (24, 20)
    result = export_cli.run(
        [
            "--ckpt",
            str(path),
            "--net",
            "tinytest",
            "--format",
            "torchscript",
            "--out",
            str(tmp_path / "m.pt"),
        ]
    )
    assert result["max_abs_diff"] <= 1e-4 and (tmp_path / "m.pt").exists()
    capsys.readouterr()
    torch.save({"foo.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    for fn in (
        lambda: upscale_cli.run(
            [str(img), "--ckpt", str(tmp_path / "other.pth"), "--out", str(tmp_path / "o2")]
        ),
        lambda: export_cli.run(
            [
                "--ckpt",
                str(tmp_path / "other.pth"),
                "--format",
                "torchscript",
                "--out",
                str(tmp_path / "x.pt"),
            ]
        ),
    ):
        with pytest.raises(SystemExit) as e:
            fn()
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and err.startswith("srlab: error:") and "\n" not in err
        assert "found 1 tensors (foo.weight (3, 3))" in err and "tried tinytest, tinynever" in err


def test_eval_takes_a_release(tiny_recogniser, release, tmp_path):
    from PIL import Image

    from srlab.cli.evaluate import evaluate

    path, _ref = release
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    cfg = compose(
        [f"ckpt_path={path}", "net=tinytest", f"test_sets.photos={folder}", "save_images=false"],
        config_name="eval",
        output_dir=tmp_path / "eval",
    )
    results = evaluate(cfg)
    assert results["network"] == "ESPCN"
    (entry,) = results["sets"].values()
    assert entry["num_images"] == 2 and entry["scale"] == 2 and np.isfinite(entry["model"]["psnr"])


def test_init_from_a_release(tiny_recogniser, release, tmp_path):
    from srlab.cli.train import build_module

    path, ref = release
    overrides = [
        *TRAIN_TINY,
        "model.net.activation=relu",
        f"init_from={path}",
        "init_from_net=tinytest",
    ]
    model = build_module(compose(overrides, output_dir=tmp_path / "run"))
    assert all(torch.equal(model.net.state_dict()[k], v) for k, v in ref.state_dict().items())
    x4 = ESPCN(
        scale=4, in_channels=1, num_feat=8
    )  # the x2 tail does not fit: skipped, as for checkpoints
    with pytest.warns(UserWarning, match="skipped 2"):
        loaded, skipped = load_net_weights(x4, path)
    assert sorted(skipped) == ["body.4.bias", "body.4.weight"] and len(loaded) == 4


# ------------------------------------------------------------------ srlab's own checkpoints
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from srlab.cli.train import train

    out = tmp_path_factory.mktemp("tiny_run")
    _metrics, objects = train(compose(TRAIN_TINY, output_dir=out))
    return out, objects["model"]


def test_a_tiny_training_run_still_loads_and_gives_the_same_output(tiny_run, tmp_path):
    out, trained = tiny_run
    last = out / "checkpoints" / "last.ckpt"
    torch.load(
        last, map_location="cpu", weights_only=True
    )  # srlab writes checkpoints that need no allow-list
    model = load_model(last)
    assert same_output(model.net, trained.net.eval().cpu())
    old = torch.load(last, map_location="cpu", weights_only=False)[
        "state_dict"
    ]  # what the old loader saw
    assert all(torch.equal(v, old[f"net.{k}"]) for k, v in model.net.state_dict().items())
    # the same checkpoint under a .pth name goes the srlab checkpoint way, not the release way
    (tmp_path / "renamed.pth").write_bytes(last.read_bytes())
    assert same_output(load_model(tmp_path / "renamed.pth").net, model.net)
    with pytest.raises(SRLabError, match="training checkpoint, not a published release"):
        pub.load_release(tmp_path / "renamed.pth")


def test_api_built_checkpoint_with_omegaconf_hyper_parameters_loads(tmp_path):
    """A module built from Python with an OmegaConf net_spec pickles OmegaConf containers: the
    allow-listed types."""
    from omegaconf import OmegaConf

    spec = OmegaConf.create(
        {"_target_": "srlab.archs.ESPCN", "scale": 2, "in_channels": 1, "num_feat": 8}
    )
    net = reference_net()
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {"net_spec": spec, "crop_border": 3, "metric_y_channel": True},
            "hparams_type": type(spec),
            "srlab": {
                "net": OmegaConf.create({**OmegaConf.to_container(spec), "activation": "relu"}),
                "scale": 2,
            },
        },
        tmp_path / "api.ckpt",
    )
    model = load_model(tmp_path / "api.ckpt")
    assert same_output(model.net, net) and model.crop_border == 3 and type(model.net_spec) is dict


def test_resume_of_a_normal_run_still_works(tiny_run, tmp_path):
    from srlab.cli.train import train

    out, _ = tiny_run
    last = out / "checkpoints" / "last.ckpt"
    steps = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    _metrics, objects = train(
        compose(
            [*TRAIN_TINY, "trainer.max_epochs=2", f"ckpt_path={last}"],
            output_dir=tmp_path / "resumed",
        )
    )
    assert objects["trainer"].global_step == 2 * steps and objects["trainer"].current_epoch == 2


def test_checkpoints_hold_plain_containers_even_with_an_omegaconf_net_spec(tmp_path):
    """SRModule.on_save_checkpoint turns an API-built OmegaConf net_spec into plain containers, so
    the file loads with weights_only=True and no allow-list at all."""
    from omegaconf import OmegaConf

    from srlab.models import SRModule
    from srlab.utils import build_from_spec

    spec = OmegaConf.create(
        {"_target_": "srlab.archs.ESPCN", "scale": 2, "in_channels": 1, "num_feat": 8}
    )
    model = SRModule(build_from_spec(spec), net_spec=spec)
    ckpt = {
        "state_dict": model.state_dict(),
        "hyper_parameters": {**model.hparams, "net_spec": spec},
    }
    model.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "plain.ckpt")
    loaded = torch.load(
        tmp_path / "plain.ckpt", map_location="cpu", weights_only=True
    )  # no allow-list
    assert (
        type(loaded["hyper_parameters"]["net_spec"]) is dict
        and type(loaded["srlab"]["net"]) is dict
    )
    assert same_output(load_model(tmp_path / "plain.ckpt").net, model.net)


def test_forcing_an_architecture_of_another_format_says_which_format_it_reads(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "x.mat", {"weights_conv1": np.zeros((3, 3), np.float32)})
    with pytest.raises(SRLabError, match="the idn importer reads caffe files, not matconvnet ones"):
        pub.load_release(tmp_path / "x.mat", net="idn")
