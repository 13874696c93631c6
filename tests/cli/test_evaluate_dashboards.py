"""srlab-eval and dashboards: model size in metrics.json; logger=wandb logs an offline W&B run
with the per-image table; no logger (the default) writes no W&B files."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from srlab.cli.evaluate import evaluate, summary_metrics

from .conftest import compose_at

ESPCN_X3 = {"_target_": "srlab.archs.ESPCN", "scale": 3}
# ESPCN x3 (1-64-32-9, 5-3-3 kernels) per LR pixel: 25*64 + 9*64*32 + 9*32*9 = 22,624 MACs,
# times the 426.67 x 240 LR pixels of a 1280x720 output
ESPCN_X3_MACS = 22_624 * 1280 * 720 // 9
ESPCN_X3_PARAMS = (25 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 9 + 9)


def write_tiny_checkpoint(path: Path, spec: dict = ESPCN_X3, seed: int = 0) -> Path:
    """A checkpoint as srlab-train writes it (network spec + weights), of an untrained network:
    enough for srlab-eval and srlab-report, without a training run."""
    from srlab.utils import build_from_spec

    torch.manual_seed(seed)
    net = build_from_spec(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "srlab": {"net": dict(spec)}, "hyper_parameters": {}}, path)
    return path


def _eval(tmp_path, image_folder, *overrides):
    ckpt = write_tiny_checkpoint(tmp_path / "tiny.ckpt")
    folder = image_folder("set", sizes=((30, 36), (27, 33), (24, 24)))
    out = tmp_path / "eval"
    cfg = compose_at(
        out, [f"ckpt_path={ckpt}", f"test_sets.photos={folder}", *overrides], config_name="eval"
    )
    return evaluate(cfg), out


def test_eval_records_model_size_and_writes_no_wandb_files_by_default(tmp_path, image_folder):
    assert ESPCN_X3_MACS == 2_316_697_600 and ESPCN_X3_PARAMS == 22_729
    results, out = _eval(tmp_path, image_folder, "save_images=false")
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["network"] == "ESPCN"
    assert saved["model_size"] == {"params": ESPCN_X3_PARAMS, "macs_720p_hr": {"x3": ESPCN_X3_MACS}}
    assert not (out / "wandb").exists() and not (out / "csv").exists()
    summary = summary_metrics(results)
    assert set(summary) == {"test/photos/psnr", "test/photos/ssim", "test/photos/psnr_bicubic"}
    assert summary["test/photos/psnr"] == saved["sets"]["photos"]["model"]["psnr"]


def test_eval_logs_an_offline_wandb_run_with_the_per_image_table(
    tmp_path, image_folder, monkeypatch, capsys
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb_data"))  # artifact staging: images
    more = image_folder("more", sizes=((24, 27),))
    _, out = _eval(
        tmp_path,
        image_folder,
        "logger=wandb",
        "wandb_images=2",
        "tags=[eval,mine]",
        f"+test_sets.more={more}",
    )
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, list((out / "wandb").iterdir())
    run = runs[0]
    assert f"W&B run: {run}" in capsys.readouterr().out
    assert len(list(run.glob("run-*.wandb"))) == 1
    # the table: one row per image, the columns asked for, the SR picture of the first two a set
    (table_file,) = run.glob("files/media/table/test/results_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == [
        "set",
        "image",
        "scale",
        "psnr",
        "ssim",
        "bicubic_psnr",
        "bicubic_ssim",
        "sr",
    ]
    assert [r[:3] for r in table["data"]] == [
        ["photos", "0000", 3],
        ["photos", "0001", 3],
        ["photos", "0002", 3],
        ["more", "0000", 3],
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    psnrs = [i["psnr"] for s in ("photos", "more") for i in metrics["sets"][s]["images"]]
    assert [r[3] for r in table["data"]] == psnrs
    assert [r[-1] is not None for r in table["data"]] == [True, True, False, True]
    staged_png = [
        p
        for p in (tmp_path / "wandb_data").rglob("*")
        if p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
    ]
    assert len(staged_png) == 3  # the SR pictures (saved by srlab-eval), in the table's artifact
    # tags (configured + protocol), model size and summary metrics are in the run's record
    record = next(run.glob("run-*.wandb")).read_bytes()
    for needle in (
        b"mine",
        b"espcn",
        b"x3",
        b"y-bt601",
        b"bicubic-matlab",
        b'"macs_720p_hr"',
        str(ESPCN_X3_MACS).encode(),
        b"test/photos/psnr",
    ):
        assert needle in record, needle


def test_sr_picture_is_computed_when_srlab_eval_saved_none(tmp_path, image_folder):
    from srlab.cli.evaluate import _sr_picture
    from srlab.data.sources import ImageFolder
    from srlab.models.checkpoint import load_model

    model = load_model(write_tiny_checkpoint(tmp_path / "tiny.ckpt"))
    (rec,) = ImageFolder(image_folder("one", sizes=((31, 37),))).load(3)
    picture = _sr_picture(model, rec, 3, tmp_path / "not_saved.png")
    assert picture.image.size == (36, 30)  # the HR image mod-cropped to x3 (PIL: width, height)
