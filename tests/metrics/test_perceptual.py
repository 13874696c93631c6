"""LPIPS and DISTS (srlab.metrics.perceptual) with stand-in weights made in the test: nothing is
ever downloaded."""

from __future__ import annotations

import torch

from srlab.metrics.perceptual import build_lpips


def test_lpips_reads_the_configured_file_or_the_hub_cache(torch_hub, squeeze_file):
    path, net = squeeze_file
    lp = build_lpips("squeeze", weights=path)
    # our file, not ImageNet's
    assert torch.equal(lp.net.net.slices[0][0].weight, net.features[0].weight)
    assert torch.hub.get_dir() == str(torch_hub)  # the temporary hub folder is gone again
    x = torch.rand(2, 3, 64, 64)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    same, diff = lp(x, x), lp(x, y)
    assert same.shape == (2,) and same.dtype == torch.float64 and torch.all(same.abs() < 1e-6)
    assert torch.all(diff > 1e-4)
    assert lp(x, y, crop_border=4).shape == (2,)
    (torch_hub / "checkpoints").mkdir(parents=True)
    (torch_hub / "checkpoints" / path.name).write_bytes(path.read_bytes())
    cached = build_lpips("squeeze")
    assert torch.allclose(cached(x, y), diff)
