"""GANModule: adversarial training of an srlab generator (SRGAN, EnhanceNet-PAT, ESRGAN)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from pytorch_lightning.core.optimizer import LightningOptimizer
from torch import Tensor, nn
from typing_extensions import override

from ..core.contract import final_output
from .sr_module import SRModule

if TYPE_CHECKING:
    from ..losses.adversarial import AdversarialLoss

__all__ = ["GANModule", "build_lpips"]

log = logging.getLogger("srlab.gan")

# torchvision backbones of torchmetrics' LPIPS (its linear heads ship with torchmetrics)
_LPIPS_BACKBONES = {
    "alex": "AlexNet_Weights",
    "vgg": "VGG16_Weights",
    "squeeze": "SqueezeNet1_1_Weights",
}


def build_lpips(net_type: str | None) -> Any:
    """Torchmetrics' LPIPS if its backbone weights are in the local torch hub cache.

    Else ``None`` (with one log line): srlab never downloads weights.
    """
    if not net_type:
        return None
    if net_type not in _LPIPS_BACKBONES:
        raise ValueError(
            f"lpips_net must be one of {sorted(_LPIPS_BACKBONES)} or null, got {net_type!r}"
        )
    import torchvision

    from ..losses.perceptual import hub_checkpoint_path

    url = getattr(torchvision.models, _LPIPS_BACKBONES[net_type]).IMAGENET1K_V1.url
    path = hub_checkpoint_path(url)
    if not path.is_file():
        log.info(
            "val/lpips skipped: LPIPS-%s needs %s (from %s); it is never downloaded",
            net_type,
            path,
            url,
        )
        return None
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    backbone = cast(Literal["alex", "vgg", "squeeze"], net_type)  # checked above
    return LearnedPerceptualImagePatchSimilarity(net_type=backbone, normalize=True)


class GANModule(SRModule):
    """Trains a generator (attribute ``net``, as in :class:`SRModule`) against a discriminator.

    Manual optimisation (Lightning's GAN pattern): per batch one generator step, then one
    discriminator step. The generator loss is a :class:`~srlab.losses.WeightedSum` whose terms
    compare prediction and target (pixel, perceptual, texture) plus one adversarial term
    (:class:`~srlab.losses.AdversarialLoss`, found by its ``adversarial`` flag) that also gives
    the discriminator's loss. Each term is logged as ``train/g_<term name>`` (the configs name
    them ``pixel``, ``percep``, ``texture``, ``adv``), the total as ``train/loss``; the
    discriminator logs ``train/d_loss``, ``train/d_real``, ``train/d_fake`` and the mean
    probabilities ``train/d_x`` = mean sigmoid(D(x)) and ``train/d_g_z`` = mean sigmoid(D(G(z))).

    Warm-up: for the first ``disc_start_step`` batches the discriminator is neither used nor
    updated and the generator trains on its non-adversarial terms only.

    Input rules (the batch's scale included), validation, test and checkpoints are
    :class:`SRModule`'s: the generator stays at ``net`` and checkpoints load with
    :func:`srlab.load_model` (which drops the discriminator).
    Learning-rate schedulers are stepped by the module: per batch (``scheduler_interval: step``,
    milestones count generator updates, i.e. the papers' iterations) or per epoch.

    Lightning counts every optimizer step in ``trainer.global_step``: once the discriminator is
    active a batch is two steps, so ``trainer.max_steps`` is twice the number of batches.

    Args:
        net: the generator.
        discriminator: maps HR-sized patches to logits ``(B, 1)``.
        loss: WeightedSum with exactly one adversarial term.
        optimizer: factory ``params -> Optimizer`` for the generator (``_partial_``).
        disc_optimizer: the same for the discriminator (default: ``optimizer``).
        scheduler, disc_scheduler: factories ``optimizer -> LRScheduler`` or ``None``.
        disc_start_step: batches of warm-up without the discriminator.
        disc_spec: ``{"_target_": ..., **kwargs}`` of the discriminator, stored in checkpoints.
        lpips_net: LPIPS backbone for ``val/lpips`` (``alex``/``vgg``/``squeeze``; ``None`` off);
            skipped with one log line when its weights are not in the torch hub cache.
        **kwargs: :class:`SRModule`'s other arguments (``net_spec``, ``crop_border``, ...).
    """

    gan_step: Tensor

    def __init__(
        self,
        net: nn.Module,
        discriminator: nn.Module | None = None,
        loss: nn.Module | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        disc_optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        disc_scheduler: Callable[..., Any] | None = None,
        disc_start_step: int = 0,
        disc_spec: Mapping[str, Any] | None = None,
        lpips_net: str | None = "alex",
        val_niqe: bool = False,
        **kwargs: Any,
    ) -> None:
        # SRModule's save_hyperparameters() reads this frame's arguments: keep the module out of it
        disc_module, discriminator = discriminator, None
        super().__init__(net=net, loss=loss, optimizer=optimizer, scheduler=scheduler, **kwargs)
        self.automatic_optimization = False
        self.discriminator = disc_module
        self.disc_optimizer_factory = disc_optimizer if disc_optimizer is not None else optimizer
        self.disc_scheduler_factory = disc_scheduler if callable(disc_scheduler) else None
        self.disc_start_step = int(disc_start_step)
        self.disc_spec = dict(disc_spec) if disc_spec is not None else None
        self.lpips_net = lpips_net
        self.content_terms, self.adv_name, self.adv_weight = self._split_loss(loss)
        if disc_module is not None:
            d_ch = getattr(disc_module, "in_channels", None)
            if d_ch is not None and d_ch != net.in_channels:
                raise ValueError(
                    f"the discriminator takes {d_ch}-channel images but the generator predicts "
                    f"{net.in_channels} channel(s); set model.disc.in_channels={net.in_channels}"
                )
        # generator updates so far (Lightning's global_step counts both optimizers' steps)
        self.register_buffer("gan_step", torch.zeros((), dtype=torch.long))
        # kept out of the module tree: not in checkpoints, whether or not LPIPS is available
        self._lpips: tuple[Any, ...] = (build_lpips(lpips_net),)
        # val/niqe (no reference, lower is better): a GAN checkpoint can be chosen by it
        # (callbacks.model_checkpoint.monitor=val/niqe mode=min); images smaller than two 96x96
        # blocks after the crop are left out
        self.val_niqe = bool(val_niqe)
        self._niqe: tuple[Any, ...] = (None,)
        if self.val_niqe:
            from ..metrics.niqe import NIQE

            self._niqe = (NIQE(crop_border=self.crop_border, skip_small=True),)
        self.save_hyperparameters(
            ignore=[
                "net",
                "discriminator",
                "loss",
                "optimizer",
                "disc_optimizer",
                "scheduler",
                "disc_scheduler",
            ]
        )

    # ------------------------------------------------------------------ loss plumbing
    @staticmethod
    def _split_loss(
        loss: nn.Module | None,
    ) -> tuple[dict[str, tuple[nn.Module, float]], str, float]:
        """``({name: (term, weight)} of the content terms, adversarial term's name, weight)``."""
        if loss is None:
            return {}, "", 0.0
        terms, weights = getattr(loss, "terms", None), getattr(loss, "weights", None)
        if terms is None or weights is None:
            raise TypeError(
                "GANModule needs a srlab.losses.WeightedSum loss (named terms and weights), "
                f"got {type(loss).__name__}"
            )
        adv = [n for n, t in terms.items() if getattr(t, "adversarial", False)]
        if len(adv) != 1:
            raise ValueError(
                "GANModule needs exactly one adversarial loss term "
                f"(srlab.losses.AdversarialLoss), found {adv or 'none'} among {list(terms)}: "
                "use loss=srgan, esrgan or enhancenet"
            )
        content = {n: (t, float(weights[n])) for n, t in terms.items() if n != adv[0]}
        return content, adv[0], float(weights[adv[0]])

    @property
    def adversarial(self) -> AdversarialLoss:
        """The adversarial term of the loss (it also gives the discriminator's loss)."""
        loss: Any = self.loss
        return cast("AdversarialLoss", loss.terms[self.adv_name])

    @property
    def ddp_find_unused_parameters(self) -> bool:
        """Whether DDP must accept parameters without a gradient in a step: always.

        The generator's step leaves the discriminator without gradients and the
        discriminator's step the generator (and warm-up never uses the discriminator).
        """
        return True

    @property
    def disc_active(self) -> bool:
        """Whether the warm-up (``disc_start_step`` generator updates) is over."""
        return int(self.gan_step) >= self.disc_start_step

    # ------------------------------------------------------------------ training
    @override
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """One generator step, then (after the warm-up) one discriminator step.

        Returns:
            The generator's loss, detached (manual optimisation: already stepped).
        """
        if self.loss is None or self.discriminator is None:
            raise RuntimeError(
                "GANModule was built without a loss or a discriminator; it can only evaluate"
            )
        opt_g, opt_d = cast("list[LightningOptimizer]", self.optimizers())
        scale = self.check_scale(self.batch_scale(batch))
        x, real = self.rules.training_pair(batch["lr"], batch["hr"], scale)
        bs = real.shape[0]
        d_active = self.disc_active

        # generator step: the discriminator is frozen (toggle_optimizer) but takes part
        self.toggle_optimizer(opt_g)
        fake = final_output(self.run_net(x, scale))
        parts = {name: term(fake, real) for name, (term, _) in self.content_terms.items()}
        total: Tensor | float = sum(w * parts[name] for name, (_, w) in self.content_terms.items())
        if d_active:
            adv = self.adversarial
            d_real_g = self.discriminator(real).detach() if adv.needs_real else None
            parts[self.adv_name] = adv.generator_loss(self.discriminator(fake), d_real_g)
            total = total + self.adv_weight * parts[self.adv_name]
        if not isinstance(total, Tensor):  # no content term, the discriminator still warming up
            total = fake.sum() * 0.0
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(total)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.log("train/loss", total, prog_bar=True, batch_size=bs)
        for name, value in parts.items():
            self.log(f"train/g_{name}", value, batch_size=bs)

        # discriminator step on the same batch, the fake detached
        if d_active:
            self.toggle_optimizer(opt_d)
            d_real = self.discriminator(real)
            d_fake = self.discriminator(fake.detach())
            d_loss, l_real, l_fake = self.adversarial.discriminator_loss(d_real, d_fake)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
            self.untoggle_optimizer(opt_d)
            self.log_dict(
                {
                    "train/d_loss": d_loss,
                    "train/d_real": l_real,
                    "train/d_fake": l_fake,
                    "train/d_x": torch.sigmoid(d_real.detach()).mean(),
                    "train/d_g_z": torch.sigmoid(d_fake.detach()).mean(),
                },
                batch_size=bs,
            )
        self.gan_step += 1
        if self.scheduler_interval == "step":
            self._step_schedulers()
        return total.detach()

    @override
    def on_train_epoch_end(self) -> None:
        if self.scheduler_interval != "step":
            self._step_schedulers()

    def _step_schedulers(self) -> None:
        scheds = self.lr_schedulers()
        if scheds is None:
            return
        for sched in scheds if isinstance(scheds, list) else [scheds]:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                metric = self.trainer.callback_metrics.get(self.scheduler_monitor)
                if metric is not None:
                    sched.step(metric)
            else:
                sched.step()

    @override
    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None or self.disc_optimizer_factory is None:
            raise RuntimeError("GANModule was built without an optimizer factory")
        if self.discriminator is None:
            raise RuntimeError("GANModule was built without a discriminator")
        opt_g = self.optimizer_factory(params=[p for p in self.net.parameters() if p.requires_grad])
        opt_d = self.disc_optimizer_factory(
            params=[p for p in self.discriminator.parameters() if p.requires_grad]
        )
        configs = []
        for opt, factory in ((opt_g, self.scheduler_factory), (opt_d, self.disc_scheduler_factory)):
            cfg: dict[str, Any] = {"optimizer": opt}
            if factory is not None:
                cfg["lr_scheduler"] = {
                    "scheduler": factory(optimizer=opt),
                    "interval": self.scheduler_interval,
                }
            configs.append(cfg)
        return configs

    # ------------------------------------------------------------------ validation: + LPIPS
    @override
    def setup(self, stage: str) -> None:
        super().setup(stage)
        trainer = self._trainer
        if trainer is not None and trainer.world_size > 1:
            # LPIPS is there when its weights are in this machine's hub cache: under DDP every
            # rank must take the same decision (its compute() is a collective), so all or none
            have = self._lpips[0] is not None
            if not trainer.strategy.reduce_boolean_decision(have, all=True) and have:
                log.info(
                    "val/lpips skipped: the LPIPS weights are missing on some DDP rank's machine"
                )
                self._lpips = (None,)
            elif not have:
                self._lpips = (None,)

    @override
    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        lpips = self._lpips[0]
        if lpips is not None:
            lpips.to(self.device).reset()
        if self._niqe[0] is not None:
            self._niqe[0].to(self.device).reset()

    @override
    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, *args: Any, **kwargs: Any
    ) -> dict[str, Tensor] | None:
        out = super().validation_step(batch, batch_idx, *args, **kwargs)
        lpips = self._lpips[0]
        if lpips is not None and isinstance(out, dict) and "sr" in out:
            lpips.update(out["sr"].float(), batch["hr"].float())
        if self._niqe[0] is not None and isinstance(out, dict) and "sr" in out:
            self._niqe[0].update(out["sr"].float())
        return out

    @override
    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        lpips = self._lpips[0]
        # not lpips.update_called: a rank whose shard was only padding must still take part in
        # compute()'s reduction; _val_scales (every validated loader) is the same on every rank
        if lpips is not None and self._val_scales:
            self.log("val/lpips", lpips.compute(), batch_size=1)
        niqe = self._niqe[0]
        if niqe is not None and self._val_scales:  # every rank reduces, padding-only ones too
            value = niqe.compute()  # NaN when every validation image was too small
            self.log("val/niqe", value.float(), batch_size=1)

    # ------------------------------------------------------------------ checkpoints
    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint.setdefault("srlab", {})["disc"] = self.disc_spec
