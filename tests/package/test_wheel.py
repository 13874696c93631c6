"""srlab installs and runs anywhere: the wheel built from this checkout, installed into a scratch
environment, trains and evaluates from a folder outside the checkout with the configs it ships,
and layers a user's config folder on top (the worked example of docs/configs.md, read from it).

The scratch environment takes its dependencies from the environment running the tests (a ``.pth``
file naming its site-packages; ``.pth`` files inside that folder are not processed, so the
editable install of srlab stays invisible) and srlab from the wheel alone. Nothing is downloaded.
Under a minute on two idle CPU cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.helpers import make_photo

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "configs.md"
TIMEOUT = 240  # seconds, for every subprocess (each takes 1-15 s here)
# the doc's commands run on a smaller budget, and into known folders
BUDGET = [
    "logger=none",
    "trainer.max_epochs=1",
    "data.batch_size=4",
    "data.samples_per_epoch=8",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
]


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert res.returncode == 0, f"{cmd}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


def _doc_files() -> dict[str, str]:
    """The worked example's config files: a `my_configs/...yaml`: line, then its yaml block."""
    found = re.findall(r"`(my_configs/[\w/]+\.yaml)`:\n\n```yaml\n(.*?)```", DOC.read_text(), re.S)
    return dict(found)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> dict:
    """The wheel, and a scratch venv with it installed: ``{"wheel", "bin", "env", "work"}``."""
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO)
    # build from a copy: an in-tree build would write build/ and *.egg-info into the checkout
    src = root / "src_copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "src", src / "src", ignore=ignore)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SRLAB_CONF_DIR")
    }
    env.update(
        WANDB_MODE="offline",
        SRLAB_OFFLINE="1",
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    pip_offline = ["--no-deps", "--no-index", "--no-cache-dir"]
    dist = root / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            *pip_offline,
            "--no-build-isolation",
            "-w",
            dist,
            src,
        ],
        root,
        env,
    )
    (wheel,) = dist.glob("srlab-*.whl")

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], root, env)
    py = venv / "bin" / "python"
    purelib = _run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root, env)
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}  # this env's packages
    (Path(purelib.stdout.strip()) / "_srlab_test_deps.pth").write_text(
        "\n".join(sorted(deps)) + "\n"
    )
    _run([py, "-m", "pip", "install", *pip_offline, wheel], root, env)
    work = root / "elsewhere"  # a user's folder, outside the checkout
    work.mkdir()
    return {"wheel": wheel, "bin": venv / "bin", "env": env, "work": work, "venv": venv}


def test_the_wheel_ships_every_file_of_the_package(scratch):
    names = set(zipfile.ZipFile(scratch["wheel"]).namelist())
    package = REPO / "src" / "srlab"
    files = {
        p.relative_to(REPO / "src").as_posix()
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert {
        "srlab/conf/train.yaml",
        "srlab/conf/eval.yaml",
        "srlab/conf/experiment/demo.yaml",
    } <= files
    assert sorted(files - names) == []  # configs at every depth, templates, data files


def test_srlab_is_imported_from_the_scratch_environment(scratch):
    code = "import srlab, srlab.cli.common as c; print(srlab.__file__); print(c.CONF_DIR)"
    res = _run([scratch["bin"] / "python", "-c", code], scratch["work"], scratch["env"])
    module, conf = res.stdout.split()
    venv = scratch["venv"].resolve()
    assert Path(module).resolve().is_relative_to(venv), module  # not the editable checkout
    assert Path(conf).resolve().is_relative_to(venv) and (Path(conf) / "train.yaml").is_file()


def test_train_and_eval_from_outside_the_checkout_with_a_users_configs(scratch):
    bin_, env, work = scratch["bin"], scratch["env"], scratch["work"]
    for name, n in (("train", 2), ("val", 1)):  # the doc's data/mine/{train,val}
        (work / "data" / "mine" / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(make_photo(64, 80, seed=i)).save(
                work / "data" / "mine" / name / f"{i}.png"
            )

    # 1. srlab's own configs, from the installed package
    _run([bin_ / "srlab-train", "experiment=demo", *BUDGET, "hydra.run.dir=runs/demo"], work, env)
    assert (work / "runs" / "demo" / "checkpoints" / "best.ckpt").is_file()

    # 2. the user's config folder on top: the doc's files, the doc's commands
    files = _doc_files()
    assert set(files) == {
        "my_configs/experiment/mine.yaml",
        "my_configs/data/mydata.yaml",
        "my_configs/model/net/espcn_rgb.yaml",
    }
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    run = work / "runs" / "mine"
    cmd = [bin_ / "srlab-train", "--config-dir", "my_configs", "experiment=mine"]
    _run([*cmd, *BUDGET, f"hydra.run.dir={run}"], work, env)
    cfg = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert cfg["task_name"] == "mine" and cfg["data"]["scale"] == 2
    assert cfg["data"]["train_dir"] == "${paths.data_dir}/mine/train"  # the user's data config
    assert cfg["data"]["_target_"] == "srlab.data.SRDataModule"  # ... on srlab's folder config
    net = cfg["model"]["net"]
    assert net["_target_"] == "srlab.archs.ESPCN"
    assert (net["in_channels"], net["activation"]) == (3, "relu")  # the user's network variant
    ckpt = run / "checkpoints" / "best.ckpt"
    evaluate = ["~test_sets.photos", "+test_sets.mine=data/mine/val", "save_images=false"]
    _run(
        [bin_ / "srlab-eval", f"ckpt_path={ckpt}", *evaluate, f"hydra.run.dir={run}/eval"],
        work,
        env,
    )
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["network"] == "ESPCN" and set(metrics["sets"]) == {"mine"}

    # 3. the same folder as hydra.searchpath (composition only)
    searchpath = f"hydra.searchpath=[file://{work / 'my_configs'}]"
    res = _run([bin_ / "srlab-train", searchpath, "experiment=mine", "--cfg", "job"], work, env)
    composed = yaml.safe_load(res.stdout)
    assert composed["model"] == cfg["model"]
    assert composed["data"]["train_dir"] == cfg["data"]["train_dir"]
