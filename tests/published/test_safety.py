"""No file makes srlab run code: a checkpoint whose pickle runs a command, and one whose network
description names a foreign callable, are refused by every entry point (load_model, init_from,
resume, srlab-upscale, srlab-export, srlab-eval, srlab-train) with one sentence (exit status 2
for the commands), and the command never runs."""

from __future__ import annotations

import sys

import pytest
import torch

import srlab
from srlab.archs import ESPCN
from srlab.cli import export as export_cli
from srlab.cli import upscale as upscale_cli
from srlab.errors import SRLabError
from srlab.macs import count_net
from srlab.models.checkpoint import load_model, load_net_weights, read_checkpoint
from srlab.utils import build_from_spec, check_spec, network_classes
from tests.helpers import compose, run_cli

from .test_readers import RunsCommand

TINY = {"_target_": "srlab.archs.ESPCN", "scale": 2, "in_channels": 1, "num_feat": 8}


def srlab_checkpoint(spec=TINY) -> dict:
    """The layout srlab-train writes (trimmed): weights, srlab metadata, training state."""
    torch.manual_seed(0)
    net = ESPCN(scale=2, in_channels=1, num_feat=8)
    return {
        "epoch": 0,
        "global_step": 1,
        "pytorch-lightning_version": "2.6.0",
        "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
        "loops": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        "callbacks": {},
        "hyper_parameters": {"net_spec": dict(spec), "crop_border": None, "metric_y_channel": True},
        "srlab": {"net": dict(spec), "scale": 2, "scales": [2], "in_channels": 1},
    }


def foreign_specs(marker) -> dict[str, dict]:
    return {
        "subprocess.run": {"_target_": "subprocess.run", "args": ["touch", str(marker)]},
        "os.system": {"_target_": "os.system", "command": f"touch {marker}"},
        "builtins.eval": {"_target_": "builtins.eval", "source": f"open({str(marker)!r}, 'w')"},
    }


def write_bad(tmp_path, kind: str, suffix: str = ".ckpt"):
    """``(path, marker, words the refusal names)`` of a crafted checkpoint of ``kind``:
    ``pickle`` (unpickling it runs ``touch marker``) or a foreign ``_target_`` name."""
    marker = tmp_path / f"ran-{kind}"
    ckpt = srlab_checkpoint()
    if kind == "pickle":
        ckpt["callbacks"] = {"Evil": RunsCommand(str(marker))}
        words = ("pickle names", "system")
    else:
        spec = foreign_specs(marker)[kind]
        ckpt["srlab"]["net"] = spec
        ckpt["hyper_parameters"]["net_spec"] = spec
        words = (repr(kind), "not an srlab network")
    path = tmp_path / f"bad-{kind.replace('.', '_')}{suffix}"
    torch.save(ckpt, path)
    return path, marker, words


def assert_sentence(msg: str, *words: str) -> None:
    assert msg and "\n" not in msg.strip() and "Traceback" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def assert_cli_refused(res, marker, *words) -> None:
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("srlab: error:")]
    assert len(errors) == 1, res.stderr[-3000:]
    assert_sentence(errors[0], *words)
    assert not marker.exists()


KINDS = ["pickle", "subprocess.run", "os.system", "builtins.eval"]


# ------------------------------------------------------------------ network descriptions
@pytest.mark.parametrize(
    "target",
    [
        "subprocess.run",
        "os.system",
        "builtins.eval",
        "srlab.utils.locate",
        "torch.nn.Conv2d",
        "srlab.archs.SRNet",
        "srlab.archs.blocks.MeanShift",
        "srlab.archs.ESPCN.__init__",
        "",
    ],
)
def test_build_from_spec_refuses_anything_but_srlab_networks(target):
    with pytest.raises(SRLabError, match="which is not an srlab network") as e:
        build_from_spec({"_target_": target, "args": ["true"]})
    assert_sentence(str(e.value), repr(target))


def test_foreign_target_is_refused_before_its_module_is_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "srlab_probe_mod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Net: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SRLabError, match=r"'srlab_probe_mod\.Net', which is not an srlab network"):
        build_from_spec({"_target_": "srlab_probe_mod.Net"})
    assert not marker.exists() and "srlab_probe_mod" not in sys.modules
    with pytest.raises(SRLabError):
        count_net({"_target_": "srlab_probe_mod.Net"}, 2)
    assert not marker.exists()


def test_srlab_networks_still_build():
    assert type(build_from_spec(TINY)) is ESPCN
    assert type(build_from_spec({**TINY, "_target_": "srlab.archs.espcn.ESPCN"})) is ESPCN
    table = network_classes()
    assert {"srlab.archs.EDSR", "srlab.archs.edsr.EDSR", "srlab.archs.VGGDiscriminator"} <= set(
        table
    )
    assert all(k.startswith("srlab.archs.") for k in table)
    for bad in ({"scale": 2}, ["srlab.archs.ESPCN"], {"_target_": 3}):
        with pytest.raises(SRLabError, match="network description"):
            check_spec(bad)
    with pytest.raises(TypeError):  # the constructor's own error, for callers such as macs
        build_from_spec({**TINY, "no_such_arg": 1})


# ------------------------------------------------------------------ the Python entry points
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suffix", [".ckpt", ".pth"])
def test_python_entry_points_refuse(tmp_path, kind, suffix):
    path, marker, words = write_bad(tmp_path, kind, suffix)
    for load in (
        load_model,
        read_checkpoint,
        lambda p: load_net_weights(ESPCN(scale=2, num_feat=8), p),
        lambda p: srlab.load_model(p, net="espcn"),
    ):
        with pytest.raises(SRLabError) as e:
            load(path)
        assert_sentence(str(e.value), str(path), *words)
    assert not marker.exists()


