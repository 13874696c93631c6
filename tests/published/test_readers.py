"""srlab.published.readers: PyTorch (.pt/.pth) and .safetensors release files, read safely:
wrappers unwrapped, DataParallel prefixes removed, every bad file one sentence."""

from __future__ import annotations

import os
from collections import OrderedDict

import pytest
import torch

from srlab.published import RELEASE_SUFFIXES, ReleaseError, read_release
from srlab.published.readers import TrainingCheckpoint, read_safetensors, read_torch


def state(seed: int = 0) -> OrderedDict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return OrderedDict(
        [
            ("conv1.weight", torch.randn(4, 1, 3, 3, generator=g)),
            ("conv1.bias", torch.randn(4, generator=g)),
            ("conv2.weight", torch.randn(1, 4, 3, 3, generator=g)),
        ]
    )


class RunsCommand:
    """Unpickling this runs a shell command that creates ``marker`` (what a crafted file does)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def one_sentence(err: BaseException) -> str:
    msg = str(err)
    assert msg and "\n" not in msg and "Traceback" not in msg, msg
    return msg


def test_bare_state_dict(tmp_path):
    sd = state()
    torch.save(sd, tmp_path / "bare.pth")
    raw = read_torch(tmp_path / "bare.pth")
    assert raw.format == "pytorch" and raw.meta["wrapper"] is None
    assert list(raw.tensors) == list(sd)
    for k, v in sd.items():
        assert torch.equal(raw.tensors[k], v) and raw.tensors[k].dtype == torch.float32
    assert "3 tensors (conv1.weight (4, 1, 3, 3)" in raw.describe()


@pytest.mark.parametrize(
    "wrap, wrapper",
    [
        (lambda sd: {"params": sd}, "params"),
        (lambda sd: {"params_ema": sd}, "params_ema"),
        (lambda sd: {"params": state(1), "params_ema": sd}, "params_ema"),  # BasicSR: EMA preferred
        (lambda sd: {"state_dict": sd, "epoch": 3, "optimizer": {"lr": 0.1}}, "state_dict"),
        (lambda sd: {"model": sd}, "model"),
        (lambda sd: {"net": sd}, "net"),
        (lambda sd: {"state_dict": {"model": sd}}, "state_dict.model"),  # nested once
        (lambda sd: {"model": OrderedDict((f"module.{k}", v) for k, v in sd.items())}, "model"),
    ],
)
def test_wrappers_unwrap(tmp_path, wrap, wrapper):
    sd = state()
    torch.save(wrap(sd), tmp_path / "w.pth")
    raw = read_torch(tmp_path / "w.pth")
    assert raw.meta["wrapper"] == wrapper
    assert set(raw.tensors) == set(sd)
    assert all(torch.equal(raw.tensors[k], sd[k]) for k in sd)


def test_dataparallel_prefix_dtypes_and_metadata(tmp_path):
    sd = OrderedDict((f"module.{k}", v.half()) for k, v in state().items())
    sd["module.bn.num_batches_tracked"] = torch.tensor(7)
    sd["version"] = 2
    sd["arch"] = "tiny"
    torch.save(sd, tmp_path / "dp.pt")
    raw = read_torch(tmp_path / "dp.pt")
    assert set(raw.tensors) == {
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "bn.num_batches_tracked",
    }
    assert all(t.dtype == torch.float32 and t.device.type == "cpu" for t in raw.tensors.values())
    assert raw.tensors["bn.num_batches_tracked"].item() == 7.0
    assert raw.meta["extra"] == {"version": 2, "arch": "tiny"}


def test_entries_that_are_not_tensors_or_plain_metadata_are_named(tmp_path):
    sd = state()
    sd["extra_block"] = [torch.zeros(1)]
    torch.save(sd, tmp_path / "odd.pth")
    with pytest.raises(ReleaseError, match="entry 'extra_block' is a list, not a tensor") as e:
        read_torch(tmp_path / "odd.pth")
    one_sentence(e.value)
    torch.save({"generator": state(), "discriminator": state(1)}, tmp_path / "two.pth")
    with pytest.raises(
        ReleaseError, match=r"no state dict of tensors \(found keys 'generator', 'discriminator'"
    ) as e:
        read_torch(tmp_path / "two.pth")
    one_sentence(e.value)
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(ReleaseError, match="holds a list, not a state dict"):
        read_torch(tmp_path / "list.pth")
    torch.save({}, tmp_path / "empty_dict.pth")
    with pytest.raises(ReleaseError, match="no state dict of tensors"):
        read_torch(tmp_path / "empty_dict.pth")
    sd = OrderedDict([("module.a", torch.zeros(1)), ("a", torch.ones(1))])
    torch.save(sd, tmp_path / "clash.pth")
    with pytest.raises(ReleaseError, match="both become 'a'"):
        read_torch(tmp_path / "clash.pth")


def _bad_files(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(state(), good)
    data = good.read_bytes()
    legacy = tmp_path / "legacy_src.pth"
    torch.save(state(), legacy, _use_new_zipfile_serialization=False)
    files = {
        "empty": (b"", "the file is empty"),
        "truncated": (data[: len(data) // 2], "truncated or corrupt"),
        "truncated_legacy": (legacy.read_bytes()[:300], "truncated or corrupt"),
        "text": (b"<html>404 not found</html>", "not a PyTorch file"),
        "zeros": (b"\0" * 512, "not a PyTorch file"),
        "corrupt_zip": (data[:40] + b"\xff" * 64 + data[104:], "model file"),
    }
    out = {}
    for name, (content, expect) in files.items():
        p = tmp_path / f"{name}.pth"
        p.write_bytes(content)
        out[name] = (p, expect)
    return out


def test_bad_pytorch_files_give_one_sentence(tmp_path):
    for name, (path, expect) in _bad_files(tmp_path).items():
        with pytest.raises(ReleaseError) as e:
            read_release(path)
        msg = one_sentence(e.value)
        assert expect in msg and str(path) in msg, (name, msg)


def test_directory_and_missing_file(tmp_path):
    d = tmp_path / "weights.pth"
    d.mkdir()
    for fn in (read_release, read_torch, read_safetensors):
        with pytest.raises(ReleaseError, match="is a directory, not a model file"):
            fn(d)
    with pytest.raises(ReleaseError, match="model file not found"):
        read_release(tmp_path / "nope.pth")
    (tmp_path / "w.h5").write_bytes(b"x")
    with pytest.raises(ReleaseError, match=r"unknown model file type '\.h5'"):
        read_release(tmp_path / "w.h5")
    assert {".pt", ".pth", ".safetensors", ".mat", ".caffemodel"} <= set(RELEASE_SUFFIXES)


@pytest.mark.parametrize("legacy", [False, True])
def test_pickle_that_runs_code_is_refused_without_running(tmp_path, legacy):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save(
        {"params": state(), "x": RunsCommand(str(marker))},
        path,
        _use_new_zipfile_serialization=not legacy,
    )
    with pytest.raises(
        ReleaseError, match=r"its pickle names (posix|nt)\.system, which is not tensor data"
    ) as e:
        read_release(path)
    one_sentence(e.value)
    assert not marker.exists()


def test_plain_pickle_file_is_refused_without_running(tmp_path):
    import pickle

    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"w": RunsCommand(str(marker))}, f, protocol=2)
    with pytest.raises(ReleaseError, match="refusing to load model file"):
        read_torch(path)
    assert not marker.exists()


def test_lightning_checkpoint_under_a_pth_name_is_detected(tmp_path):
    ckpt = {
        "state_dict": {"net.w": torch.zeros(1)},
        "pytorch-lightning_version": "2.6.0",
        "epoch": 1,
    }
    torch.save(ckpt, tmp_path / "run.pth")
    with pytest.raises(
        TrainingCheckpoint, match="training checkpoint, not a published release"
    ) as e:
        read_torch(tmp_path / "run.pth")
    assert e.value.checkpoint["epoch"] == 1


def test_safetensors(tmp_path):
    from safetensors.torch import save_file

    sd = {f"module.{k}": v.to(torch.bfloat16) for k, v in state().items()}
    save_file(sd, str(tmp_path / "w.safetensors"), metadata={"arch": "tiny"})
    raw = read_release(tmp_path / "w.safetensors")
    assert raw.format == "safetensors" and raw.meta["metadata"] == {"arch": "tiny"}
    assert set(raw.tensors) == set(state()) and all(
        t.dtype == torch.float32 for t in raw.tensors.values()
    )
    assert torch.allclose(raw.tensors["conv1.bias"], state()["conv1.bias"], atol=2e-2)
    data = (tmp_path / "w.safetensors").read_bytes()
    for name, content in {
        "trunc": data[:-20],
        "garbage": b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......",
        "tiny": b"abc",
    }.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(content)
        with pytest.raises(ReleaseError, match="not a valid safetensors file, or truncated") as e:
            read_release(p)
        one_sentence(e.value)
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ReleaseError, match="the file is empty"):
        read_release(tmp_path / "empty.safetensors")
