"""srlab-export's command line, and the x8 self-ensemble in evaluation and validation."""

from __future__ import annotations

import warnings

import pytest
import torch

import srlab.cli.export as export_cli
from srlab.data.sources import ImageRecord
from srlab.evaluation import evaluate_sets, results_markdown

from .conftest import make_model


@pytest.mark.parametrize("fmt,suffix", [("onnx", "onnx"), ("torchscript", "pt")])
def test_export_cli_reports_parity(ckpt, tmp_path, capsys, fmt, suffix):
    out = tmp_path / f"m.{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = export_cli.run(["--ckpt", str(ckpt("srcnn")), "--format", fmt, "--out", str(out)])
    assert out.is_file() and r["max_abs_diff"] <= 1e-4
    printed = capsys.readouterr().out
    assert "max abs difference to PyTorch" in printed and "dynamic H and W" in printed


def test_onnx_export_runs_at_any_size_and_batch(ckpt, tmp_path):
    import onnxruntime as ort

    from srlab.models.checkpoint import load_model

    path = ckpt("espcn")
    out = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_cli.run(["--ckpt", str(path), "--format", "onnx", "--out", str(out)])
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, 41, 13)
    got = torch.from_numpy(sess.run(None, {"lr": x.numpy()})[0])
    with torch.no_grad():
        ref = load_model(path)(x).clamp(0, 1)
    assert got.shape == (2, 3, 123, 39) and (got - ref).abs().max() < 1e-4


def test_export_cli_fails_cleanly_above_tolerance(ckpt, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(export_cli, "PARITY_TOL", -1.0)
    out = tmp_path / "m.pt"
    with pytest.raises(SystemExit) as e:
        export_cli.run(["--ckpt", str(ckpt("edsr")), "--format", "torchscript", "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "differs from PyTorch" in err and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(SystemExit) as e:
        export_cli.run(
            ["--ckpt", str(tmp_path / "none.ckpt"), "--format", "onnx", "--out", str(out)]
        )
    assert e.value.code == 2 and "checkpoint not found" in capsys.readouterr().err


def test_eval_reports_plain_and_self_ensemble_rows():
    model = make_model("edsr")
    g = torch.Generator().manual_seed(0)
    recs = [
        ImageRecord(name=f"im{i}", hr=(torch.rand(3, 24, 28, generator=g) * 255).to(torch.uint8))
        for i in range(2)
    ]
    res = evaluate_sets(model, {"tiny": recs}, self_ensemble=True)
    r = res["sets"]["tiny"]
    assert set(r["ensemble"]) == {"psnr", "ssim"} and r["ensemble"]["psnr"] != r["model"]["psnr"]
    assert all("psnr_x8" in im for im in r["images"])
    md = results_markdown(res, "EDSR")
    assert "| tiny | 2 |" in md and "| tiny (self-ensemble x8) | 2 |" in md
    plain = evaluate_sets(model, {"tiny": recs})
    assert "ensemble" not in plain["sets"]["tiny"]


def test_validation_uses_the_self_ensemble_when_configured(monkeypatch):
    model = make_model("edsr")
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


def test_self_ensemble_val_composes_from_config(compose_cfg):
    from hydra.utils import instantiate

    cfg = compose_cfg(["model.self_ensemble_val=true"])
    module = instantiate(cfg.model)
    assert module.self_ensemble_val is True


def test_srlab_eval_self_ensemble_from_config(ckpt, compose_cfg, image_folder, tmp_path, capsys):
    from srlab.cli.evaluate import evaluate

    folder = image_folder("set", sizes=((24, 28),))
    cfg = compose_cfg(
        [
            f"ckpt_path={ckpt('edsr')}",
            f"test_sets.photos={folder}",
            "self_ensemble=true",
            "save_images=false",
            "device=cpu",
        ],
        config_name="eval",
    )
    res = evaluate(cfg)
    out = capsys.readouterr().out
    assert "| photos | 1 |" in out and "| photos (self-ensemble x8) | 1 |" in out
    assert "ensemble" in res["sets"]["photos"]
