"""ImageMetrics (srlab.metrics.quality): per-image rows and set means of the no-reference and
perceptual metrics; PI is named, not computed."""

from __future__ import annotations

import pytest
import torch

from srlab.errors import SRLabError
from srlab.metrics.quality import PI_NOTE, ImageMetrics, perceptual_index, quality_markdown


def test_image_metrics_lpips_rows_and_set_means(torch_hub, squeeze_file):
    path, _ = squeeze_file
    m = ImageMetrics(["psnr", "ssim", "lpips"], {"lpips_squeeze": str(path)}, lpips_net="squeeze")
    assert m.names == ["lpips"]
    hr = torch.rand(1, 3, 40, 40)
    rows = []
    for k in range(2):
        row = {"name": f"im{k}"}
        m.score_row(row, (hr + 0.1 * k).clamp(0, 1), hr.flip(-1), hr, border=2)
        rows.append(row)
    results = {
        "protocol": {},
        "sets": {"s": {"set": "s", "scale": 2, "model": {}, "bicubic": {}, "images": rows}},
    }
    m.finish(results)
    entry = results["sets"]["s"]
    assert entry["model"]["lpips"] == pytest.approx((rows[0]["lpips"] + rows[1]["lpips"]) / 2)
    assert rows[0]["lpips"] < 1e-6 < rows[0]["bicubic_lpips"]
    assert "LPIPS-squeeze" in results["protocol"]["perceptual"]["lpips"]
    md = quality_markdown(results)
    assert "| s | x2 |" in md and "| im1 |" in md and "LPIPS lower is better" in md


def test_pi_is_named_not_computed_and_unknown_metrics_refused(capsys):
    m = ImageMetrics(["psnr", "niqe", "pi"])
    assert m.names == ["niqe"] and PI_NOTE in capsys.readouterr().err
    with pytest.raises(SRLabError, match="unknown metric"):
        ImageMetrics(["psnr", "fid"])
    assert perceptual_index(ma=8.0, niqe_value=4.0) == 3.0
