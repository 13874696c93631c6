"""docs/adding-a-network.md followed to the letter: its code blocks, as the page shows them, make
a network that srlab discovers, builds from a Hydra config, trains, checkpoints, rebuilds with
``srlab.load_model``, lists in the zoo, counts and exports, with no edit anywhere else.

The example's network file goes into a temporary folder added to ``srlab.archs.__path__`` and its
YAML into a temporary config folder on Hydra's search path (nothing is written into src/).
"""

from __future__ import annotations

import importlib
import re
import sys
import warnings
from pathlib import Path

import pytest
import torch

import srlab
import srlab.archs
from srlab.cli.common import CONF_DIR
from srlab.utils import network_classes
from tests.helpers import REPO, compose

DOC = REPO / "docs" / "adding-a-network.md"
ARCH = "src/srlab/archs/tinysr.py"
YAML = "src/srlab/conf/model/net/tinysr.yaml"
TEST = "tests/archs/test_tinysr.py"
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)


def doc_files() -> dict[str, str]:
    """``{path: text}`` of the page's code blocks whose first line is ``# <path of a file>``."""
    files = {}
    for body in _FENCE.findall(DOC.read_text(encoding="utf-8")):
        first = body.split("\n", 1)[0]
        m = re.fullmatch(r"# ((?:src|tests)/[\w/]+\.(?:py|yaml))", first)
        if m:
            assert m.group(1) not in files, f"{m.group(1)} shown twice in {DOC.name}"
            files[m.group(1)] = body
    return files


@pytest.fixture
def tinysr(tmp_path, monkeypatch):
    """The page's network file in a folder on ``srlab.archs.__path__``; returns the config root
    holding the page's YAML (``<root>/model/net/tinysr.yaml``)."""
    files = doc_files()
    arch_dir, conf = tmp_path / "archs", tmp_path / "conf"
    (arch_dir).mkdir()
    (arch_dir / "tinysr.py").write_text(files[ARCH], encoding="utf-8")
    (conf / "model" / "net").mkdir(parents=True)
    (conf / "model" / "net" / "tinysr.yaml").write_text(files[YAML], encoding="utf-8")
    importlib.invalidate_caches()
    monkeypatch.setattr(srlab.archs, "__path__", [*srlab.archs.__path__, str(arch_dir)])
    yield conf
    sys.modules.pop("srlab.archs.tinysr", None)


def test_the_page_shows_the_network_its_config_and_its_tests():
    assert set(doc_files()) == {ARCH, YAML, TEST}
    # the example is not part of srlab itself: what the tests below show comes from the page
    assert not (Path(srlab.archs.__file__).parent / "tinysr.py").exists()
    assert not (Path(CONF_DIR) / "model" / "net" / "tinysr.yaml").exists()
    assert "srlab.archs.TinySR" not in network_classes()


def test_a_new_file_is_discovered_without_any_other_edit(tinysr):
    table = network_classes()
    cls = table["srlab.archs.TinySR"]
    assert table["srlab.archs.tinysr.TinySR"] is cls and cls.__module__ == "srlab.archs.tinysr"
    assert srlab.archs.TinySR is cls  # what Hydra's _target_ and `from srlab.archs import` resolve
    from srlab.archs import TinySR

    assert TinySR is cls and issubclass(cls, srlab.archs.SRNet)


def test_the_pages_tests_pass(tinysr):
    namespace: dict = {"__name__": "test_tinysr"}
    exec(compile(doc_files()[TEST], TEST, "exec"), namespace)  # the page's own code
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert len(tests) == 2
    for test in tests:
        test()


def test_train_checkpoint_reload_zoo_macs_and_export(tinysr, tmp_path):
    from srlab.cli.train import train
    from srlab.cli.zoo import zoo
    from srlab.export import PARITY_TOL, export_model
    from srlab.macs import count_module

    out = tmp_path / "run"
    cfg = compose(  # with the page's config folder on Hydra's search path
        [
            f"hydra.searchpath=[file://{tinysr}]",
            "model/net=tinysr",
            "data.scale=2",
            "logger=none",
            "trainer.max_epochs=1",
            "data.patch_size=8",
            "data.batch_size=4",
            "data.samples_per_epoch=8",
            "~callbacks.val_images",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
        ],
        output_dir=out,
    )
    assert cfg.model.net._target_ == "srlab.archs.TinySR"
    metrics, objects = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"])) and "val/psnr" in metrics
    trained = objects["model"].net.eval()
    assert type(trained).__name__ == "TinySR" and trained.scale == 2

    # the checkpoint alone rebuilds it
    ckpt = out / "checkpoints" / "best.ckpt"
    model = srlab.load_model(ckpt)
    assert model.net_spec == {
        "_target_": "srlab.archs.TinySR",
        "scale": 2,
        "in_channels": 3,
        "num_feat": 32,
        "num_block": 1,
    }
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        assert torch.allclose(model.net(x), trained(x), atol=1e-6)

    # listed by the zoo; params and MACs (1280x720 output) as the docstring's formula gives
    table = zoo(tinysr)
    assert list(table) == ["tinysr"] and table["tinysr"]["_target_"] == "srlab.archs.TinySR"
    for s in (2, 3, 4):
        per_lr_px = 9 * 3 * 32 + 9 * 32 * 32 + 9 * 32 * 3 * s * s
        row = table["tinysr"][str(s)]
        assert row["params"] == 896 + 9_248 + 9 * 32 * 3 * s * s + 3 * s * s
        assert row["macs"] == round(1280 * 720 / s**2 * per_lr_px)
    assert count_module(model.net, 2) == table["tinysr"]["2"]["macs"]

    # exported with parity at a size other than the traced one
    for fmt in ("torchscript", "onnx"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = export_model(
                model, fmt, tmp_path / f"tinysr.{fmt}", example_size=(20, 24), check_size=(23, 17)
            )
        assert r["max_abs_diff"] <= PARITY_TOL, (fmt, r["max_abs_diff"])
