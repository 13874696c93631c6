"""Runs that survive: bit-for-bit seeds, kill -9 mid-epoch and resume, single- and multi-scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srlab.cli.train import train
from tests.helpers import checkpoint_weights, compose, run_cli, tiny_x2_overrides


def _folders(image_folder):
    return image_folder("hr", sizes=((40, 48), (36, 44), (48, 40))), image_folder(
        "val", sizes=((32, 40),)
    )


def _multiscale_overrides(train_dir, val_dir, epochs: int = 2, samples: int = 32) -> list[str]:
    """A tiny MDSR x2/x3 run: 8x8 LR patches, batch 4, ``samples / 4`` steps an epoch."""
    base = [
        o
        for o in tiny_x2_overrides(train_dir, val_dir, epochs, samples)
        if not o.startswith("data.scale=")
    ]
    return [
        *base,
        "model/net=mdsr",
        "data.scale=[2,3]",
        "model.net.scales=[2,3]",
        "model.net.num_block=1",
    ]


# EMA on, a step checkpoint every 5 steps (the kill comes after step 11)
_EMA_EVERY_5 = [
    "callbacks.step_checkpoint.every_n_train_steps=5",
    "callbacks=[default,ema]",
    "callbacks.ema.decay=0.9",
]


def _assert_same_weights(expected: Path, actual: Path) -> None:
    """The two checkpoints hold the same (EMA) network weights, to float rounding."""
    a, b = checkpoint_weights(expected), checkpoint_weights(actual)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-7)


def kill_and_resume(tmp_path: Path, base: list[str], kill_step: int = 11):
    """Train ``base`` uninterrupted; train it again in a subprocess SIGKILLed after ``kill_step``
    (checkpoints every 5 steps, so mid-epoch of a 2 x 8-step run); resume that one from its
    ``last.ckpt``. Checks the kill and the loader position stored in the checkpoint.

    Returns ``(full_metrics, resumed_metrics, full_last_ckpt, killed_last_ckpt)``.
    """
    full, killed = tmp_path / "full", tmp_path / "killed"
    metrics, _ = train(compose(base, output_dir=full))
    res = run_cli(
        "srlab-train",
        *base,
        f"hydra.run.dir={killed}",
        "+callbacks.kill._target_=tests.helpers.KillAtStep",
        f"+callbacks.kill.step={kill_step}",
    )
    assert res.returncode == -9, res.stderr[-3000:]
    last = killed / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=False)
    # mid-epoch: 2 of 8 batches of epoch 2 done
    assert state["global_step"] == 10 and state["epoch"] == 1
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 1, "batches": 2}
    ]
    resumed, _ = train(compose([*base, f"ckpt_path={last}"], output_dir=killed))
    return metrics, resumed, full / "checkpoints" / "last.ckpt", last


def test_seeded_cpu_runs_are_bit_for_bit_identical(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    finals = []
    for run in ("a", "b"):
        train(compose(tiny_x2_overrides(train_dir, val_dir, epochs=1), output_dir=tmp_path / run))
        finals.append(checkpoint_weights(tmp_path / run / "checkpoints" / "last.ckpt"))
    assert finals[0].keys() == finals[1].keys()
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k


@pytest.mark.slow  # two runs and a subprocess: ~30 s on a busy 2-core machine
def test_killed_run_resumes_to_the_same_result(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    # 2 epochs x 8 steps; a checkpoint every 5 steps; killed (SIGKILL) after step 11, mid epoch 2
    base = [*tiny_x2_overrides(train_dir, val_dir, epochs=2), *_EMA_EVERY_5]
    metrics, resumed, full_last, last = kill_and_resume(tmp_path, base)
    # optimiser, scheduler, EMA, step, sampler position and patch draws all restored
    _assert_same_weights(full_last, last)
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


@pytest.mark.slow  # two runs and a subprocess: ~30 s on a busy 2-core machine
def test_killed_multiscale_run_resumes_to_the_same_result(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44), (48, 40)))
    val_dir = image_folder("val", sizes=((36, 48),))
    # 2 epochs x 8 steps of random x2/x3 batches; a checkpoint every 5 steps; SIGKILL after step 11
    base = [*_multiscale_overrides(train_dir, val_dir, epochs=2), *_EMA_EVERY_5]
    metrics, resumed, full_last, last = kill_and_resume(tmp_path, base)
    # scales, patches, optimiser, scheduler, EMA and step all restored
    _assert_same_weights(full_last, last)
    psnr = [k for k in metrics if k.startswith("val/psnr")]
    assert psnr
    for k in psnr:
        assert abs(resumed[k] - metrics[k]) < 1e-4, (k, resumed[k], metrics[k])
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 16
