"""srlab-zoo: parameter and multiply-add counts of every network config for a 1280x720 output."""

import json
import shutil
from pathlib import Path

import pytest

from srlab.cli.common import CONF_DIR
from srlab.cli.zoo import main, zoo, zoo_markdown
from tests.helpers import run_cli

MINE = ["vdsr", "fsrcnn", "fsrcnn_s", "edsr_baseline", "edsr", "mdsr", "carn", "carn_m"]


def test_counts_match_the_published_tables():
    t = zoo(names=MINE)
    assert set(MINE) <= set(t)
    # CARN paper, Table: params and Mult-Adds for a 1280x720 output
    assert t["carn"]["2"] == {"params": 1_591_939, "macs": 222_820_761_600}  # 1,592K / 222.8G
    assert round(t["carn"]["3"]["macs"] / 1e9, 1) == 118.8  # x3 (1280/3 LR width) as the paper
    assert round(t["carn"]["4"]["macs"] / 1e9, 1) == 90.9
    assert [round(t["carn_m"][s]["macs"] / 1e9, 1) for s in "234"] == [91.2, 46.1, 32.5]
    assert round(t["vdsr"]["2"]["macs"] / 1e9, 1) == 612.6  # pre-upsampled: at HR size, any scale
    assert t["vdsr"]["2"] == t["vdsr"]["4"]
    assert t["edsr"]["2"]["params"] == 40_729_603 and t["edsr"]["4"]["params"] == 43_089_923
    assert t["mdsr"]["3"]["params"] == 7_953_987  # every branch counted
    # FSRCNN's deconvolution: d * 81 per LR input pixel (+ convs), as FSRCNN counts it
    lr_px = 640 * 360
    assert t["fsrcnn"]["2"]["macs"] == lr_px * (25 * 56 + 56 * 12 + 4 * 9 * 144 + 12 * 56 + 56 * 81)


def test_json_cli_lists_every_config(capsys):
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="console_scripts", name="srlab-zoo")] == [
        "srlab.cli.zoo:main"
    ]
    main(["--json", "--nets", "carn_m", "fsrcnn_s"])
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"carn_m", "fsrcnn_s"}
    assert set(data["carn_m"]) == {"2", "3", "4"} and data["fsrcnn_s"]["3"]["params"] == 4_086
    configs = {p.stem for p in (Path(CONF_DIR) / "model" / "net").glob("*.yaml")}
    assert set(MINE) <= configs


@pytest.mark.slow
def test_entry_point_prints_the_table():
    res = run_cli("srlab-zoo", "--nets", "carn", "vdsr")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "| carn | CARN | 1.59M | 222.8G | 118.8G | 90.9G |" in res.stdout


def test_broken_and_partial_configs_are_rows_not_crashes(tmp_path, capsys):
    net_dir = tmp_path / "model" / "net"
    net_dir.mkdir(parents=True)
    shutil.copy(Path(CONF_DIR) / "model" / "net" / "fsrcnn_s.yaml", net_dir / "fsrcnn_s.yaml")
    (net_dir / "broken.yaml").write_text("_target_: srlab.archs.NoSuchNet\nscale: ${data.scale}\n")
    (net_dir / "mdsr24.yaml").write_text(
        "_target_: srlab.archs.MDSR\nscale: ${data.scale}\nscales: [2, 4]\n"
        "num_block: 1\nnum_feat: 8\n"
    )
    t = zoo(tmp_path)
    assert list(t) == ["broken", "fsrcnn_s", "mdsr24"]
    assert "NoSuchNet" in t["broken"]["error"]
    assert set(t["mdsr24"]) - {"_target_"} == {"2", "4"}  # x3 unsupported: skipped
    table = zoo_markdown(t)
    assert "| broken | NoSuchNet | error:" in table and "| mdsr24 | MDSR |" in table
    main(["--conf-dir", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert "error" in data["broken"] and "_target_" not in data["fsrcnn_s"]


@pytest.mark.slow
def test_every_config_in_the_tree_is_counted():
    t = zoo()
    assert set(MINE) <= set(t)
    assert all("error" not in row for name, row in t.items() if name in MINE)