def test_unsafe_global_in_an_otherwise_allowed_type_is_refused(tmp_path):
    from omegaconf import OmegaConf

    marker = tmp_path / "ran"
    ckpt = srlab_checkpoint()
    ckpt["hyper_parameters"]["net_spec"] = OmegaConf.create(TINY)  # allowed: OmegaConf containers
    ckpt["hyper_parameters"]["x"] = RunsCommand(str(marker))  # but nothing that calls code
    torch.save(ckpt, tmp_path / "mixed.ckpt")
    with pytest.raises(SRLabError, match="pickle names"):
        load_model(tmp_path / "mixed.ckpt")
    assert not marker.exists()


# ------------------------------------------------------------------ the commands
@pytest.mark.parametrize("kind", ["pickle", "subprocess.run"])
def test_upscale_and_export_refuse(tmp_path, kind, capsys):
    from PIL import Image

    path, marker, words = write_bad(tmp_path, kind)
    img = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(img)
    runs = {
        "srlab-upscale": lambda: upscale_cli.run(
            [str(img), "--ckpt", str(path), "--out", str(tmp_path / "out")]
        ),
        "srlab-export": lambda: export_cli.run(
            ["--ckpt", str(path), "--format", "torchscript", "--out", str(tmp_path / "m.pt")]
        ),
    }
    for name, fn in runs.items():
        with pytest.raises(SystemExit) as e:
            fn()
        assert e.value.code == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("srlab: error:"), (name, err)
        assert_sentence(err, *words)
    assert (
        not marker.exists() and not (tmp_path / "out").exists() and not (tmp_path / "m.pt").exists()
    )


TRAIN_TINY = [
    "logger=none",
    "trainer.max_epochs=1",
    "data.scale=2",
    "data.patch_size=8",
    "data.batch_size=4",
    "data.samples_per_epoch=8",
    "model.net.num_feat=8",
    "~callbacks.val_images",
    "trainer.enable_progress_bar=false",
]


@pytest.mark.slow  # srlab-eval and srlab-train in three fresh processes
def test_hydra_commands_refuse_code_carrying_pickles(tmp_path):
    """srlab-eval ckpt_path=, srlab-train init_from= and srlab-train ckpt_path= (resume), each in
    a fresh process as a user runs them."""
    path, marker, words = write_bad(tmp_path, "pickle")
    res = run_cli("srlab-eval", f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert_cli_refused(res, marker, *words)
    res = run_cli(
        "srlab-train", *TRAIN_TINY, f"init_from={path}", f"hydra.run.dir={tmp_path / 'init'}"
    )
    assert_cli_refused(res, marker, *words)
    res = run_cli(
        "srlab-train", *TRAIN_TINY, f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'resume'}"
    )
    assert_cli_refused(res, marker, *words)
    assert not (tmp_path / "resume" / "checkpoints").exists()  # refused before any training step


@pytest.mark.parametrize("kind", ["subprocess.run", "os.system"])
def test_hydra_commands_refuse_foreign_network_descriptions(tmp_path, kind):
    """The same three, in-process (the exit status 2 mapping is the one checked just above)."""
    from srlab.cli.evaluate import evaluate
    from srlab.cli.train import train

    path, marker, words = write_bad(tmp_path, kind)
    runs = {
        "eval": lambda: evaluate(
            compose([f"ckpt_path={path}"], config_name="eval", output_dir=tmp_path / "eval")
        ),
        "init_from": lambda: train(
            compose([*TRAIN_TINY, f"init_from={path}"], output_dir=tmp_path / "init")
        ),
        "resume": lambda: train(
            compose([*TRAIN_TINY, f"ckpt_path={path}"], output_dir=tmp_path / "resume")
        ),
    }
    for name, fn in runs.items():
        with pytest.raises(SRLabError) as e:
            fn()
        assert str(path) in str(e.value), name
        assert_sentence(str(e.value), *words)
    assert not marker.exists() and not (tmp_path / "resume" / "checkpoints").exists()


def test_resume_refuses_files_that_hold_no_training_state(tmp_path):
    """Resume validates the file with srlab's reader before Lightning sees it."""
    from srlab.models.checkpoint import safe_fit

    class NoFit:
        def fit(self, *a, **k):  # pragma: no cover - must not be reached
            raise AssertionError("Lightning must not see a refused checkpoint")

    torch.save(
        {k: v for k, v in srlab_checkpoint().items() if k != "optimizer_states"},
        tmp_path / "w.ckpt",
    )
    torch.save(srlab_checkpoint()["state_dict"], tmp_path / "bare.pth")
    for name in ("w.ckpt", "bare.pth"):
        with pytest.raises(
            SRLabError, match=r"is not a training checkpoint of srlab-train .*use init_from="
        ):
            safe_fit(NoFit(), None, ckpt_path=tmp_path / name)
    with pytest.raises(SRLabError, match="checkpoint not found"):
        safe_fit(NoFit(), None, ckpt_path=tmp_path / "nope.ckpt")
    (tmp_path / "w.mat").write_bytes(b"MATLAB 5.0")
    with pytest.raises(
        SRLabError, match="is a published model file: resuming needs a checkpoint of srlab-train"
    ):
        safe_fit(NoFit(), None, ckpt_path=tmp_path / "w.mat")
