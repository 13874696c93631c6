"""Training settings that follow from the model and the data (srlab.models.training)."""

import pytest
from omegaconf import OmegaConf

from srlab.errors import SRLabError
from srlab.models.training import (
    fit_disc_to_patches,
    hr_patch_size,
    needs_unused_parameters,
    resolve_ddp_strategy,
)

DISC = {"_target_": "srlab.archs.VGGDiscriminator", "input_size": None, "num_feat": 8}


DDP = {"_target_": "pytorch_lightning.strategies.DDPStrategy", "process_group_backend": "gloo"}


class Model:
    def __init__(self, **attrs):
        self.__dict__.update(attrs)


def test_hr_patch_size():
    assert hr_patch_size({"patch_size": 24}, 4) == 96
    assert hr_patch_size({"hr_patch_size": 128, "patch_size": 24}, 4) == 128  # the HR side wins
    assert hr_patch_size({"patch_size": None, "hr_patch_size": None}, 2) is None
    assert hr_patch_size(OmegaConf.create({"patch_size": 16}), 3) == 48


def test_disc_input_size_follows_the_patches():
    fitted = fit_disc_to_patches(DISC, {"patch_size": 32}, 4)
    assert fitted == {**DISC, "input_size": 128} and DISC["input_size"] is None  # not mutated
    assert (
        fit_disc_to_patches({**DISC, "input_size": 96}, {"hr_patch_size": 96}, 4)["input_size"]
        == 96
    )
    assert (
        fit_disc_to_patches({**DISC, "input_size": 64}, {}, 4)["input_size"] == 64
    )  # nothing to check
    cfg = OmegaConf.create({"disc": DISC, "data": {"patch_size": 16}})
    assert fit_disc_to_patches(cfg.disc, cfg.data, 2)["input_size"] == 32
    with pytest.raises(SRLabError, match=r"expects 64x64 inputs .* HR training patches are 96x96"):
        fit_disc_to_patches({**DISC, "input_size": 64}, {"patch_size": 24}, 4)
    with pytest.raises(
        SRLabError, match="input_size is null and the data config gives no patch size"
    ):
        fit_disc_to_patches(DISC, {"patch_size": None}, 4)


def test_which_models_need_unused_parameters():
    assert needs_unused_parameters(Model(multi_scale=True))
    assert not needs_unused_parameters(Model(multi_scale=False))
    assert not needs_unused_parameters(Model())
    # the model's own answer wins over multi_scale (a GAN: always; a model may opt out)
    assert needs_unused_parameters(Model(ddp_find_unused_parameters=True, multi_scale=False))
    assert not needs_unused_parameters(Model(ddp_find_unused_parameters=False, multi_scale=True))


def test_ddp_strategy_gets_find_unused_parameters():
    multi, single = Model(multi_scale=True), Model(multi_scale=False)
    assert resolve_ddp_strategy("ddp", multi) == "ddp_find_unused_parameters_true"
    for strategy in ("ddp", "auto", None, DDP):
        assert resolve_ddp_strategy(strategy, single) is strategy
    for strategy in (
        "auto",
        "ddp_spawn",
        {"_target_": "pytorch_lightning.strategies.FSDPStrategy"},
    ):
        assert resolve_ddp_strategy(strategy, multi) is strategy
    assert resolve_ddp_strategy(DDP, multi) == {**DDP, "find_unused_parameters": True}
    assert "find_unused_parameters" not in DDP  # a new dict
    chosen = {**DDP, "find_unused_parameters": False}  # set by the config: left alone
    assert resolve_ddp_strategy(chosen, multi) is chosen


def test_ddp_strategy_from_the_ddp_cpu_config_keeps_its_other_settings(compose_cfg):
    from hydra.utils import instantiate
    from pytorch_lightning.strategies import DDPStrategy

    cfg = compose_cfg(["trainer=ddp_cpu"])
    resolved = resolve_ddp_strategy(cfg.trainer.strategy, Model(multi_scale=True))
    assert resolved["find_unused_parameters"] is True
    strategy = instantiate(OmegaConf.create({"s": resolved}).s)
    assert (
        isinstance(strategy, DDPStrategy) and strategy._ddp_kwargs["find_unused_parameters"] is True
    )
    assert strategy._timeout == instantiate(cfg.trainer.strategy.timeout)  # the watchdog is kept
