"""Plain helpers shared by the tests: made images and checkpoints, the Hydra compose of srlab-train,
entry points run in a fresh process, and callbacks that inject failures into a training run.

Fixtures built on these live in ``tests/conftest.py``; what a single folder needs stays there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# ESPCN x3 (1-64-32-9, 5-3-3 kernels) per LR pixel: 25*64 + 9*64*32 + 9*32*9 = 22,624 MACs,
# times the 426.67 x 240 LR pixels of a 1280x720 output
ESPCN_X3 = {"_target_": "srlab.archs.ESPCN", "scale": 3}
ESPCN_X3_MACS = 22_624 * 1280 * 720 // 9
ESPCN_X3_PARAMS = (25 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 9 + 9)


# ----------------------------------------------------------------------------- images


def make_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour image with some edges (uint8 HxWx3), stands in for a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack(
        [
            0.5 + 0.4 * np.sin(6 * xx + rng.uniform(0, 6)) * np.cos(4 * yy),
            0.5 + 0.4 * np.cos(5 * yy + rng.uniform(0, 6)),
            0.5 + 0.3 * np.sin(9 * (xx + yy)),
        ],
        axis=2,
    )
    img[h // 3 : h // 2, w // 4 : w // 2] = rng.uniform(0, 1, 3)
    return (np.clip(img + rng.normal(0, 0.01, img.shape), 0, 1) * 255).round().astype(np.uint8)


def photo_pair(
    scale: int, size: int | tuple[int, int] = 24, seed: int = 0, *, quantized: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lr, hr)``: a :func:`make_photo` of ``size`` (``(H, W)``, or one side of a square) and
    its MATLAB-bicubic LR image.

    Both are float tensors in [0, 1] of shape ``(1, 3, H, W)``. ``quantized``: the LR image is
    made by :func:`srlab.data.degradation.bicubic_downscale` (8-bit, as the data pipeline makes
    it), else it is the unrounded ``imresize(hr, 1 / scale)``.
    """
    from srlab.core.imresize import imresize
    from srlab.data.degradation import bicubic_downscale
    from srlab.data.io import to_float

    h, w = (size, size) if isinstance(size, int) else size
    hr8 = torch.from_numpy(make_photo(h, w, seed)).permute(2, 0, 1).contiguous()
    hr = to_float(hr8)[None]
    if quantized:
        return to_float(bicubic_downscale(hr8, scale))[None], hr
    return imresize(hr, 1 / scale).clamp(0, 1), hr


def save_image(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an image file, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_pair(
    hr_path: Path,
    lr_dir: Path | str | None,
    scales: Sequence[int] = (2,),
    seed: int = 0,
    size: tuple[int, int] = (48, 48),
    lr_name: str = "{stem}x{s}",
) -> None:
    """An HR photo at ``hr_path`` and, unless ``lr_dir`` is None, its 8-bit bicubic LR image at
    each scale in ``lr_dir`` (``{s}`` in it and in ``lr_name`` is the scale)."""
    from srlab.data.degradation import bicubic_downscale

    hr = make_photo(*size, seed=seed)
    save_image(hr_path, hr)
    for s in scales if lr_dir is not None else ():
        lr = bicubic_downscale(torch.from_numpy(hr).permute(2, 0, 1), s).permute(1, 2, 0).numpy()
        name = lr_name.format(stem=hr_path.stem, s=s) + ".png"
        save_image(Path(str(lr_dir).format(s=s)) / name, lr)


def make_div2k(root: Path, n_train: int = 3, n_valid: int = 2, lr: bool = True) -> Path:
    """DIV2K's layout (``DIV2K_{train,valid}_HR``, ``..._LR_bicubic/X2``) with tiny photos."""
    for i in range(1, n_train + 1):
        write_pair(
            root / "DIV2K_train_HR" / f"{i:04d}.png",
            root / "DIV2K_train_LR_bicubic" / "X{s}" if lr else None,
            seed=i,
        )
    for i in range(801, 801 + n_valid):
        write_pair(
            root / "DIV2K_valid_HR" / f"{i:04d}.png",
            root / "DIV2K_valid_LR_bicubic" / "X{s}" if lr else None,
            seed=i,
        )
    return root


def make_flickr2k(root: Path, n: int = 2, lr: bool = True) -> Path:
    """Flickr2K's layout (``Flickr2K_HR``, ``Flickr2K_LR_bicubic/X2``) with tiny photos."""
    for i in range(1, n + 1):
        write_pair(
            root / "Flickr2K_HR" / f"{i:06d}.png",
            root / "Flickr2K_LR_bicubic" / "X{s}" if lr else None,
            seed=i,
        )
    return root


def hr_folder(root: Path, grey: bool = False) -> Path:
    """``root/Set/HR`` (the benchmark layout): two colour photos, one of odd size (not a multiple
    of 2 or 3), and with ``grey`` a grey one."""
    d = root / "Set" / "HR"
    d.mkdir(parents=True)
    Image.fromarray(make_photo(40, 44, 0)).save(d / "baby_GT.bmp")
    Image.fromarray(make_photo(41, 47, 1)).save(d / "bird_GT.png")
    if grey:
        Image.fromarray(make_photo(38, 42, 2)[..., 1]).save(d / "bridge.bmp")
    return d


def write_bicubic_sr(
    hr_dir: Path, out: Path, scale: int, full_size: bool = False, suffix: str = "_x{s}_SR"
) -> None:
    """Save each HR image's bicubic upscale into ``out`` the way releases do."""
    from srlab.core.imresize import imresize
    from srlab.data.io import to_float, write_image
    from srlab.data.sources import ImageFolder, prepare_pair

    out.mkdir(parents=True, exist_ok=True)
    for rec in ImageFolder(hr_dir).load(scale):
        full = rec.hr
        rec = prepare_pair(rec, scale)
        up = imresize(to_float(rec.lr).unsqueeze(0), scale).clamp(0, 1)[0]
        if full_size:  # pad back to the uncropped HR size (some releases keep it)
            pad = torch.zeros(3, *full.shape[-2:])
            pad[:, : up.shape[1], : up.shape[2]] = up
            up = pad
        stem = rec.name.replace("_GT", "")
        write_image(out / f"{stem}{suffix.format(s=scale)}.png", up)


def write_metrics_json(
    path: Path,
    network: str | None = None,
    size: dict[str, Any] | None = None,
    psnr: float = 30.0,
    checkpoint: Path | str = "",
    scale: int = 3,
    set_name: str = "Set5",
) -> None:
    """``path/metrics.json`` as srlab-eval writes it, for one set (bicubic 28 dB)."""
    res: dict[str, Any] = {
        "protocol": {"degradation": "bicubic-matlab", "scale": scale},
        "sets": {
            set_name: {
                "set": set_name,
                "scale": scale,
                "model": {"psnr": psnr, "ssim": 0.9},
                "bicubic": {"psnr": 28.0, "ssim": 0.8},
            }
        },
        "checkpoint": str(checkpoint),
    }
    if network:
        res["network"] = network
    if size:
        res["model_size"] = size
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(res))


