"""Metrics of rated images (srlab.metrics.mos_metrics): per model, against MOS, and votes grouped
into rated images over the kept raters."""

from __future__ import annotations

import pytest


def test_metrics_on_rated_images_per_model_and_against_mos():
    import io

    import torch
    from PIL import Image

    from srlab.metrics.mos_metrics import RatedImage, mos_metrics_markdown, score_rated_images

    torch.manual_seed(0)
    hr = [torch.rand(3, 40, 48) for _ in range(3)]
    items = []
    for model, noise, mos in (("bicubic", 0.20, 2.0), ("espcn", 0.10, 3.0), ("gan", 0.05, 4.0)):
        for k, h in enumerate(hr):
            sr = (h + noise * torch.randn_like(h)).clamp(0, 1)
            if model == "gan" and k == 0:  # PNG bytes, as srlab-mos stores them
                buf = io.BytesIO()
                Image.fromarray((sr.permute(1, 2, 0) * 255).round().byte().numpy()).save(
                    buf, format="PNG"
                )
                sr = buf.getvalue()
            items.append(RatedImage(model, f"im{k}", mos + 0.1 * k, sr, h))
    res = score_rated_images(items, metrics=("psnr", "ssim", "niqe"), ci="fisher")
    assert list(res["models"]) == ["bicubic", "espcn", "gan"]
    gan = res["models"]["gan"]
    assert (
        gan["images"] == 3 and gan["mos"] == pytest.approx(4.1) and gan["niqe"] is None
    )  # 40x48: no NIQE
    assert res["models"]["bicubic"]["psnr"] < res["models"]["espcn"]["psnr"] < gan["psnr"]
    c = res["correlation"]
    assert c["psnr"]["rho"] > 0.7 and c["psnr"]["n"] == 9 and c["psnr"]["agrees_when"] == "rho > 0"
    assert c["niqe"] is None
    md = mos_metrics_markdown(res)
    assert "| gan | 3 | 4.10 |" in md and "| PSNR | +" in md and "fewer than 4" in md


def test_votes_grouped_into_rated_images_over_kept_raters():
    from srlab.metrics.mos_metrics import rated_images

    votes = [
        ("gan", "a", 1, 4, b"sr-a", b"hr-a"),
        ("gan", "a", 2, 2, b"sr-a", b"hr-a"),
        ("gan", "a", 3, 1, b"sr-a", b"hr-a"),
        ("bic", "a", 1, 2, b"sr-b", None),
    ]
    (gan, bic) = rated_images(votes, raters={1, 2})
    assert (gan.model, gan.key, gan.mos, gan.sr, gan.hr) == ("gan", "a", 3.0, b"sr-a", b"hr-a")
    assert bic.mos == 2.0 and bic.hr is None
