"""srlab-train: ``train(cfg)`` is a plain function (tests call it); ``main`` wraps it in Hydra."""

from __future__ import annotations

import logging
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor

from ..models.checkpoint import load_net_weights
from .common import CONF_DIR, report_user_errors

log = logging.getLogger("srlab.train")

__all__ = ["train", "build_module", "main"]


def _instantiate_dict(cfg: DictConfig | None) -> list[Any]:
    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def build_module(cfg: DictConfig) -> pl.LightningModule:
    """Build the network, the loss and the LightningModule from ``cfg.model`` and ``cfg.loss``."""
    net = instantiate(cfg.model.net)
    if cfg.get("init_from"):
        loaded, skipped = load_net_weights(net, cfg.init_from)
        log.info("initialised %d tensors from %s (%d skipped)", len(loaded), cfg.init_from, len(skipped))
    loss = instantiate(cfg.loss) if cfg.get("loss") else None
    net_spec = OmegaConf.to_container(cfg.model.net, resolve=True)
    module_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    module_cfg.pop("net")
    target = get_class(module_cfg.pop("_target_"))
    # optimizer/scheduler factories (``_partial_``) are built here; the built net and loss are
    # passed directly (Hydra would try to convert modules passed as instantiate kwargs)
    kwargs = {k: instantiate(v) if isinstance(v, dict) and "_target_" in v else v for k, v in module_cfg.items()}
    return target(net=net, loss=loss, net_spec=net_spec, **kwargs)


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
    loggers = _instantiate_dict(cfg.get("logger"))
    callbacks = _instantiate_dict(cfg.get("callbacks"))
    if not loggers:  # logger=none / debug=fdr: nothing to log the learning rate to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    ckpt_cb = trainer.checkpoint_callback
    best = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
    if cfg.get("test"):
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if best:
        log.info("best checkpoint (val/psnr %.3f): %s", float(ckpt_cb.best_model_score or 0.0), best)
        print(f"best checkpoint: {best}")
    objects = dict(cfg=cfg, datamodule=datamodule, model=model, trainer=trainer, callbacks=callbacks, loggers=loggers)
    return metrics, objects


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
@report_user_errors
def _hydra_main(cfg: DictConfig) -> float | None:
    metrics, _ = train(cfg)
    # returned to Hydra sweepers (e.g. Optuna) as the objective
    return metrics.get("val/psnr")


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
