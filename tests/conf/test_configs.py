"""Config groups compose: ddp_cpu and its collective timeout, the SLURM launcher, the Optuna search,
EMA, speed options, the self-ensemble validation."""

from __future__ import annotations

from pytorch_lightning.strategies import DDPStrategy

from tests.helpers import compose


def test_ddp_cpu_trainer_uses_gloo():
    from hydra.utils import instantiate

    cfg = compose(["trainer=ddp_cpu"])
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.devices == 2
    strategy = instantiate(cfg.trainer.strategy)
    assert isinstance(strategy, DDPStrategy) and strategy._process_group_backend == "gloo"


def test_slurm_launcher_composes():
    cfg = compose(
        ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4"],
        return_hydra_config=True,
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu" and launcher.gpus_per_node == 4
    assert {"timeout_min", "mem_gb", "nodes", "tasks_per_node"} <= set(launcher)


def test_optuna_search_over_lr_and_patch_size_maximises_val_psnr():
    cfg = compose(["hparams_search=optuna"], return_hydra_config=True)
    assert cfg.optimized_metric == "val/psnr"
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert set(sweeper.params) == {"model.optimizer.lr", "data.patch_size"}
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    # the swept keys exist in the composed job config
    assert cfg.model.optimizer.lr > 0 and cfg.data.patch_size > 0


def test_ema_and_speed_options_compose():
    cfg = compose(
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


def test_ddp_configs_set_a_collective_timeout_in_minutes():
    from hydra.utils import instantiate

    for trainer in ("ddp", "ddp_cpu"):
        cfg = compose([f"trainer={trainer}"])
        assert instantiate(cfg.trainer.strategy)._timeout.total_seconds() == 600
        cfg = compose([f"trainer={trainer}", "trainer.strategy.timeout.minutes=3"])
        assert instantiate(cfg.trainer.strategy)._timeout.total_seconds() == 180


def test_self_ensemble_val_composes_from_config():
    from hydra.utils import instantiate

    cfg = compose(["model.self_ensemble_val=true"])
    module = instantiate(cfg.model)
    assert module.self_ensemble_val is True
