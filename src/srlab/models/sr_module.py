"""SRModule: the LightningModule that trains and evaluates any srlab generator with pixel losses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import Metric
from typing_extensions import override

from ..core.protocol import Protocol
from ..core.rules import InputRules
from ..core.tiling import DEFAULT_OVERLAP, self_ensemble, tiled_forward
from ..errors import SRLabError
from ..metrics import PSNR, SSIM
from ..speed import resolve_channels_last

__all__ = ["SRModule"]


class SRModule(pl.LightningModule):
    """Trains a super-resolution network on ``{"lr", "hr"}`` RGB batches in [0, 1].

    The module feeds the network by its declared contract through the input rules
    (:attr:`rules`, :class:`srlab.core.rules.InputRules`: Y or RGB, pre-upsampling, border,
    scales), so it never names a concrete architecture, and scores it under one protocol
    (:attr:`eval_protocol`, :class:`srlab.core.protocol.Protocol`):

    - multi-scale networks (``net.scales``, see :mod:`srlab.archs.base`) get ``scale=`` the
      batch's scale (``batch["scale"]``, one per batch); the bicubic baseline, the Cb/Cr merge
      and the metrics' border crop use that scale. Validation logs ``val/x<s>/psnr``,
      ``val/x<s>/ssim`` and ``val/x<s>/psnr_bicubic`` per scale, and ``val/psnr`` (what the
      checkpoint callback monitors), ``val/ssim``, ``val/psnr_bicubic`` as the **mean over the
      validated scales** (every scale weighs the same). Single-scale networks log as before.
    - an evaluation batch of grey files (``batch["file_channels"] == 1``, Set14's
      ``bridge.bmp``) is fed and scored by the protocol's grey-file rule, as ``srlab-eval``
      does (:mod:`srlab.core.protocol`).

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
            :func:`srlab.core.tiling.self_ensemble`; 8x the validation compute).
        val_tile: validate and test in overlapping tiles of this many LR pixels (the seam-free
            :func:`srlab.core.tiling.tiled_forward`), so that whole 2K images of a large network
            fit in GPU memory; ``None``: whole images. Metrics equal the untiled ones where the
            network's receptive field fits in the tile context (16 LR pixels).
        grey_files: how grey (one-channel) validation and test files are scored under a Y
            protocol: ``"grey"`` (on grey values, the published tables' rule) or ``"y"`` (on
            the Y of their RGB copy); ``srlab-eval``'s ``grey_files``.

    Under DDP each validation/test image is evaluated by one rank (the data module pads the
    shorter shards with ``pad`` items that are skipped here, so every rank runs the same steps)
    and the metrics are reduced over the ranks: ``val/psnr`` is the mean over all images.
    """

    #: what a model rebuilt from a published release file was recognised as (``name``, ``arch``,
    #: ``notes``), set by :func:`srlab.models.checkpoint.load_model`; absent on other models
    release_info: dict[str, Any]

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
        grey_files: str = "grey",
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
        #: how the network is fed (read once from its declared contract)
        self.rules = InputRules.of(net)
        self.scale, self.scales, self.multi_scale = (
            self.rules.scale,
            self.rules.scales,
            self.rules.multi_scale,
        )
        #: how it is scored: validation, test, and the protocol name checkpoints record
        self.eval_protocol = Protocol(
            scales=self.scales,
            y_channel=bool(metric_y_channel),
            crop_border=None if crop_border is None else int(crop_border),
            grey_files=grey_files,
        )
        self.crop_border = self.eval_protocol.crop(self.scale)
        self.metric_y_channel = bool(metric_y_channel)
        self.channels_last = (
            channels_last if isinstance(channels_last, str) else bool(channels_last)
        )
        resolve_channels_last(self.channels_last, "cpu")  # a bad value fails here, not mid-run
        self.compile_net = bool(compile_net)
        self.self_ensemble_val = bool(self_ensemble_val)
        if val_tile is not None and int(val_tile) < 1:
            raise SRLabError(
                f"model.val_tile must be a positive number of LR pixels or null, got {val_tile}"
            )
        self.val_tile = None if val_tile is None else int(val_tile)
        # scales validated this epoch, in loader order (every rank alike)
        self._val_scales: list[int] = []
        self.save_hyperparameters(ignore=["net", "loss", "optimizer", "scheduler"])
        single = self._metric_set(self.scale, bicubic=True)
        self.val_psnr, self.val_ssim = single["psnr"], single["ssim"]
        self.val_psnr_bicubic = single["psnr_bicubic"]
        # multi-scale networks: one set of validation metrics per scale ("x2", "x3", ...)
        self.val_metrics = nn.ModuleDict()
        if self.multi_scale:
            for s in self.scales:
                self.val_metrics[f"x{s}"] = nn.ModuleDict(self._metric_set(s, bicubic=True))
        self.test_metrics = nn.ModuleDict()

    def _metric_set(self, scale: int, bicubic: bool = False) -> dict[str, Metric]:
        """PSNR and SSIM (and the bicubic PSNR) under the protocol at ``scale``."""
        crop, y = self.eval_protocol.crop(scale), self.eval_protocol.y_channel
        out: dict[str, Metric] = {
            "psnr": PSNR(crop_border=crop, y_channel=y),
            "ssim": SSIM(crop_border=crop, y_channel=y),
        }
        if bicubic:
            out["psnr_bicubic"] = PSNR(crop_border=crop, y_channel=y)
        return out

    @staticmethod
    def _metrics(group: nn.Module) -> dict[str, Metric]:
        """The metrics of one ``nn.ModuleDict`` of :attr:`val_metrics` / :attr:`test_metrics`."""
        return {k: cast(Metric, m) for k, m in cast(nn.ModuleDict, group).items()}

    # ------------------------------------------------------------------ the input contract
    @property
    def protocol(self) -> str:
        """The name of the evaluation protocol (:attr:`eval_protocol`), as checkpoints record it."""
        return self.eval_protocol.name

    @property
    def ddp_find_unused_parameters(self) -> bool:
        """Whether DDP must accept parameters without a gradient in a step.

        ``srlab-train`` then sets ``find_unused_parameters``: a multi-scale network uses one
        scale's head.
        """
        return self.multi_scale

    def check_scale(self, scale: int | None) -> int:
        """``scale`` (default: the network's) if the network serves it.

        Raises:
            SRLabError: it does not (:meth:`srlab.core.rules.InputRules.check_scale`).
        """
        return self.rules.check_scale(scale)

    @staticmethod
    def batch_scale(batch: Mapping[str, Any]) -> int | None:
        """The scale of a batch (``batch["scale"]``: one value, the same for every sample)."""
        s = batch.get("scale") if isinstance(batch, Mapping) else None
        if s is None:
            return None
        if isinstance(s, Tensor):
            if s.numel() > 1 and not bool((s == s.flatten()[0]).all()):
                raise ValueError(
                    f"a batch mixes scales {sorted(set(s.tolist()))}: one scale per batch"
                )
            return int(s.flatten()[0])
        if isinstance(s, (list, tuple)):
            return int(s[0])
        return int(s)

    def is_grey(self, batch: Mapping[str, Any]) -> bool:
        """Whether an evaluation batch holds grey files the protocol scores on grey values.

        Read from ``batch["file_channels"]``, the channel count of each HR file (see
        :meth:`srlab.core.protocol.Protocol.is_grey`).

        Raises:
            ValueError: the batch mixes grey and colour files.
        """
        ch = batch.get("file_channels") if isinstance(batch, Mapping) else None
        if ch is None:
            return False
        values = [int(c) for c in (ch.flatten().tolist() if isinstance(ch, Tensor) else ch)]
        grey = [self.eval_protocol.is_grey(c) for c in values]
        if any(grey) and not all(grey):
            raise ValueError("an evaluation batch mixes grey and colour files: use batch size 1")
        return bool(grey) and all(grey)

    def _call_net(self, x: Tensor, **kwargs: Any) -> Any:
        """The network on its input, in the NHWC memory format when ``channels_last`` says so."""
        if (
            self.channels_last
            and x.dim() == 4
            and resolve_channels_last(self.channels_last, x.device)
        ):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x, **kwargs)

    def run_net(self, x: Tensor, scale: int | None = None) -> Any:
        """Call the network on its input ``x`` (``scale=`` for multi-scale networks only)."""
        return self.rules.run(self._call_net, x, scale)

    @override
    def forward(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """RGB LR ``(B,3,h,w)`` in [0, 1] -> RGB SR ``(B,3,sh,sw)``, not clamped.

        ``scale`` picks the scale of a multi-scale network (default: its ``scale``); a
        single-scale network accepts only its own scale.
        """
        return self.rules.super_resolve(self._call_net, lr, scale)

    def forward_x8(self, lr: Tensor, scale: int | None = None) -> Tensor:
        """:meth:`forward` with the x8 self-ensemble (8 flips/rotations, averaged)."""
        return self_ensemble(lambda t: self(t, scale), lr)

    # ------------------------------------------------------------------ training
    @override
    def setup(self, stage: str) -> None:
        trainer = self._trainer
        device = trainer.strategy.root_device if trainer is not None else self.device
        if resolve_channels_last(self.channels_last, device):
            self.net.to(memory_format=torch.channels_last)
        if self.compile_net and not getattr(self, "_net_compiled", False):
            self.net.compile()
            self._net_compiled = True

    @override
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

    @override
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if self.loss is None:
            raise RuntimeError("SRModule was built without a loss; it can only evaluate")
        scale = self.check_scale(self.batch_scale(batch))
        x, target = self.rules.training_pair(batch["lr"], batch["hr"], scale)
        total, parts = self.loss(self.run_net(x, scale), target)
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
        """Whether an evaluation batch is DDP padding.

        Padding (:class:`srlab.data.sampling.EvalShardSampler`) gets no forward and no metric
        update, but the same logging calls as a real batch.
        """
        pad = batch.get("pad") if isinstance(batch, Mapping) else None
        if pad is None:
            return False
        return bool(pad.all()) if isinstance(pad, Tensor) else bool(pad)

    def eval_sr(
        self,
        lr: Tensor,
        scale: int | None = None,
        ensemble: bool = False,
        grey: bool = False,
        tile: int | None = None,
    ) -> Tensor:
        """SR of an evaluation batch, clamped to [0, 1].

        Args:
            lr: ``(B, 3, h, w)`` RGB LR batch.
            scale: the scale (default: the network's).
            ensemble: with the x8 self-ensemble (inside each tile when tiled).
            grey: the batch holds grey files (:meth:`is_grey`): fed by the grey-file rule
                (:meth:`srlab.core.rules.InputRules.grey_super_resolve`); a Y network then
                returns ``(B, 1, H, W)`` grey.
            tile: run in overlapping tiles of this many LR pixels (the seam-free
                :func:`srlab.core.tiling.tiled_forward`; the overlap shrinks below half a
                small tile); default: ``val_tile``, and whole images when that is ``None``.
        """
        tile = self.val_tile if tile is None else int(tile)

        def sr(x: Tensor, s: int) -> Tensor:
            if tile is None:
                return self.forward_x8(x, s) if ensemble else self(x, s)

            def one(t: Tensor) -> Tensor:
                return self(t, s)

            fn = (lambda t: self_ensemble(one, t)) if ensemble else one
            return tiled_forward(fn, x, s, tile, overlap=min(DEFAULT_OVERLAP, (tile - 1) // 2))

        scale = self.check_scale(scale)
        if grey:
            return self.rules.grey_super_resolve(sr, lr, scale)
        return sr(lr, scale).clamp(0, 1)

    @override
    def on_validation_epoch_start(self) -> None:
        self._val_scales = []

    def _eval_images(
        self, batch: Mapping[str, Any], scale: int, ensemble: bool
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(sr, bicubic, scored sr, scored bicubic, scored hr)`` of an evaluation batch.

        ``sr`` and ``bicubic`` are RGB (a grey output replicated); the scored images are what
        PSNR/SSIM compare under the protocol (grey values for grey files).
        """
        lr, hr = batch["lr"], batch["hr"]
        grey = self.is_grey(batch)
        sr = self.eval_sr(lr, scale, ensemble=ensemble, grey=grey)
        bic = self.rules.bicubic(lr, scale).clamp(0, 1)
        sr_scored, hr_scored = self.eval_protocol.scored(sr, hr, grey)
        bic_scored, _ = self.eval_protocol.scored(bic, hr, grey)
        return sr.expand(-1, 3, -1, -1), bic, sr_scored, bic_scored, hr_scored

    @override
    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Tensor] | None:
        scale = self.check_scale(self.batch_scale(batch))
        pad = self.is_pad(batch)
        # every rank logs the same names in the same order, pad or not: Lightning reduces (a
        # collective) each logged metric at the epoch end, on the ranks that logged it
        if scale not in self._val_scales:
            self._val_scales.append(scale)
        if not pad:
            sr, bic, sr_s, bic_s, hr_s = self._eval_images(batch, scale, self.self_ensemble_val)
        if self.multi_scale:
            metrics = self._metrics(self.val_metrics[f"x{scale}"])
            if not pad:
                metrics["psnr"](sr_s, hr_s)
                metrics["ssim"](sr_s, hr_s)
                metrics["psnr_bicubic"](bic_s, hr_s)
            for key, metric in metrics.items():
                self.log(f"val/x{scale}/{key}", metric, batch_size=1, add_dataloader_idx=False)
            return None if pad else {"sr": sr, "bicubic": bic}
        if not pad:
            self.val_psnr(sr_s, hr_s)
            self.val_ssim(sr_s, hr_s)
            self.val_psnr_bicubic(bic_s, hr_s)
        self.log("val/psnr", self.val_psnr, prog_bar=True, batch_size=1, add_dataloader_idx=False)
        self.log("val/ssim", self.val_ssim, batch_size=1, add_dataloader_idx=False)
        self.log("val/psnr_bicubic", self.val_psnr_bicubic, batch_size=1, add_dataloader_idx=False)
        return None if pad else {"sr": sr, "bicubic": bic}

    @override
    def on_validation_epoch_end(self) -> None:
        """Multi-scale networks: ``val/psnr`` (and ssim, psnr_bicubic) = mean over scales.

        The scales are those validated this epoch, the same list on every rank (the shards are
        padded, so each rank steps through every loader): ``compute()`` reduces over the ranks
        (a collective), so it must never depend on what one rank's shard happened to hold.
        """
        if not self.multi_scale:
            return
        seen = [self._metrics(self.val_metrics[f"x{s}"]) for s in self._val_scales]
        if not seen:
            return
        for key in ("psnr", "ssim", "psnr_bicubic"):
            # compute() is cached, so Lightning's own epoch-end compute/reset is unaffected
            mean = torch.stack([m[key].compute().float() for m in seen]).mean()
            self.log(f"val/{key}", mean, prog_bar=key == "psnr", batch_size=1)

    @override
    def on_test_start(self) -> None:
        names = getattr(getattr(self.trainer, "datamodule", None), "test_names", None) or []
        n = len(self.trainer.test_dataloaders or [])
        names = list(names) + [f"set{i}" for i in range(len(names), n)]
        self._test_names = names

    @override
    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        name = self._test_names[dataloader_idx]
        scale = self.check_scale(self.batch_scale(batch))
        if name not in self.test_metrics:
            self.test_metrics[name] = nn.ModuleDict(self._metric_set(scale)).to(self.device)
        pad = self.is_pad(batch)  # DDP padding: logged like a real batch, not measured
        if not pad:
            grey = self.is_grey(batch)
            sr = self.eval_sr(batch["lr"], scale, grey=grey)
            sr, hr = self.eval_protocol.scored(sr, batch["hr"], grey)
        for key, metric in self._metrics(self.test_metrics[name]).items():
            if not pad:
                metric(sr, hr)
            self.log(f"test/{name}/{key}", metric, batch_size=1, add_dataloader_idx=False)

    @override
    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise RuntimeError("SRModule was built without an optimizer factory")
        opt = self.optimizer_factory(params=[p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return opt
        sched = self.scheduler_factory(optimizer=opt)
        return {
            "optimizer": opt,
            "lr_scheduler": {
                "scheduler": sched,
                "interval": self.scheduler_interval,
                "monitor": self.scheduler_monitor,
            },
        }

    # ------------------------------------------------------------------ checkpoints
    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
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
            "in_channels": 1 if self.rules.y_channel else 3,
            "protocol": self.protocol,
        }
