"""srlab-eval: the metrics table, pictures and model size in metrics.json; logger=wandb logs an
offline W&B run with the per-image table (no logger, the default, writes no W&B files);
metrics=[psnr,niqe,...] per image and per set; scoring released SR images (sr_dir=...); tiled and
self-ensemble evaluation; one row per benchmark set; the entry point's exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from srlab.cli.evaluate import evaluate, summary_metrics
from srlab.cli.report import main as report_main
from srlab.data import read_image
from srlab.errors import SRLabError
from srlab.reporting import collect
from tests.helpers import (
    ESPCN_X3,
    ESPCN_X3_MACS,
    ESPCN_X3_PARAMS,
    compose,
    hr_folder,
    run_cli,
    wandb_record,
    write_bicubic_sr,
    write_checkpoint,
    write_pair,
)

FSRCNN_X3 = {"_target_": "srlab.archs.FSRCNN", "scale": 3}


def _eval(tmp_path, image_folder, *overrides):
    ckpt = write_checkpoint(tmp_path / "tiny.ckpt", ESPCN_X3)
    folder = image_folder("set", sizes=((30, 36), (27, 33), (24, 24)))
    out = tmp_path / "eval"
    cfg = compose(
        [f"ckpt_path={ckpt}", f"test_sets.photos={folder}", *overrides],
        config_name="eval",
        output_dir=out,
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
    tmp_path, image_folder, offline_wandb, capsys
):
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
        for p in offline_wandb.rglob("*")  # W&B's staging of artifact files
        if p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
    ]
    assert len(staged_png) == 3  # the SR pictures (saved by srlab-eval), in the table's artifact
    # tags (configured + protocol), model size and summary metrics are in the run's record
    record = wandb_record(run)
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

    model = load_model(write_checkpoint(tmp_path / "tiny.ckpt", ESPCN_X3))
    (rec,) = ImageFolder(image_folder("one", sizes=((31, 37),))).load(3)
    picture = _sr_picture(model, rec, 3, tmp_path / "not_saved.png")
    assert picture.image.size == (36, 30)  # the HR image mod-cropped to x3 (PIL: width, height)


@pytest.mark.slow  # the session's trained checkpoint: a training run
def test_eval_writes_metrics_table_and_pictures(trained, tmp_path, image_folder, capsys):
    ckpt, _, _ = trained
    folder = image_folder("set", sizes=((60, 75), (48, 51)))
    cfg = compose(
        [f"ckpt_path={ckpt}", f"+test_sets.mine={folder}"],
        config_name="eval",
        output_dir=tmp_path / "eval",
    )
    results = evaluate(cfg)
    out = capsys.readouterr().out
    assert "| photos |" in out and "| mine |" in out and "bicubic PSNR" in out
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["protocol"]["colour"] == "y-bt601" and saved["protocol"]["crop_border"] == 3
    assert saved["sets"]["mine"]["num_images"] == 2
    assert set(saved["sets"]) == {"photos", "mine"}
    assert results["sets"]["photos"]["model"]["psnr"] > 0
    cmp = read_image(tmp_path / "eval" / "compare" / "mine" / "0000.png")
    assert cmp.shape[-1] > 3 * 75  # three panels side by side
    assert (tmp_path / "eval" / "metrics.md").read_text().count("|") > 20


@pytest.mark.slow  # the trained checkpoint, and srlab-eval in two fresh processes
def test_eval_entry_point(trained, tmp_path, image_folder):
    ckpt, _, _ = trained
    folder = image_folder("set", sizes=((30, 33),))
    res = run_cli(
        "srlab-eval", f"ckpt_path={ckpt}", f"test_sets.photos={folder}", f"hydra.run.dir={tmp_path}"
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "metrics.json").exists() and "| photos | 1 |" in res.stdout
    res = run_cli("srlab-eval", f"ckpt_path={tmp_path}/missing.ckpt", f"hydra.run.dir={tmp_path}")
    assert (
        res.returncode == 2
        and "checkpoint not found" in res.stderr
        and "Traceback" not in res.stderr
    )


def _eval_as_multirun_job(tmp_path, folder, spec, name, *overrides):
    ckpt = write_checkpoint(tmp_path / f"{name}.ckpt", spec)
    out = tmp_path / "multirun" / name  # as a Hydra multirun over ckpt_path lays its jobs out
    cfg = compose(
        [f"ckpt_path={ckpt}", f"test_sets.photos={folder}", "save_images=false", *overrides],
        config_name="eval",
        output_dir=out,
    )
    return evaluate(cfg), out


def test_two_networks_with_niqe_give_the_table_and_the_pd_plane(tmp_path, image_folder, capsys):
    # an image that keeps 2x2 NIQE blocks after the x3 border crop
    folder = image_folder("set", sizes=((204, 198),))
    results = {}
    for name, spec in (("espcn", ESPCN_X3), ("fsrcnn", FSRCNN_X3)):
        results[name], _ = _eval_as_multirun_job(
            tmp_path, folder, spec, name, "metrics=[psnr,niqe]"
        )
    res = results["espcn"]
    entry = res["sets"]["photos"]
    imgs = entry["images"]
    assert all(np.isfinite(i["niqe"]) and np.isfinite(i["bicubic_niqe"]) for i in imgs)
    assert entry["model"]["niqe"] == pytest.approx(np.mean([i["niqe"] for i in imgs]))
    assert entry["bicubic"]["niqe"] == pytest.approx(np.mean([i["bicubic_niqe"] for i in imgs]))
    assert "lpips" not in entry["model"] and "niqe" in res["protocol"]["perceptual"]
    assert summary_metrics(res)["test/photos/niqe"] == entry["model"]["niqe"]
    saved = json.loads((tmp_path / "multirun" / "espcn" / "metrics.json").read_text())
    assert saved["sets"]["photos"]["model"]["niqe"] == pytest.approx(entry["model"]["niqe"])
    md = (tmp_path / "multirun" / "espcn" / "metrics.md").read_text()
    assert (
        "| bicubic NIQE | ESPCN NIQE |" in md and f"| {imgs[0]['name']} |" in md.split("NIQE |")[-1]
    )
    assert "ESPCN NIQE" in capsys.readouterr().out  # printed with the PSNR table

    rows = collect([tmp_path / "multirun"])
    assert {r["network"] for r in rows} == {"ESPCN", "FSRCNN"} and all("niqe" in r for r in rows)
    report_main([str(tmp_path / "multirun"), "--out", str(tmp_path / "report"), "--x", "params"])
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Perception-distortion" in report and "| ESPCN | x3 | photos |" in report
    png = tmp_path / "report" / "report_pd.png"
    pixels = np.asarray(Image.open(png).convert("L"))
    assert pixels.shape[0] > 300 and pixels.min() < 128
    assert "perception-distortion plane" in capsys.readouterr().out


def test_psnr_ssim_stay_the_default_and_a_plain_report_has_no_pd_plane(tmp_path, image_folder):
    folder = image_folder("set", sizes=((60, 60),))
    res, out = _eval_as_multirun_job(tmp_path, folder, ESPCN_X3, "plain")
    assert (
        set(res["sets"]["photos"]["model"]) == {"psnr", "ssim"}
        and "perceptual" not in res["protocol"]
    )
    report_main([str(out), "--out", str(tmp_path / "report")])
    assert not (tmp_path / "report" / "report_pd.png").exists()
    assert "Perception-distortion" not in (tmp_path / "report" / "report.md").read_text()


def test_missing_lpips_weights_stop_the_run_before_any_work(tmp_path, image_folder, torch_hub):
    folder = image_folder("set", sizes=((60, 60),))
    with pytest.raises(SRLabError, match=r"alexnet-owt-7be5be79\.pth.*metric_weights\.lpips_alex"):
        _eval_as_multirun_job(tmp_path, folder, ESPCN_X3, "lpips", "metrics=[psnr,ssim,lpips]")
    assert not (tmp_path / "multirun" / "lpips" / "metrics.json").exists()


def test_srlab_eval_sr_dir(compose_cfg, tmp_path, capsys):
    root = tmp_path / "bench"
    hr = hr_folder(root)  # root/Set/HR: the benchmark layout
    write_bicubic_sr(hr, tmp_path / "released" / "RCAN" / "Set" / "x2", 2, suffix="_RCAN_x{s}")
    cfg = compose_cfg(
        [
            f"sr_dir='{tmp_path}/released/RCAN/{{set}}/x{{scale}}'",
            "~test_sets",
            "+test_sets.Set=benchmark",
            f"benchmark_root={root}",
            "scales=2",
        ],
        config_name="eval",
    )
    res = evaluate(cfg)
    out = tmp_path / "run"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["network"] == "RCAN" and saved["sets"]["Set"]["num_images"] == 2
    md = (out / "metrics.md").read_text()
    assert "| RCAN PSNR |" in md and "grey files: grey values" in md
    assert res["sets"]["Set"]["model"]["psnr"] == pytest.approx(
        res["sets"]["Set"]["bicubic"]["psnr"]
    )
    assert "RCAN PSNR" in capsys.readouterr().out
    # without scales: one clear sentence
    cfg = compose_cfg(
        [
            f"sr_dir={tmp_path}/released",
            "~test_sets",
            "+test_sets.Set=benchmark",
            f"benchmark_root={root}",
        ],
        config_name="eval",
    )
    with pytest.raises(SRLabError, match="sr_dir needs the scale"):
        evaluate(cfg)


def test_srlab_eval_self_ensemble_from_config(ckpt, compose_cfg, image_folder, capsys):
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


def test_evaluation_one_row_per_benchmark_set(tmp_path, compose_cfg, capsys):
    from srlab.cli.train import train

    bench = tmp_path / "benchmark"
    for k, name in enumerate(("Set5", "Set14", "B100", "Urban100")):
        for i in range(2):
            write_pair(
                bench / name / "HR" / f"{i}.png",
                bench / name / "LR_bicubic" / "X{s}" if k % 2 else None,
                scales=(3,),
                seed=k * 2 + i,
                size=(30, 36),
            )
    cfg = compose_cfg(
        ["model/net=espcn", "data.scale=3", "debug=fdr", "logger=none"],
        output_dir=tmp_path / "train",
    )
    _, objs = train(cfg)
    ckpt = next((tmp_path / "train").rglob("*.ckpt"), None)
    if ckpt is None:  # fast_dev_run writes no checkpoint: save one
        ckpt = tmp_path / "m.ckpt"
        objs["trainer"].save_checkpoint(ckpt)
    ev = compose_cfg(
        [
            f"ckpt_path={ckpt}",
            "test_sets=benchmarks",
            f"benchmark_root={bench}",
            "save_images=false",
        ],
        config_name="eval",
        output_dir=tmp_path / "eval",
    )
    res = evaluate(ev)  # Manga109 is not built here: left out, named on stderr
    captured = capsys.readouterr()
    out = captured.out
    assert "skipped: Manga109" in captured.err
    for name in ("Set5", "Set14", "B100", "Urban100"):
        assert sum(line.startswith(f"| {name}") for line in out.splitlines()) == 1, out
    assert set(res["sets"]) >= {"Set5", "Set14", "B100", "Urban100"}


# LR 50x45: larger than a tile of 8 with its 16 pixels of context on each side
BIG = ((150, 135),)


def test_srlab_eval_tile_runs_tiled_and_scores_as_whole(tmp_path, ckpt, image_folder):
    path = ckpt("espcn_rgb")
    photos = image_folder("hr", sizes=BIG)

    def run(name: str, *extra: str) -> dict:
        cfg = compose(
            [f"ckpt_path={path}", f"test_sets={{photos: {photos}}}", "device=cpu", *extra],
            config_name="eval",
            output_dir=tmp_path / name,
        )
        return evaluate(cfg)["sets"]["photos"]["model"]

    whole, tiled = run("whole"), run("tiled", "tile=8")
    assert tiled["psnr"] == pytest.approx(whole["psnr"], abs=1e-4)
    with pytest.raises(SRLabError, match="tile must be a positive number of LR pixels or null"):
        run("bad", "tile=0")