# ----------------------------------------------------------------------------- networks


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (the thread count is restored)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def n_params(module: torch.nn.Module) -> int:
    """Every parameter (weights, biases, BN affine parameters, PReLU slopes)."""
    return sum(p.numel() for p in module.parameters())


def randomise(net: torch.nn.Module, seed: int = 0, std: float = 0.05) -> None:
    """Random weights *and* biases (srlab zero-initialises some biases; a bias put at the wrong
    place must show in a comparison with a reference forward)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


def ref_conv(x: torch.Tensor, m: torch.nn.Conv2d, pad: int | None = None) -> torch.Tensor:
    """``m``'s convolution written out with ``F.conv2d`` (padding ``k // 2`` unless given): the
    layer of an independent reference forward, on the srlab module's own weights."""
    k = m.weight.shape[-1]
    return torch.nn.functional.conv2d(
        x, m.weight, m.bias, padding=k // 2 if pad is None else pad, groups=m.groups
    )


def weights_seen(module: torch.nn.Module, run) -> list[torch.Tensor]:
    """The weight tensor objects ``module`` used, one per call, while ``run()`` executes."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda m, args: seen.append(m.weight))
    try:
        run()
    finally:
        handle.remove()
    return seen


# small networks with random weights, as checkpoints without a training run
SMALL_SPECS: dict[str, dict[str, Any]] = {
    "espcn": {"_target_": "srlab.archs.ESPCN", "scale": 3, "in_channels": 1, "num_feat": 16},
    "espcn_rgb": {"_target_": "srlab.archs.ESPCN", "scale": 3, "in_channels": 3, "num_feat": 8},
    "srcnn": {
        "_target_": "srlab.archs.SRCNN",
        "scale": 2,
        "in_channels": 1,
        "channels": [16, 8],
        "padding": "valid",
    },
    "edsr": {
        "_target_": "srlab.archs.EDSR",
        "scale": 2,
        "in_channels": 3,
        "num_feat": 16,
        "num_block": 2,
    },
    "lapsrn": {
        "_target_": "srlab.archs.LapSRN",
        "scale": 4,
        "in_channels": 1,
        "num_feat": 8,
        "num_layer": 2,
    },
    "mdsr": {
        "_target_": "srlab.archs.MDSR",
        "scale": 2,
        "scales": [2, 3],
        "num_feat": 8,
        "num_block": 1,
    },
}


def small_model(name: str, seed: int = 0):
    """An :class:`srlab.models.SRModule` (eval mode) of the small network ``SMALL_SPECS[name]``."""
    from srlab.models.sr_module import SRModule
    from srlab.utils import build_from_spec

    torch.manual_seed(seed)
    spec = SMALL_SPECS[name]
    return SRModule(build_from_spec(spec), net_spec=spec).eval()


def write_checkpoint(
    path: Path,
    net: torch.nn.Module | dict[str, Any],
    spec: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    hyper_parameters: dict[str, Any] | None = None,
    extra_state: dict[str, torch.Tensor] | None = None,
    **srlab: Any,
) -> Path:
    """A checkpoint in the layout srlab-train writes (``net.*`` weights, the ``srlab`` network
    description), of a network that was never trained: enough for srlab-eval, -upscale, -export
    and -report without a training run.

    Args:
        path: the file to write (its folder is made).
        net: the network, or its description (then built with ``seed``).
        spec: the description to record (default: ``net`` when it is one).
        seed: the seed of a network built from its description.
        hyper_parameters: the ``hyper_parameters`` entry (default: empty).
        extra_state: more ``state_dict`` entries (a discriminator's, say).
        **srlab: more entries of the ``srlab`` block (``scale``, ``disc``, ...).
    """
    from srlab.utils import build_from_spec

    if isinstance(net, dict):
        spec = dict(net) if spec is None else spec
        torch.manual_seed(seed)
        net = build_from_spec(net)
    state = {f"net.{k}": v for k, v in net.state_dict().items()} | dict(extra_state or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": state,
            "srlab": {"net": spec, **srlab},
            "hyper_parameters": dict(hyper_parameters or {}),
        },
        path,
    )
    return path


def checkpoint_weights(ckpt: Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file."""
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


# ----------------------------------------------------------------------------- configs, runs


def compose(
    overrides: Sequence[str] = (),
    config_name: str = "train",
    output_dir: Path | str = "/tmp/srlab-tests",
    return_hydra_config: bool = False,
):
    """The config ``srlab-train`` (or ``srlab-eval``: ``config_name="eval"``) composes from
    ``overrides``, with ``paths.output_dir`` set to ``output_dir``; Hydra's global state is
    cleared before and after. A user's config folder joins with a ``hydra.searchpath`` override.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from srlab.cli.common import CONF_DIR

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
            return hydra_compose(
                config_name,
                overrides=[f"paths.output_dir={output_dir}", *overrides],
                return_hydra_config=return_hydra_config,
            )
    finally:
        GlobalHydra.instance().clear()


def tiny_run_overrides(folder: Path, hr_patch_size: int) -> list[str]:
    """Overrides for a seconds-long CPU training run of an experiment on a made image folder."""
    return [
        "logger=none",
        "~callbacks.val_images",
        f"data.train_dir={folder}",
        f"data.val_dir={folder}",
        "data.num_workers=0",
        "data.batch_size=2",
        f"data.hr_patch_size={hr_patch_size}",
        "data.samples_per_epoch=2",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    ]


def tiny_x2_overrides(
    train_dir: Path,
    val_dir: Path,
    epochs: int = 2,
    samples: int = 32,
    val_images: bool = False,
) -> list[str]:
    """A tiny seeded ESPCN x2 run on made folders, logged to CSV: 8x8 LR patches, batch 4,
    ``samples / 4`` steps an epoch (PNG validation images only with ``val_images``)."""
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
        *([] if val_images else ["~callbacks.val_images"]),
        "seed=7",
    ]


def run_cli(
    name: str, *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a console entry point (``srlab-train``, ``srlab-eval``, ...) in a fresh process, as a
    user runs it, with this repository's ``tests`` importable (callbacks named by ``_target_``),
    one intra-op thread and W&B offline. ``timeout``: a hang fails the test, not the suite."""
    exe = Path(sys.executable).parent / name
    module = {"srlab-eval": "evaluate"}.get(name, name.split("-", 1)[-1])
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", f"srlab.cli.{module}"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def wandb_record(run_dir: Path) -> bytes:
    """The transaction log (``run-*.wandb``) of the offline W&B run in ``run_dir``, complete.

    ``run.finish()`` only tells the W&B service that the run is over: the service writes the
    rest of the log in the background. ``wandb.teardown()`` waits for the service to finish and
    exit (as the ``atexit`` hook of an ``srlab-train``/``srlab-eval`` process does), after which
    the file is whole.
    """
    import wandb

    wandb.teardown()
    (record,) = run_dir.glob("run-*.wandb")
    return record.read_bytes()


# ----------------------------------------------------------------------------- failure injection
# callbacks named by ``_target_: tests.helpers.<Name>`` in a run's config


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


class KillRankAtStep(pl.Callback):
    """SIGKILLs the process of global rank ``rank`` once ``global_step`` reaches ``step`` (a
    machine of a DDP job that dies)."""

    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_rank == self.rank and trainer.global_step >= self.step:
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
