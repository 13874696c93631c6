"""Training-step time of srlab's SRModule inside Lightning's loop vs a plain PyTorch loop.

Same network (ESPCN x3, Y channel, as in `make demo`), same pre-made batches in memory (so data
loading is not measured), same optimizer and loss; both measured in this process, interleaved
over several rounds, and the ratio of the medians printed. Goal: ratio <= 1.05.

    python bench/bench_train_step.py [--steps 150] [--batch 32] [--patch 17] [--rounds 7]
                                     [--device cpu|cuda] [--net espcn|edsr]

``--options auto,channels_last,bf16-mixed,channels_last+bf16-mixed`` also times SRModule with
those speed options (``model.channels_last``, ``trainer.precision``; ``auto`` = both set to
``auto``, see :mod:`srlab.speed`) in the same rounds and prints each against SRModule's default
(fp32, NCHW). ``--device cuda`` times both on the GPU (synchronising before each clock read);
``--net edsr`` uses EDSR-baseline (RGB, 16 blocks of 64 channels) instead of ESPCN, a network
heavy enough for GPU figures to measure the GPU rather than kernel-launch overhead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from srlab.archs import EDSR, ESPCN
from srlab.core.color import rgb_to_y
from srlab.losses import MSELoss, WeightedSum
from srlab.models import SRModule
from srlab.speed import resolve_precision


def _clock(device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def make_net(name: str, scale: int) -> nn.Module:
    return EDSR(scale=scale) if name == "edsr" else ESPCN(scale=scale)


class _Timer(pl.Callback):
    def __init__(self, warmup: int, device: str) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = _clock(self.device)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = _clock(self.device) if batch_idx == trainer.num_training_batches - 1 else 0.0


def make_batches(n: int, batch: int, patch: int, scale: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "lr": torch.rand(batch, 3, patch, patch, generator=g),
            "hr": torch.rand(batch, 3, patch * scale, patch * scale, generator=g),
        }
        for _ in range(n)
    ]


def time_lightning(
    batches: list[dict],
    warmup: int,
    scale: int,
    option: str = "default",
    device: str = "cpu",
    net: str = "espcn",
) -> float:
    torch.manual_seed(0)
    parts = option.split("+")
    precision = next((o for o in parts if o.endswith(("-mixed", "-true"))), "32-true")
    channels_last: bool | str = "channels_last" in parts
    if "auto" in parts:  # what trainer.precision=auto model.channels_last=auto pick on this device
        precision, channels_last = resolve_precision("auto", device), "auto"
    module = SRModule(
        make_net(net, scale),
        loss=WeightedSum({"l2": MSELoss()}),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        channels_last=channels_last,
    )
    timer = _Timer(warmup, device)
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator=device,
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    return (timer.end - timer.start) / (len(batches) - warmup)


def time_plain(
    batches: list[dict], warmup: int, scale: int, device: str = "cpu", net_name: str = "espcn"
) -> float:
    torch.manual_seed(0)
    net = make_net(net_name, scale).to(device)
    prep = rgb_to_y if net.in_channels == 1 else (lambda x: x)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    start = 0.0
    for i, b in enumerate(DataLoader(batches, batch_size=None)):
        if i == warmup:
            start = _clock(device)
        # the same work the module does: the batch to the device, Y of the RGB batch for a Y
        # network, then the step
        lr, hr = b["lr"].to(device, non_blocking=True), b["hr"].to(device, non_blocking=True)
        pred = net(prep(lr))
        loss = loss_fn(pred, prep(hr))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (_clock(device) - start) / (len(batches) - warmup)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--patch", type=int, default=17)
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument(
        "--net", default="espcn", choices=["espcn", "edsr"], help="edsr: EDSR-baseline, RGB"
    )
    p.add_argument(
        "--options",
        default="",
        help="comma list, e.g. channels_last,bf16-mixed,channels_last+bf16-mixed",
    )
    args = p.parse_args()
    options = [o for o in args.options.split(",") if o]
    extra: dict[str, list[float]] = {o: [] for o in options}
    batches = make_batches(args.steps + args.warmup, args.batch, args.patch, args.scale)
    plain, light = [], []
    for _ in range(args.rounds):
        plain.append(time_plain(batches, args.warmup, args.scale, args.device, args.net))
        light.append(
            time_lightning(batches, args.warmup, args.scale, device=args.device, net=args.net)
        )
        for o in options:
            extra[o].append(
                time_lightning(batches, args.warmup, args.scale, o, args.device, args.net)
            )
    p_med, l_med = statistics.median(plain), statistics.median(light)
    where = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"{args.net.upper()} x{args.scale}, batch {args.batch} x {args.patch}x{args.patch} LR, "
        f"{args.steps} steps, {where}, {args.rounds} rounds"
    )
    plain_rounds = ", ".join(f"{t * 1e3:.2f}" for t in plain)
    light_rounds = ", ".join(f"{t * 1e3:.2f}" for t in light)
    print(f"plain PyTorch loop : {p_med * 1e3:7.2f} ms/step  (rounds: {plain_rounds})")
    print(f"srlab SRModule     : {l_med * 1e3:7.2f} ms/step  (rounds: {light_rounds})")
    paired = statistics.median(lt / pt for lt, pt in zip(light, plain))
    print(
        f"ratio srlab / plain: {l_med / p_med:.3f} (of the medians), "
        f"{paired:.3f} (median of the rounds' ratios)  (goal <= 1.05)"
    )
    for o, times in extra.items():
        med = statistics.median(times)
        print(f"SRModule {o:<26}: {med * 1e3:7.2f} ms/step, {med / l_med:.3f} x the default")


if __name__ == "__main__":
    main()
