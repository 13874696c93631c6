"""srlab.reporting: results collected from metrics.json (sizes from the checkpoint when not
recorded), the papers' ``paper:`` blocks checked."""

from __future__ import annotations

import re

import pytest

from srlab.errors import SRLabError
from srlab.reporting import PaperResult, collect
from tests.helpers import (
    ESPCN_X3,
    ESPCN_X3_MACS,
    ESPCN_X3_PARAMS,
    write_checkpoint,
    write_metrics_json,
)


def test_report_counts_params_and_macs_from_the_checkpoint_of_older_metrics(tmp_path):
    ckpt = write_checkpoint(tmp_path / "tiny.ckpt", ESPCN_X3)
    write_metrics_json(tmp_path / "old", checkpoint=ckpt)  # no network / model_size recorded
    (row,) = collect([tmp_path / "old"])
    assert (row["network"], row["params"], row["macs"]) == ("ESPCN", ESPCN_X3_PARAMS, ESPCN_X3_MACS)
    assert row["paper"] is None  # a checkpoint outside a training run: no run config


@pytest.mark.parametrize(
    "block, message",
    [
        ({"psnr": {"Set5": {"x2": 30.0}}}, "paper.source must name the paper"),
        ({"source": "A 2020", "psnr": {"Set5": 30.0}}, "paper.psnr.Set5 must map scales to dB"),
        (
            {"source": "A 2020", "psnr": {"Set5": {"x2": "high"}}},
            "paper.psnr.Set5.x2 must be a scale",
        ),
        (
            {"source": "A 2020", "psnr": {"Set5": {"x2": 30.0}}, "unverified": ["Set5/x3"]},
            "'Set5/x3', which is not",
        ),
        ({"source": "A 2020", "table": 3}, "unknown keys ['table']"),
    ],
)
def test_malformed_paper_blocks_are_one_sentence(block, message):
    with pytest.raises(SRLabError, match=re.escape(message)):
        PaperResult.from_block("x", block, "x.yaml")
