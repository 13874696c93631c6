"""Device, precision and memory-layout rules (srlab.speed): device=auto of srlab-eval and
srlab-upscale, trainer.precision=auto and model.channels_last=auto."""

import pytest
import torch

from srlab.archs import ESPCN
from srlab.errors import SRLabError
from srlab.models import SRModule
from srlab.speed import resolve_channels_last, resolve_device, resolve_precision


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


def test_resolve_on_this_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto", "cpu") == "32-true"
    assert resolve_precision("auto", "gpu") == "32-true"  # no GPU here: float32
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"  # asked for: kept (warned)
    assert resolve_precision(32, "cpu") == 32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_precision("auto", "gpu") == "bf16-mixed"
    assert resolve_precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_precision("auto", "auto") == "16-mixed"


def test_channels_last_auto():
    assert resolve_channels_last("auto", "cpu") is False
    assert resolve_channels_last("auto", torch.device("cuda", 0)) is True
    assert resolve_channels_last(True, "cpu") is True
    with pytest.raises(ValueError, match="true, false or auto"):
        resolve_channels_last("yes", "cpu")
    with pytest.raises(ValueError, match="true, false or auto"):
        SRModule(ESPCN(scale=2), channels_last="yes")
