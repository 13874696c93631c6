"""srlab-export's command line: parity report, ONNX at any size and batch, clean failures."""

from __future__ import annotations

import warnings

import pytest
import torch

import srlab.cli.export as export_cli
import srlab.export


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
    monkeypatch.setattr(srlab.export, "PARITY_TOL", -1.0)
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


def test_export_cli_reports_and_fails_cleanly(tmp_path, capsys, monkeypatch, ckpt):
    from srlab.cli.export import run

    path = ckpt("espcn_rgb")
    out = tmp_path / "m.pt"
    args = ["--ckpt", str(path), "--format", "torchscript", "--out", str(out), "--size", "8", "8"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(args)
    printed = capsys.readouterr().out
    assert out.is_file() and result["check_size"] == (13, 11)
    assert f"wrote {out} (torchscript, x3" in printed and "on a 11x13 input" in printed
    out.unlink()
    monkeypatch.setattr(srlab.export, "PARITY_TOL", -1.0)
    with warnings.catch_warnings(), pytest.raises(SystemExit) as e:
        warnings.simplefilter("ignore")
        run(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "differs from PyTorch" in err and "Traceback" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
