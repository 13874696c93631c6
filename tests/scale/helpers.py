"""Shared bits of the scale-out tests: tiny-run overrides, a self-killing callback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytorch_lightning as pl

REPO = Path(__file__).resolve().parents[2]


def tiny_overrides(train_dir: Path, val_dir: Path, epochs: int = 2, samples: int = 32) -> list[str]:
    """A tiny ESPCN x2 run: 8x8 LR patches, batch 4, ``samples / 4`` steps an epoch."""
    return [
        "data=folder",
        f"data.train_dir={train_dir}",
        f"data.val_dir={val_dir}",
        "data.scale=2",
        "data.patch_size=8",
        "data.batch_size=4",
        f"data.samples_per_epoch={samples}",
        "data.num_workers=0",
        "model.net.num_feat=8",
        "logger=csv",
        f"trainer.max_epochs={epochs}",
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "~callbacks.val_images",
        "seed=7",
    ]


def run_train(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``srlab-train`` in a fresh process (as a user runs it), with this repo's tests importable."""
    exe = Path(sys.executable).parent / "srlab-train"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "srlab.cli.train"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
    )


class KillAtStep(pl.Callback):
    """SIGKILLs its own training process once ``global_step`` reaches ``step`` (no clean-up, no
    checkpoint of that step: a machine that dies)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class NaNAtStep(pl.Callback):
    """Turns the loss into NaN from training step ``step`` on (an exploding run, on demand)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            batch["hr"].fill_(float("nan"))


def weights(ckpt) -> dict:
    """The ``state_dict`` of a checkpoint file."""
    import torch

    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


def kill_and_resume(tmp_path: Path, base: list[str], kill_step: int = 11):
    """Train ``base`` uninterrupted; train it again in a subprocess SIGKILLed after ``kill_step``
    (checkpoints every 5 steps, so mid-epoch of a 2 x 8-step run); resume that one from its
    ``last.ckpt``. Checks the kill and the loader position stored in the checkpoint.

    Returns ``(full_metrics, resumed_metrics, full_last_ckpt, killed_last_ckpt)``.
    """
    import torch

    from srlab.cli.train import train

    from ..cli.conftest import compose_at

    full, killed = tmp_path / "full", tmp_path / "killed"
    metrics, _ = train(compose_at(full, base))
    res = run_train(
        *base,
        f"hydra.run.dir={killed}",
        "+callbacks.kill._target_=tests.scale.helpers.KillAtStep",
        f"+callbacks.kill.step={kill_step}",
    )
    assert res.returncode == -9, res.stderr[-3000:]
    last = killed / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert (
        state["global_step"] == 10 and state["epoch"] == 1
    )  # mid-epoch: 2 of 8 batches of epoch 2 done
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 1, "batches": 2}
    ]
    resumed, _ = train(compose_at(killed, [*base, f"ckpt_path={last}"]))
    return metrics, resumed, full / "checkpoints" / "last.ckpt", last


class KillRankAtStep(pl.Callback):
    """SIGKILLs the process of global rank ``rank`` once ``global_step`` reaches ``step`` (a
    machine of a DDP job that dies); writes the time of death to ``<run>/killed_at`` first."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.global_step >= self.step:
            import time

            Path(trainer.default_root_dir, "killed_at").write_text(repr(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)


class NaNOnRankAtStep(pl.Callback):
    """Turns the batch of global rank ``rank`` into NaN from training step ``step`` on."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.global_step >= self.step:
            batch["hr"].fill_(float("nan"))


class RaiseOnRankAtStep(pl.Callback):
    """Raises ``ValueError("cannot decode image (injected)")`` on global rank ``rank`` at step
    ``step``: a data error of one rank."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.global_step >= self.step:
            raise ValueError("cannot decode image 0007.png (injected)")


class StallRankAtStep(pl.Callback):
    """Sets every rank's collective timeout to ``timeout_s`` at the start of training, then
    keeps rank ``rank`` away (sleeping) at step ``step``: the others wait in the next collective
    (a hang the watchdog must end)."""

    def __init__(self, rank: int, step: int, timeout_s: float = 3.0, sleep_s: float = 30.0) -> None:
        self.rank, self.step, self.timeout_s, self.sleep_s = rank, step, timeout_s, sleep_s

    def on_train_start(self, trainer, pl_module) -> None:
        from datetime import timedelta

        from torch.distributed.distributed_c10d import _get_default_group, _set_pg_timeout

        _set_pg_timeout(timedelta(seconds=self.timeout_s), _get_default_group())

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.global_step == self.step:
            import time

            time.sleep(self.sleep_s)
