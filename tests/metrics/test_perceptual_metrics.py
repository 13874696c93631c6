"""LPIPS/DISTS plumbing and the weights rule (configured file, torch hub cache, download when
online, else one sentence naming the file), with stand-in weights made in the test: nothing is
ever downloaded (``SRLAB_OFFLINE=1``, and the download function is replaced where it is used)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from srlab.errors import SRLabError
from srlab.metrics.perceptual import backbone_url, build_dists, build_lpips
from srlab.metrics.quality import PI_NOTE, ImageMetrics, perceptual_index, quality_markdown
from srlab.metrics.weights import hub_checkpoint_path, resolve_weights

SQUEEZE = "squeezenet1_1-b8a52dc0.pth"  # 5 MB of stand-in weights: the cheap LPIPS backbone


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub directory, downloads off; restored afterwards."""
    monkeypatch.setenv("SRLAB_OFFLINE", "1")
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(before)


@pytest.fixture
def squeeze_file(tmp_path):
    """A stand-in SqueezeNet 1.1 state dict (random values, torchvision's keys), and its model."""
    torch.manual_seed(0)
    net = torchvision.models.squeezenet1_1(weights=None)
    path = tmp_path / "mine" / SQUEEZE
    path.parent.mkdir()
    torch.save(net.state_dict(), path)
    return path, net


def test_missing_weights_name_the_file_and_where_it_goes(hub):
    with pytest.raises(SRLabError) as err:
        build_lpips("alex")
    msg = str(err.value)
    url = backbone_url("alex")
    assert str(hub / "checkpoints" / "alexnet-owt-7be5be79.pth") in msg and url in msg
    assert "metric_weights.lpips_alex" in msg and "\n" not in msg
    with pytest.raises(SRLabError, match=r"vgg16-397923af\.pth.*metric_weights\.dists"):
        build_dists()
    with pytest.raises(SRLabError, match=r"file not found: .*nope\.pth"):
        build_lpips("squeeze", weights=hub / "nope.pth")
    assert not (hub / "checkpoints").exists()  # nothing fetched


def test_online_fetch_goes_to_the_hub_cache_the_torchvision_way(hub, monkeypatch):
    monkeypatch.delenv("SRLAB_OFFLINE")
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):  # stands in for the network
        fetched.append(url)
        torch.save({"w": torch.ones(1)}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    url = backbone_url("vgg")
    path = resolve_weights(url, what="test weights")
    assert (
        path == hub_checkpoint_path(url) == hub / "checkpoints" / "vgg16-397923af.pth"
        and path.is_file()
    )
    assert resolve_weights(url) == path and fetched == [url]  # cached: fetched once

    def offline(url, dst, hash_prefix=None, progress=True):
        raise OSError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(
        SRLabError, match=r"could not be downloaded .*place alexnet-owt-7be5be79\.pth"
    ):
        resolve_weights(backbone_url("alex"), what="AlexNet weights")


def test_lpips_reads_the_configured_file_or_the_hub_cache(hub, squeeze_file):
    path, net = squeeze_file
    lp = build_lpips("squeeze", weights=path)
    assert torch.equal(
        lp.net.net.slices[0][0].weight, net.features[0].weight
    )  # our file, not ImageNet's
    assert torch.hub.get_dir() == str(hub)  # the temporary hub folder is gone again
    x = torch.rand(2, 3, 64, 64)
    y = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    same, diff = lp(x, x), lp(x, y)
    assert same.shape == (2,) and same.dtype == torch.float64 and torch.all(same.abs() < 1e-6)
    assert torch.all(diff > 1e-4)
    assert lp(x, y, crop_border=4).shape == (2,)
    (hub / "checkpoints").mkdir(parents=True)
    (hub / "checkpoints" / SQUEEZE).write_bytes(path.read_bytes())
    cached = build_lpips("squeeze")
    assert torch.allclose(cached(x, y), diff)


def test_image_metrics_lpips_rows_and_set_means(hub, squeeze_file):
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
