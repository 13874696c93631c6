"""Stand-in LPIPS backbone weights for the perceptual-metric tests (nothing is downloaded)."""

from __future__ import annotations

import pytest
import torch
import torchvision

SQUEEZE = "squeezenet1_1-b8a52dc0.pth"  # 5 MB of stand-in weights: the cheap LPIPS backbone


@pytest.fixture
def squeeze_file(tmp_path):
    """A stand-in SqueezeNet 1.1 state dict (random values, torchvision's keys), and its model."""
    torch.manual_seed(0)
    net = torchvision.models.squeezenet1_1(weights=None)
    path = tmp_path / "mine" / SQUEEZE
    path.parent.mkdir()
    torch.save(net.state_dict(), path)
    return path, net
