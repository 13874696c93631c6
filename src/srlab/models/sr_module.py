"""SRModule: the LightningModule that trains and evaluates any srlab generator with pixel losses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..archs.base import is_multi_scale, net_scales
from ..color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from ..data.imresize import imresize
from ..errors import SRLabError
from ..metrics import PSNR, SSIM
from ..speed import resolve_channels_last

__all__ = ["SRModule"]


def final_output(out: Any) -> Tensor:
    """The reported prediction of a network: the tensor itself, the last of a list/tuple
    (progressive and recursive networks list intermediate predictions first), or ``out["out"]``."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (list, tuple)):
        return out[-1]
    if isinstance(out, Mapping):
        return out["out"]
    raise TypeError(f"a network returned {type(out).__name__}; expected a tensor, list or dict")


class SRModule(pl.LightningModule):
    """Trains a super-resolution network on ``{"lr", "hr"}`` RGB batches in [0, 1].

    The module reads the network's declared contract (``in_channels``, ``pre_upsample``,
    ``border``, ``scale``; see :mod:`srlab.archs.base`) and feeds it accordingly, so it never
    names a concrete architecture:

    - Y networks see the Y channel of BT.601 YCbCr; their loss is on Y, and their RGB output is
      the predicted Y merged with bicubic-upscaled Cb/Cr (as the article describes).
    - pre-upsampling networks get the MATLAB-bicubic-upscaled input at HR size.
    - networks with unpadded convolutions (``border > 0``) are trained against the centre of
      the target and get a reflect-padded input at inference.
    - multi-scale networks (``net.scales``, see :mod:`srlab.archs.base`) get ``scale=`` the
      batch's scale (``batch["scale"]``, one per batch); the bicubic baseline, the Cb/Cr merge
      and the metrics' border crop use that scale. Validation logs ``val/x<s>/psnr``,
      ``val/x<s>/ssim`` and ``val/x<s>/psnr_bicubic`` per scale, and ``val/psnr`` (what the
      checkpoint callback monitors), ``val/ssim``, ``val/psnr_bicubic`` as the **mean over the
      validated scales** (every scale weighs the same). Single-scale networks log as before.

    Args:
        net: the generator.
        loss: ``(pred, target) -> (total, {term: value})``, e.g. :class:`srlab.losses.WeightedSum`.
        optimizer: factory ``params -> Optimizer`` (Hydra ``_partial_: true``).
        scheduler: factory ``optimizer -> LRScheduler`` or ``None``.
        scheduler_interval: ``"epoch"`` or ``"step"``.
        scheduler_monitor: the metric ``ReduceLROnPlateau`` watches.
        net_spec: ``{"_target_": ..., **kwargs}`` of the net, stored in checkpoints so that
            :func:`srlab.load_model` can rebuild the network from the checkpoint alone.
        crop_border: pixels shaved before PSNR/SSIM (default: the scale of each batch, the SR
            protocol).
        metric_y_channel: PSNR/SSIM on Y (papers) or on RGB.
        channels_last: run the network in the NHWC memory format (faster convolutions on
            tensor-core GPUs, usually with ``trainer.precision=bf16-mixed``/``16-mixed``);
            ``"auto"``: on CUDA devices only (:mod:`srlab.speed`).
        compile_net: ``torch.compile`` the network in place (``nn.Module.compile``: parameter
            names, and so checkpoints, do not change); pays off on long GPU runs.
        self_ensemble_val: validate with the x8 self-ensemble (flips/rotations averaged,
            :func:`srlab.inference.self_ensemble`; 8x the validation compute).
        val_tile: validate and test in overlapping tiles of this many LR pixels (the seam-free
            :func:`srlab.inference.tiled_forward`), so that whole 2K images of a large network
            fit in GPU memory; ``None``: whole images. Metrics equal the untiled ones where the
            network's receptive field fits in the tile context (16 LR pixels).

    Under DDP each validation/test image is evaluated by one rank (the data module pads the
    shorter shards with ``pad`` items that are skipped here, so every rank runs the same steps)
    and the metrics are reduced over the ranks: ``val/psnr`` is the mean over all images.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: nn.Module | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str = "val/psnr",
        net_spec: Mapping[str, Any] | None = None,
        crop_border: int | None = None,
        metric_y_channel: bool = True,
        channels_last: bool | str = False,
        compile_net: bool = False,
        self_ensemble_val: bool = False,
        val_tile: int | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        # an empty scheduler config group ("none") arrives as an empty mapping
        self.scheduler_factory = scheduler if callable(scheduler) else None
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.net_spec = dict(net_spec) if net_spec is not None else None
        self.scale = int(net.scale)
        self.scales = net_scales(net)
        self.multi_scale = is_multi_scale(net)
        self._crop_border = None if crop_border is None else int(crop_border)
        self.crop_border = self.crop_for(self.scale)
        self.metric_y_channel = metric_y_channel
        self.channels_last = channels_last if isinstance(channels_last, str) else bool(channels_last)
        resolve_channels_last(self.channels_last, "cpu")  # a bad value fails here, not mid-run
        self.compile_net = bool(compile_net)
        self.self_ensemble_val = bool(self_ensemble_val)
        if val_tile is not None and int(val_tile) < 1:
            raise SRLabError(f"model.val_tile must be a positive number of LR pixels or null, got {val_tile}")
        self.val_tile = None if val_tile is None else int(val_tile)
        self._val_scales: list[int] = []  # scales validated this epoch, in loader order (every rank alike)
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"])
        metric_kw = dict(crop_border=self.crop_border, y_channel=metric_y_channel)
        self.val_psnr, self.val_ssim = PSNR(**metric_kw), SSIM(**metric_kw)
        self.val_psnr_bicubic = PSNR(**metric_kw)
        # multi-scale networks: one set of validation metrics per scale ("x2", "x3", ...)
        self.val_metrics = nn.ModuleDict()
        if self.multi_scale:
            for s in self.scales:
                kw = dict(crop_border=self.crop_for(s), y_channel=metric_y_channel)
                self.val_metrics[f"x{s}"] = nn.ModuleDict(
                    {"psnr": PSNR(**kw), "ssim": SSIM(**kw), "psnr_bicubic": PSNR(**kw)}
                )
        self.test_metrics = nn.ModuleDict()

    # ------------------------------------------------------------------ the input contract
    @property
    def protocol(self) -> str:
        colour = "y-bt601" if self.metric_y_channel else "rgb"
        if len(self.scales) > 1:
            scales = "/".join(f"x{s}" for s in self.scales)
            crop = "scale" if self._crop_border is None else self._crop_border
            return f"bicubic-matlab {scales}, {colour}, crop {crop}, 8-bit"
        return f"bicubic-matlab x{self.scale}, {colour}, crop {self.crop_border}, 8-bit"

    @property
    def ddp_find_unused_parameters(self) -> bool:
        """Whether DDP must accept parameters without a gradient in a step (``srlab-train``
        then sets ``find_unused_parameters``): a multi-scale network uses one scale's head."""
        return self.multi_scale

    def crop_for(self, scale: int) -> int:
        """Pixels shaved before the metrics at ``scale``: ``crop_border``, or the scale."""
        return int(scale) if self._crop_border is None else self._crop_border

    def check_scale(self, scale: int | None) -> int:
        """``scale`` (default: the network's) if the network serves it, else a clear error."""
        if scale is None:
            return self.scale
        scale = int(scale)
        if scale not in self.scales:
            served = ", ".join(f"x{s}" for s in self.scales)
            raise SRLabError(f"the network ({type(self.net).__name__}) upscales {served}, not x{scale}")
        return scale

    @staticmethod
    def batch_scale(batch: Mapping[str, Any]) -> int | None:
        """The scale of a batch (``batch["scale"]``: one value, the same for every sample)."""
        s = batch.get("scale") if isinstance(batch, Mapping) else None
        if s is None:
            return None
        if isinstance(s, Tensor):
            if s.numel() > 1 and not bool((s == s.flatten()[0]).all()):
                raise ValueError(f"a batch mixes scales {sorted(set(s.tolist()))}: one scale per batch")
            return int(s.flatten()[0])
        if isinstance(s, (list, tuple)):
            return int(s[0])
        return int(s)

    def run_net(self, x: Tensor, scale: int | None = None) -> Any:
        """Call the network, passing ``scale=`` to multi-scale networks only."""
        if self.channels_last and x.dim() == 4 and resolve_channels_last(self.channels_last, x.device):
            x = x.contiguous(memory_format=torch.channels_last)
        if self.multi_scale:
            return self.net(x, scale=self.check_scale(scale))
        return self.net(x)

    def bicubic(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """The bicubic baseline (MATLAB ``imresize``) at HR size."""
        return imresize(lr, self.scale if scale is None else int(scale))

    def net_input(
        self, lr: Tensor, pad_border: bool, scale: int | None = None, keep_chroma: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """RGB LR batch -> what the network eats; also returns YCbCr for Y networks (``None``
        with ``keep_chroma=False``: training needs the Y channel only)."""
        ycbcr = None
        x = lr
        if self.net.in_channels == 1:
            if keep_chroma:
                ycbcr = rgb_to_ycbcr(lr)
                x = ycbcr[:, :1]
            else:
                x = rgb_to_y(lr)
        if getattr(self.net, "pre_upsample", False):
            x = imresize(x, self.scale if scale is None else int(scale))
        b = getattr(self.net, "border", 0)
        if pad_border and b:
            x = F.pad(x, (b, b, b, b), mode="reflect")
        return x, ycbcr

    def net_target(self, hr: Tensor) -> Tensor:
        """RGB HR batch -> what the network's output is compared with."""
        target = rgb_to_y(hr) if self.net.in_channels == 1 else hr
        b = getattr(self.net, "border", 0)
        return target[..., b:-b, b:-b] if b else target

    def to_rgb(self, pred: Tensor, ycbcr: Tensor | None, scale: int | None = None) -> Tensor:
        """Network output -> RGB: Y networks get bicubic-upscaled Cb/Cr merged back."""
        if ycbcr is None:
            return pred
        cbcr = imresize(ycbcr[:, 1:], self.scale if scale is None else int(scale))
        return ycbcr_to_rgb(torch.cat([pred, cbcr], dim=1))

    def forward(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """RGB LR ``(B,3,h,w)`` in [0, 1] -> RGB SR ``(B,3,sh,sw)``, not clamped.

        ``scale`` picks the scale of a multi-scale network (default: its ``scale``); a
        single-scale network accepts only its own scale.
        """
        scale = self.check_scale(scale)
        x, ycbcr = self.net_input(lr, pad_border=True, scale=scale)
        return self.to_rgb(final_output(self.run_net(x, scale)), ycbcr, scale)

    def forward_x8(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """:meth:`forward` with the x8 self-ensemble (8 flips/rotations, averaged)."""
        from ..inference import self_ensemble

        return self_ensemble(lambda t: self(t, scale), lr)

    # ------------------------------------------------------------------ training
    def setup(self, stage: str) -> None:
        trainer = self._trainer
        device = trainer.strategy.root_device if trainer is not None else self.device
        if resolve_channels_last(self.channels_last, device):
            self.net.to(memory_format=torch.channels_last)
        if self.compile_net and not getattr(self, "_net_compiled", False):
            self.net.compile()
            self._net_compiled = True

    def on_fit_start(self) -> None:
        data_scales = getattr(getattr(self.trainer, "datamodule", None), "scales", None)
        if data_scales:
            missing = [int(s) for s in data_scales if int(s) not in self.scales]
            if missing:
                served = ", ".join(f"x{s}" for s in self.scales)
                raise SRLabError(
                    f"data.scale asks for {', '.join(f'x{s}' for s in missing)} but the network "
                    f"({type(self.net).__name__}) upscales {served}"
                )

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        if self.loss is None:
            raise RuntimeError("SRModule was built without a loss; it can only evaluate")
        scale = self.check_scale(self.batch_scale(batch))
        x, _ = self.net_input(batch["lr"], pad_border=False, scale=scale, keep_chroma=False)
        total, parts = self.loss(self.run_net(x, scale), self.net_target(batch["hr"]))
        if self._is_logging_step():
            bs = x.shape[0]
            self.log("train/loss", total, prog_bar=True, batch_size=bs)
            if len(parts) > 1:
                for name, value in parts.items():
                    self.log(f"train/{name}", value, batch_size=bs)
        return total

    def _is_logging_step(self) -> bool:
        """Whether this training step's values reach the logger (``trainer.log_every_n_steps``).

        Lightning writes step metrics only every ``log_every_n_steps`` anyway, but each
        ``self.log`` call costs ~1-2 ms of bookkeeping, as much as a whole ESPCN step on a CPU
        batch of 8 (bench/bench_train_step.py), so the other steps skip it.
        """
        trainer = self._trainer
        if trainer is None:
            return True
        every = max(1, int(getattr(trainer, "log_every_n_steps", 1) or 1))
        return trainer.global_step % every == 0 or bool(getattr(trainer, "fast_dev_run", False))

    @staticmethod
    def is_pad(batch: Mapping[str, Any]) -> bool:
        """Whether an evaluation batch is DDP padding (:class:`srlab.data.sampling.EvalShardSampler`):
        no forward, no metric update, but the same logging calls as a real batch."""
        pad = batch.get("pad") if isinstance(batch, Mapping) else None
        if pad is None:
            return False
        return bool(pad.all()) if isinstance(pad, Tensor) else bool(pad)

    def eval_sr(self, lr: Tensor, scale: int | None = None, ensemble: bool = False) -> Tensor:
        """SR of an evaluation batch: whole, or in tiles of ``val_tile`` LR pixels; clamped."""
        if self.val_tile is None:
            sr = self.forward_x8(lr, scale) if ensemble else self(lr, scale)
        else:
            from ..inference import DEFAULT_OVERLAP, sr_forward

            overlap = min(DEFAULT_OVERLAP, (self.val_tile - 1) // 2)
            sr = sr_forward(self, lr, scale, tile=self.val_tile, overlap=overlap, ensemble=ensemble)
        return sr.clamp(0, 1)

    def on_validation_epoch_start(self) -> None:
        self._val_scales = []

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> dict | None:
        lr, hr = batch["lr"], batch["hr"]
        scale = self.check_scale(self.batch_scale(batch))
        pad = self.is_pad(batch)
        # every rank logs the same names in the same order, pad or not: Lightning reduces (a
        # collective) each logged metric at the epoch end, on the ranks that logged it
        if scale not in self._val_scales:
            self._val_scales.append(scale)
        if not pad:
            sr = self.eval_sr(lr, scale, ensemble=self.self_ensemble_val)
            bic = self.bicubic(lr, scale).clamp(0, 1)
        if self.multi_scale:
            metrics = self.val_metrics[f"x{scale}"]
            if not pad:
                metrics["psnr"](sr, hr)
                metrics["ssim"](sr, hr)
                metrics["psnr_bicubic"](bic, hr)
            for key, metric in metrics.items():
                self.log(f"val/x{scale}/{key}", metric, batch_size=1, add_dataloader_idx=False)
            return None if pad else {"sr": sr, "bicubic": bic}
        if not pad:
            self.val_psnr(sr, hr)
            self.val_ssim(sr, hr)
            self.val_psnr_bicubic(bic, hr)
        self.log("val/psnr", self.val_psnr, prog_bar=True, batch_size=1, add_dataloader_idx=False)
        self.log("val/ssim", self.val_ssim, batch_size=1, add_dataloader_idx=False)
        self.log("val/psnr_bicubic", self.val_psnr_bicubic, batch_size=1, add_dataloader_idx=False)
        return None if pad else {"sr": sr, "bicubic": bic}

    def on_validation_epoch_end(self) -> None:
        """Multi-scale networks: ``val/psnr`` (and ssim, psnr_bicubic) = mean over scales.

        The scales are those validated this epoch, the same list on every rank (the shards are
        padded, so each rank steps through every loader): ``compute()`` reduces over the ranks
        (a collective), so it must never depend on what one rank's shard happened to hold.
        """
        if not self.multi_scale:
            return
        seen = [self.val_metrics[f"x{s}"] for s in self._val_scales]
        if not seen:
            return
        for key in ("psnr", "ssim", "psnr_bicubic"):
            # compute() is cached, so Lightning's own epoch-end compute/reset is unaffected
            mean = torch.stack([m[key].compute().float() for m in seen]).mean()
            self.log(f"val/{key}", mean, prog_bar=key == "psnr", batch_size=1)

    def on_test_start(self) -> None:
        names = getattr(self.trainer.datamodule, "test_names", None) or []
        n = len(self.trainer.test_dataloaders or [])
        names = list(names) + [f"set{i}" for i in range(len(names), n)]
        self._test_names = names

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self._test_names[dataloader_idx]
        scale = self.check_scale(self.batch_scale(batch))
        if name not in self.test_metrics:
            kw = dict(crop_border=self.crop_for(scale), y_channel=self.metric_y_channel)
            self.test_metrics[name] = nn.ModuleDict({"psnr": PSNR(**kw), "ssim": SSIM(**kw)}).to(self.device)
        pad = self.is_pad(batch)  # DDP padding: logged like a real batch, not measured
        sr = None if pad else self.eval_sr(batch["lr"], scale)
        for key, metric in self.test_metrics[name].items():
            if sr is not None:
                metric(sr, batch["hr"])
            self.log(f"test/{name}/{key}", metric, batch_size=1, add_dataloader_idx=False)

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise RuntimeError("SRModule was built without an optimizer factory")
        opt = self.optimizer_factory(params=[p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return opt
        sched = self.scheduler_factory(optimizer=opt)
        return {
            "optimizer": opt,
            "lr_scheduler": {"scheduler": sched, "interval": self.scheduler_interval, "monitor": self.scheduler_monitor},
        }

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from .. import __version__
        from .checkpoint import _plain  # (lazy: checkpoint imports this module)

        # plain containers only (no OmegaConf objects from an API-built net_spec), so that the file
        # loads with torch.load(weights_only=True) and no allow-list
        if "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = _plain(checkpoint["hyper_parameters"])

        checkpoint["srlab"] = {
            "version": __version__,
            "net": _plain(self.net_spec),
            "scale": self.scale,
            "scales": list(self.scales),
            "in_channels": int(self.net.in_channels),
            "protocol": self.protocol,
        }
