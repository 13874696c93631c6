"""What the entry points keep after the library moved out: argument checks with their exact
messages and exit codes, and the Hydra glue of srlab-train."""

import pytest
from omegaconf import OmegaConf
from PIL import Image

from tests.conftest import make_photo


def test_upscale_names_an_unknown_device(tmp_path, capsys):
    from srlab.cli.upscale import run

    Image.fromarray(make_photo(8, 8)).save(tmp_path / "x.png")
    with pytest.raises(SystemExit) as e:  # refused before the checkpoint is even looked at
        run(
            [
                str(tmp_path / "x.png"),
                "--ckpt",
                str(tmp_path / "none.ckpt"),
                "--out",
                str(tmp_path),
                "--device",
                "gpu",
            ]
        )
    assert e.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == "srlab: error: unknown device 'gpu': use auto, cpu, cuda, cuda:1, ..."
    )


def test_upscale_refuses_two_inputs_with_one_output_name(tmp_path):
    from srlab.cli.upscale import collect_inputs, output_path
    from srlab.errors import SRLabError

    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.fromarray(make_photo(8, 8)).save(tmp_path / sub / "same.png")
    with pytest.raises(SRLabError, match="two inputs would both be written as same"):
        collect_inputs([str(tmp_path / "a"), str(tmp_path / "b")])
    assert output_path(tmp_path, tmp_path / "a" / "same.png").name == "same.png"


def test_prepare_folder_source_needs_hr_dir(tmp_path, capsys):
    from srlab.cli.prepare import main

    with pytest.raises(SystemExit) as e:
        main(["--source", "folder", "--out", str(tmp_path / "out")])
    assert (
        e.value.code == 2
        and "srlab: error: --source folder needs --hr-dir" in capsys.readouterr().err
    )


def test_interp_alpha_message_is_the_flags(tmp_path, capsys):
    from srlab.cli.interpolate import main

    with pytest.raises(SystemExit) as e:
        main(["--psnr", "a", "--gan", "b", "--alpha", "-0.5", "--out", str(tmp_path / "x.ckpt")])
    assert (
        e.value.code == 2
        and "srlab: error: --alpha must be in [0, 1], got -0.5" in capsys.readouterr().err
    )


@pytest.mark.parametrize("multi_scale", [True, False])
def test_train_sets_find_unused_parameters_in_the_config(compose_cfg, multi_scale):
    from srlab.cli.train import _allow_unused_heads_under_ddp

    class Model:
        pass

    model = Model()
    model.multi_scale = multi_scale
    cfg = compose_cfg(["trainer=ddp_cpu"])
    _allow_unused_heads_under_ddp(cfg, model)
    strategy = OmegaConf.to_container(cfg.trainer.strategy)
    assert strategy.get("find_unused_parameters") is (True if multi_scale else None)
    assert strategy["timeout"] == {"_target_": "datetime.timedelta", "minutes": 10}
    cfg = compose_cfg(["trainer=ddp_cpu", "trainer.strategy=ddp"])
    _allow_unused_heads_under_ddp(cfg, model)
    assert cfg.trainer.strategy == ("ddp_find_unused_parameters_true" if multi_scale else "ddp")
