"""srlab-train: ``train(cfg)`` is a plain function (tests call it); ``main`` wraps it in Hydra."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, open_dict
from omegaconf.errors import InterpolationToMissingValueError
from pytorch_lightning.callbacks import LearningRateMonitor

from ..callbacks.distributed import rank_failures
from ..errors import SRLabError
from ..models.checkpoint import load_net_weights, safe_fit
from ..models.training import fit_disc_to_patches, resolve_ddp_strategy
from ..speed import resolve_precision
from .common import CONF_DIR, plain_dict, report_user_errors
from .dashboard import add_wandb_tags, finish_wandb, log_summary, protocol_tags
from .dashboard import run_info as _run_info  # protocol, params, MACs per 1280x720 HR output

log = logging.getLogger("srlab.train")

__all__ = ["train", "build_module", "main"]


def _instantiate_dict(cfg: DictConfig | None) -> list[Any]:
    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """Build the network, the loss and the LightningModule from ``cfg.model`` and ``cfg.loss``."""
    net = instantiate(cfg.model.net)
    try:
        init_from = cfg.get("init_from")
    except InterpolationToMissingValueError:  # two-stage experiments: init_from: ${stage1_ckpt}
        raise SRLabError(
            "this experiment starts from the checkpoint of an earlier (PSNR) stage: pass "
            "stage1_ckpt=<that run>/checkpoints/best.ckpt (or init_from=null to start from scratch)"
        ) from None
    if init_from:
        loaded, skipped = load_net_weights(net, init_from, release_net=cfg.get("init_from_net"))
        log.info(
            "initialised %d tensors from %s (%d skipped)", len(loaded), init_from, len(skipped)
        )
    loss = instantiate(cfg.loss) if cfg.get("loss") else None
    net_spec = plain_dict(cfg.model.net)
    module_cfg = plain_dict(cfg.model)
    module_cfg.pop("net")
    extra: dict[str, Any] = {}
    disc_spec = module_cfg.pop("disc", None)
    if disc_spec is not None:  # model=gan: the discriminator, sized to the HR training patches
        disc_spec = fit_disc_to_patches(disc_spec, cfg.data, int(net.scale))
        try:
            disc = instantiate(disc_spec)
        except Exception as e:  # a bad discriminator argument is a config error
            if isinstance(e.__cause__, ValueError):
                raise SRLabError(f"model.disc: {e.__cause__}") from None
            raise
        extra = {"discriminator": disc, "disc_spec": disc_spec}
    target = get_class(module_cfg.pop("_target_"))
    # optimizer/scheduler factories (``_partial_``) are built here; the built net and loss are
    # passed directly (Hydra would try to convert modules passed as instantiate kwargs)
    kwargs = {
        k: instantiate(v) if isinstance(v, dict) and "_target_" in v else v
        for k, v in module_cfg.items()
    }
    return target(net=net, loss=loss, net_spec=net_spec, **extra, **kwargs)


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Train (and optionally test) the model described by ``cfg``.

    Returns:
        ``(metrics, objects)``: the final callback metrics as floats (``val/psnr``, ...; test
        metrics too when ``cfg.test``), and the built ``cfg``, ``datamodule``, ``model``,
        ``trainer``, ``callbacks`` and ``loggers``.
    """
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = build_module(cfg)
    _group_multirun_in_wandb(cfg)
    add_wandb_tags(cfg, protocol_tags(model, cfg.get("data")))  # x3, y-bt601, bicubic-matlab, net
    loggers = _instantiate_dict(cfg.get("logger"))
    callbacks = _instantiate_dict(cfg.get("callbacks"))
    if not loggers:  # logger=none / debug=fdr: nothing to log the learning rate to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    _allow_unused_heads_under_ddp(cfg, model)
    if "precision" in cfg.trainer:  # trainer.precision=auto: bf16/fp16 on a GPU, float32 on a CPU
        with open_dict(cfg):
            cfg.trainer.precision = resolve_precision(
                cfg.trainer.precision, cfg.trainer.get("accelerator")
            )
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    run_info = _run_info(model, macs=bool(loggers))
    for lg in loggers:
        lg.log_hyperparams({**plain_dict(cfg), **run_info})
    log_summary(loggers, run_info)  # W&B: model size and protocol as run-table columns
    # resume: the checkpoint is read safely (weights only, network description checked) first
    # DDP: a failed rank ends every rank with one line naming it (srlab.callbacks.distributed)
    with rank_failures(trainer):
        safe_fit(trainer, model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    ckpt_cb = trainer.checkpoint_callback
    best = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
    if cfg.get("test"):
        with rank_failures(trainer):
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if best and trainer.is_global_zero:  # DDP: said once, not by every rank
        score = getattr(ckpt_cb, "best_model_score", None)
        log.info("best checkpoint (val/psnr %.3f): %s", float(score or 0.0), best)
        print(f"best checkpoint: {best}")
    finish_wandb(loggers)  # the next run of an in-process multirun gets its own W&B run
    objects = dict(
        cfg=cfg,
        datamodule=datamodule,
        model=model,
        trainer=trainer,
        callbacks=callbacks,
        loggers=loggers,
    )
    return metrics, objects


def _allow_unused_heads_under_ddp(cfg: DictConfig, model: pl.LightningModule) -> None:
    """Set DDP's ``find_unused_parameters`` in ``cfg.trainer.strategy`` where ``model`` needs it.

    Models that leave parameters without a gradient in a step need it
    (:func:`srlab.models.training.resolve_ddp_strategy`).
    """
    strategy = cfg.trainer.get("strategy")
    resolved = resolve_ddp_strategy(strategy, model)
    if resolved is not strategy:
        with open_dict(cfg):
            cfg.trainer.strategy = resolved


def _group_multirun_in_wandb(cfg: DictConfig) -> None:
    """W&B: the runs of one multirun share a group (the sweep folder's name).

    So they appear together, unless ``logger.wandb.group`` is set.
    """
    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if not wandb_cfg or wandb_cfg.get("group") is not None:
        return
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        sweep = HydraConfig.get().sweep.dir
        with open_dict(cfg):
            cfg.logger.wandb.group = f"{cfg.get('task_name', 'train')}/{Path(sweep).name}"


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
@report_user_errors
def _hydra_main(cfg: DictConfig) -> float | None:
    metrics, _ = train(cfg)
    # returned to Hydra sweepers (e.g. Optuna, hparams_search=optuna) as the objective
    return metrics.get(cfg.get("optimized_metric") or "val/psnr")


def main() -> None:
    """``srlab-train``: the Hydra command line around :func:`train`."""
    _hydra_main()


if __name__ == "__main__":
    main()
