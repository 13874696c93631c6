"""The weights rule of the perceptual metrics (srlab.metrics.weights): configured file, torch hub
cache, download when online, else one sentence naming the file and where it goes."""

from __future__ import annotations

import pytest
import torch

from srlab.errors import SRLabError
from srlab.metrics.perceptual import backbone_url, build_dists, build_lpips
from srlab.metrics.weights import hub_checkpoint_path, resolve_weights


def test_missing_weights_name_the_file_and_where_it_goes(torch_hub):
    with pytest.raises(SRLabError) as err:
        build_lpips("alex")
    msg = str(err.value)
    url = backbone_url("alex")
    assert str(torch_hub / "checkpoints" / "alexnet-owt-7be5be79.pth") in msg and url in msg
    assert "metric_weights.lpips_alex" in msg and "\n" not in msg
    with pytest.raises(SRLabError, match=r"vgg16-397923af\.pth.*metric_weights\.dists"):
        build_dists()
    with pytest.raises(SRLabError, match=r"file not found: .*nope\.pth"):
        build_lpips("squeeze", weights=torch_hub / "nope.pth")
    assert not (torch_hub / "checkpoints").exists()  # nothing fetched


def test_online_fetch_goes_to_the_hub_cache_the_torchvision_way(torch_hub, monkeypatch):
    monkeypatch.delenv("SRLAB_OFFLINE")
    fetched = []

    def fake_download(url, dst, hash_prefix=None, progress=True):  # stands in for the network
        fetched.append(url)
        torch.save({"w": torch.ones(1)}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    url = backbone_url("vgg")
    path = resolve_weights(url, what="test weights")
    assert (
        path == hub_checkpoint_path(url) == torch_hub / "checkpoints" / "vgg16-397923af.pth"
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
