"""device=auto (srlab.speed.resolve_device), the rule of srlab-eval and srlab-upscale."""

import pytest
import torch

from srlab.errors import SRLabError
from srlab.speed import resolve_device


def test_auto_is_the_gpu_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")


def test_names_and_devices_pass_through():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)  # named, not checked for presence
    assert resolve_device(torch.device("meta")) == torch.device("meta")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", ""])
def test_unknown_names_are_one_clear_error(bad):
    with pytest.raises(SRLabError, match=f"unknown device {bad!r}: use auto, cpu, cuda"):
        resolve_device(bad)
