"""Runs that survive: bit-for-bit seeds, kill -9 mid-epoch and resume, NaN stops cleanly."""

from __future__ import annotations

import pytest
import torch

import srlab
from srlab.cli.train import train
from srlab.data.sampling import SeededPatchSampler
from srlab.errors import SRLabError

from ..cli.conftest import compose_at
from .helpers import kill_and_resume, tiny_overrides
from .helpers import weights as _weights


def _folders(image_folder):
    return image_folder("hr", sizes=((40, 48), (36, 44), (48, 40))), image_folder(
        "val", sizes=((32, 40),)
    )


def test_sampler_shards_every_sample_once_per_epoch():
    data = list(range(30))
    for epoch in (0, 3):
        ranks = []
        for rank in range(2):
            s = SeededPatchSampler(data, num_replicas=2, rank=rank, seed=5)
            s.set_epoch(epoch)
            ranks.append(list(s))
        assert len(ranks[0]) == len(ranks[1]) == 15
        assert sorted(ranks[0] + ranks[1]) == [
            epoch * 30 + i for i in range(30)
        ]  # ids carry the epoch
    a, b = SeededPatchSampler(data, seed=5), SeededPatchSampler(data, seed=5)
    a.set_epoch(1), b.set_epoch(1)
    assert list(a) == list(b) and list(a) != list(range(30, 60))  # seeded and shuffled


def test_seeded_cpu_runs_are_bit_for_bit_identical(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    finals = []
    for run in ("a", "b"):
        train(compose_at(tmp_path / run, tiny_overrides(train_dir, val_dir, epochs=1)))
        finals.append(_weights(tmp_path / run / "checkpoints" / "last.ckpt"))
    assert finals[0].keys() == finals[1].keys()
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k


@pytest.mark.slow  # two runs and a subprocess: ~30 s on a busy 2-core machine
def test_killed_run_resumes_to_the_same_result(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    # 2 epochs x 8 steps; a checkpoint every 5 steps; killed (SIGKILL) after step 11, mid epoch 2
    base = tiny_overrides(train_dir, val_dir, epochs=2) + [
        "callbacks.step_checkpoint.every_n_train_steps=5",
        "callbacks=[default,ema]",
        "callbacks.ema.decay=0.9",
    ]
    metrics, resumed, full_last, last = kill_and_resume(tmp_path, base)
    a, b = _weights(full_last), _weights(last)  # EMA weights
    for k in a:  # optimiser, scheduler, EMA, step, sampler position and patch draws all restored
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-7)
    raw_a, raw_b = (
        next(
            v
            for k, v in torch.load(c, weights_only=False)["callbacks"].items()
            if k.startswith("EMA")
        )["raw"]
        for c in (full_last, last)
    )
    for k in raw_a:  # the training (non-EMA) weights too
        torch.testing.assert_close(raw_b[k], raw_a[k], rtol=1e-6, atol=1e-7)
    assert abs(resumed["val/psnr"] - metrics["val/psnr"]) < 1e-4
    end = torch.load(last, map_location="cpu", weights_only=False)
    assert end["global_step"] == 16
    assert end["optimizer_states"][0]["state"][0]["step"] == 16  # Adam's moments went on


def test_nan_loss_stops_with_one_sentence_and_keeps_last_good_checkpoint(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    cfg = compose_at(
        tmp_path,
        [
            *tiny_overrides(train_dir, val_dir, epochs=2),
            "callbacks.step_checkpoint.every_n_train_steps=3",
            "+callbacks.nan._target_=tests.scale.helpers.NaNAtStep",
            "+callbacks.nan.step=7",
        ],
    )
    with pytest.raises(
        SRLabError
    ) as err:  # srlab-train prints it as one line and exits with status 2
        train(cfg)
    msg = str(err.value)
    assert "loss is NaN" in msg and "step 7" in msg and msg.count(". ") == 0, msg
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert str(last) in msg
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 6
    model = srlab.load_model(last)
    assert all(torch.isfinite(p).all() for p in model.parameters())
