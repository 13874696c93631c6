"""Scale-out configs compose: ddp_cpu, the SLURM launcher, the Optuna search, EMA, speed options."""

from __future__ import annotations

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from pytorch_lightning.strategies import DDPStrategy

from srlab.cli.common import CONF_DIR


def _compose(overrides, hydra_cfg=False):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=CONF_DIR):
            return compose(
                "train",
                overrides=["paths.output_dir=/tmp/x", *overrides],
                return_hydra_config=hydra_cfg,
            )
    finally:
        GlobalHydra.instance().clear()


def test_ddp_cpu_trainer_uses_gloo():
    from hydra.utils import instantiate

    cfg = _compose(["trainer=ddp_cpu"])
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.devices == 2
    strategy = instantiate(cfg.trainer.strategy)
    assert isinstance(strategy, DDPStrategy) and strategy._process_group_backend == "gloo"


def test_slurm_launcher_composes():
    cfg = _compose(
        ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4"],
        True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 4
    assert {"timeout_min", "mem_gb", "nodes", "tasks_per_node"} <= set(launcher)


def test_optuna_search_over_lr_and_patch_size_maximises_val_psnr():
    cfg = _compose(["hparams_search=optuna"], True)
    assert cfg.optimized_metric == "val/psnr"
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert set(sweeper.params) == {"model.optimizer.lr", "data.patch_size"}
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    # the swept keys exist in the composed job config
    assert cfg.model.optimizer.lr > 0 and cfg.data.patch_size > 0


def test_ema_and_speed_options_compose():
    cfg = _compose(
        [
            "callbacks=[default,ema]",
            "model.channels_last=true",
            "model.compile_net=true",
            "trainer.precision=bf16-mixed",
        ]
    )
    assert (
        cfg.callbacks.ema._target_ == "srlab.callbacks.EMA" and "model_checkpoint" in cfg.callbacks
    )
    assert (
        cfg.model.channels_last and cfg.model.compile_net and cfg.trainer.precision == "bf16-mixed"
    )


def test_runs_of_one_multirun_share_a_wandb_group():
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from srlab.cli.train import _group_multirun_in_wandb

    cfg = _compose(
        ["logger=wandb", "hydra.mode=MULTIRUN", "hydra.sweep.dir=/tmp/multirun/sweep42"], True
    )
    HydraConfig.instance().set_config(cfg)
    try:
        job = cfg.copy()
        with open_dict(job):
            del job["hydra"]
        _group_multirun_in_wandb(job)
        assert job.logger.wandb.group == "train/sweep42"
        job.logger.wandb.group = "mine"  # an explicit group stays
        _group_multirun_in_wandb(job)
        assert job.logger.wandb.group == "mine"
    finally:
        HydraConfig.instance().cfg = None
