"""StopOnNonFiniteLoss: a NaN loss stops the run with one sentence, the last good checkpoint
kept."""

from __future__ import annotations

import pytest
import torch

import srlab
from srlab.cli.train import train
from srlab.errors import SRLabError
from tests.helpers import compose, tiny_x2_overrides


def _folders(image_folder):
    return image_folder("hr", sizes=((40, 48), (36, 44), (48, 40))), image_folder(
        "val", sizes=((32, 40),)
    )


def test_nan_loss_stops_with_one_sentence_and_keeps_last_good_checkpoint(tmp_path, image_folder):
    train_dir, val_dir = _folders(image_folder)
    cfg = compose(
        [
            *tiny_x2_overrides(train_dir, val_dir, epochs=2),
            "callbacks.step_checkpoint.every_n_train_steps=3",
            "+callbacks.nan._target_=tests.helpers.NaNAtStep",
            "+callbacks.nan.step=7",
        ],
        output_dir=tmp_path,
    )
    with pytest.raises(
        SRLabError
    ) as err:  # srlab-train prints it as one line and exits with status 2
        train(cfg)
    msg = str(err.value)
    assert "loss is NaN" in msg and "step 7" in msg and msg.count(". ") == 0, msg
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert str(last) in msg
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 6
    model = srlab.load_model(last)
    assert all(torch.isfinite(p).all() for p in model.parameters())
