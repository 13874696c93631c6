"""TrainingThroughput: samples/s and HR megapixels/s at the log steps only, validation excluded."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers.logger import Logger
from torch import nn

import srlab.callbacks.throughput as throughput_module
from srlab.callbacks import TrainingThroughput

B, H, W = 2, 12, 10  # batch of HR targets


class _Recorder(Logger):
    name, version = "recorder", 0

    def __init__(self) -> None:
        super().__init__()
        self.logged: list[tuple[int, dict]] = []

    def log_metrics(self, metrics, step=None):
        self.logged.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def training_step(self, batch, batch_idx):
        return (self.conv(batch["hr"]) - batch["hr"]).abs().mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(n: int):
    data = [{"hr": torch.rand(3, H, W)} for _ in range(n * B)]
    return torch.utils.data.DataLoader(data, batch_size=B)


def _fit(callback, loggers, steps=6, every=2, module=None):
    trainer = pl.Trainer(
        max_steps=steps,
        log_every_n_steps=every,
        logger=loggers,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        accelerator="cpu",
    )
    trainer.fit(module or _Tiny(), _loader(steps))


class _Clock:
    """A clock that moves only when a step says so: the test counts work, never wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_logs_rates_every_log_step_and_reads_the_clock_only_then(monkeypatch):
    clock, reads = _Clock(), []
    monkeypatch.setattr(throughput_module.time, "perf_counter", lambda: reads.append(1) or clock())

    class _Timed(_Tiny):  # each training step "takes" 10 ms
        def training_step(self, batch, batch_idx):
            clock.now += 0.01
            return super().training_step(batch, batch_idx)

    rec = _Recorder()
    _fit(TrainingThroughput(), [rec], steps=6, every=2, module=_Timed())
    logged = [(s, m) for s, m in rec.logged if "train/samples_per_sec" in m]
    assert [s for s, _ in logged] == [2, 4, 6]
    for _, m in logged:  # 2 steps of B samples of H x W pixels in 20 ms
        assert m["train/steps_per_sec"] == pytest.approx(100.0)
        assert m["train/samples_per_sec"] == pytest.approx(B * 100.0)
        assert m["train/hr_mpix_per_sec"] == pytest.approx(B * 100.0 * H * W / 1e6)
    assert len(reads) == 1 + 2 * len(logged)  # the start, then two reads per log step only


def test_validation_time_is_left_out_and_no_logger_means_no_work(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(throughput_module.time, "perf_counter", clock)

    class _Timed(_Tiny):  # each training step "takes" 10 ms, each validation 400 ms
        def training_step(self, batch, batch_idx):
            clock.now += 0.01
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            clock.now += 0.4

    rec = _Recorder()
    trainer = pl.Trainer(
        max_steps=8,
        log_every_n_steps=50,
        logger=[rec],
        callbacks=[TrainingThroughput(log_every_n_steps=4)],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=1,
        val_check_interval=2,
        accelerator="cpu",
    )
    trainer.fit(_Timed(), _loader(8), _loader(1))
    rates = [m["train/steps_per_sec"] for _, m in rec.logged if "train/steps_per_sec" in m]
    # 4 steps in 40 ms of training time: exactly 100 steps/s once the validations are left out
    # (counted, they would give 4 / 0.84 = 4.8 steps/s)
    assert len(rates) == 2 and all(abs(r - 100.0) < 1e-6 for r in rates), rates
    cb = TrainingThroughput()
    _fit(cb, [], steps=2, every=1)
    assert not cb._active and cb._batches == 0
