"""srlab-upscale: files and folders, tiles and resumes, 16-bit and EXIF orientation, the scale of a
multi-scale checkpoint, and errors that name the culprit (with their exit codes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import srlab
from srlab.cli.upscale import run as upscale_cli
from srlab.data import read_image
from tests.helpers import make_photo, run_cli


@pytest.mark.slow  # the session's trained checkpoint, srlab-upscale in a fresh process
def test_upscale_files_and_folders(trained, tmp_path, image_folder):
    ckpt, _, _ = trained
    folder = image_folder("in", sizes=((20, 25), (16, 17)), sub="deeper")
    single = tmp_path / "single.jpg"
    Image.new("RGB", (10, 8), (200, 30, 40)).save(single)
    out = tmp_path / "out"
    res = run_cli("srlab-upscale", str(folder), str(single), "--ckpt", str(ckpt), "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "single.png"]
    assert read_image(out / "0000.png").shape == (3, 60, 75)
    up = read_image(out / "single.png").float()
    assert up.shape == (3, 24, 30)
    # a flat colour stays (nearly) that colour: Y from the net, CbCr from bicubic
    assert torch.allclose(up.mean(dim=(1, 2)), torch.tensor([200.0, 30.0, 40.0]), atol=6)


@pytest.mark.slow  # the session's trained checkpoint, srlab-upscale in three fresh processes
def test_upscale_errors_name_the_culprit(trained, tmp_path):
    ckpt, _, _ = trained
    res = run_cli(
        "srlab-upscale", str(tmp_path / "nope.png"), "--ckpt", str(ckpt), "--out", str(tmp_path)
    )
    assert res.returncode == 2 and "input not found" in res.stderr and "nope.png" in res.stderr
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    res = run_cli("srlab-upscale", str(bad), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "corrupt.png" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o" / "corrupt.png").exists()
    good = tmp_path / "good.png"
    Image.new("RGB", (8, 8)).save(good)
    res = run_cli(
        "srlab-upscale",
        str(good),
        "--ckpt",
        str(ckpt),
        "--out",
        str(tmp_path / "o"),
        "--scale",
        "4",
    )
    assert res.returncode == 2 and "x3, not x4" in res.stderr


def test_upscale_names_an_unknown_device(tmp_path, capsys):
    from srlab.cli.upscale import run

    Image.fromarray(make_photo(8, 8)).save(tmp_path / "x.png")
    with pytest.raises(SystemExit) as e:  # refused before the checkpoint is even looked at
        run(
            [
                str(tmp_path / "x.png"),
                "--ckpt",
                str(tmp_path / "none.ckpt"),
                "--out",
                str(tmp_path),
                "--device",
                "gpu",
            ]
        )
    assert e.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == "srlab: error: unknown device 'gpu': use auto, cpu, cuda, cuda:1, ..."
    )


# ---------------------------------------------------------------------- srlab-upscale
def _noise_photo(h, w, seed=0):
    """Uniform noise (uint8 HxWx3): every pixel differs, so a misplaced tile shows."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 1, (h, w, 3)) * 255).astype(np.uint8)


def test_upscale_cli_tiles_resumes_and_keeps_16_bit(ckpt, tmp_path, capsys):
    from srlab.cli.upscale import run

    path = ckpt("edsr")
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_noise_photo(30, 40)).save(src / "a.png")
    grey16 = (np.random.default_rng(1).uniform(0, 65535, (20, 24))).astype(np.uint16)
    Image.fromarray(grey16).save(src / "g16.png")
    import tifffile

    rgb16 = (np.random.default_rng(2).uniform(0, 65535, (18, 22, 3))).astype(np.uint16)
    tifffile.imwrite(src / "t16.tif", rgb16, photometric="rgb")
    out = tmp_path / "out"
    written = run(
        [str(src), "--ckpt", str(path), "--out", str(out), "--tile", "16", "--overlap", "4"]
    )
    assert sorted(p.name for p in written) == ["a.png", "g16.png", "t16.tif"]
    with Image.open(out / "g16.png") as im:
        assert im.mode.startswith("I") and im.size == (48, 40)
        assert np.asarray(im).max() > 255  # kept 16 bits
    t = tifffile.imread(out / "t16.tif")
    assert t.dtype == np.uint16 and t.shape == (36, 44, 3)
    # the tiled output equals the whole-image one (8-bit rounding aside)
    whole = tmp_path / "whole"
    run([str(src / "a.png"), "--ckpt", str(path), "--out", str(whole)])
    a = np.asarray(Image.open(out / "a.png")).astype(int)
    b = np.asarray(Image.open(whole / "a.png")).astype(int)
    assert np.abs(a - b).max() <= 1
    # resume: a second run skips everything already written
    (out / "a.png").unlink()
    capsys.readouterr()
    written = run([str(src), "--ckpt", str(path), "--out", str(out), "--self-ensemble"])
    assert [p.name for p in written] == ["a.png"]
    assert "skipped 2 already done" in capsys.readouterr().out


def test_upscale_respects_exif_orientation(ckpt, tmp_path):
    from srlab.cli.upscale import run

    img = Image.fromarray(_noise_photo(10, 16))  # 16 wide, 10 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: 10 wide, 16 high
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    run([str(tmp_path / "rot.jpg"), "--ckpt", str(ckpt("espcn")), "--out", str(tmp_path / "o")])
    with Image.open(tmp_path / "o" / "rot.png") as im:
        assert im.size == (30, 48)


def test_upscale_cli_errors(ckpt, tmp_path, capsys):
    from srlab.cli.upscale import run

    Image.fromarray(_noise_photo(8, 8)).save(tmp_path / "x.png")
    args = [str(tmp_path / "x.png"), "--ckpt", str(ckpt("edsr")), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:
        run([*args, "--tile", "8", "--max-memory", "100"])
    assert e.value.code == 2 and "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run([*args, "--tile", "8", "--overlap", "4"])
    assert e.value.code == 2 and "less than half" in capsys.readouterr().err


def test_upscale_cli_scale_argument(mdsr_run, tmp_path, image_folder, capsys):
    ckpt, _, _, _ = mdsr_run
    folder = image_folder("in", sizes=((10, 12),))
    written = upscale_cli(
        [str(folder), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"), "--scale", "3"]
    )
    assert srlab.data.read_image(written[0]).shape == (3, 30, 36)
    with pytest.raises(SystemExit) as e:
        upscale_cli(
            [str(folder), "--ckpt", str(ckpt), "--out", str(tmp_path / "o"), "--scale", "5"]
        )
    assert e.value.code == 2 and "upscales x2, x3, x4, not x5" in capsys.readouterr().err
