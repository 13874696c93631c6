"""The degradation picture (srlab.data.degradation_preview)."""

import numpy as np
import pytest
import torch

from srlab.data.degradation import Degradation
from srlab.data.degradation_preview import PRESETS, degradation_preview, describe
from srlab.errors import SRLabError
from tests.helpers import make_photo


def test_describe_names_each_step_with_its_drawn_values():
    params = {
        "seed": 3,
        "steps": [{"blur": {"sigma": 1.23456}}, {"bicubic": {}}, {"jpeg": {"quality": 71}}],
    }
    assert describe(params) == "blur(sigma=1.23) > bicubic > jpeg(quality=71)"


def test_presets_build_and_the_picture_holds_the_hr_crop():
    hr = torch.from_numpy(make_photo(70, 90)).permute(2, 0, 1).contiguous()
    degs = {name: Degradation(**spec) for name, spec in PRESETS.items()}
    pic = degradation_preview(hr, degs, scale=4, crop=50)  # crop 50 -> 48 (a multiple of 4)
    tiles, cap, gap, c = 1 + len(PRESETS), 60, 6, 48
    rows = -(-tiles // 4)
    assert pic.mode == "RGB" and pic.size == (4 * (c + gap) + gap, rows * (c + cap + gap) + gap)
    top, left = (70 - c) // 2, (90 - c) // 2
    pasted = np.asarray(pic)[gap + cap : gap + cap + c, gap : gap + c]
    assert np.array_equal(pasted, make_photo(70, 90)[top : top + c, left : left + c])


def test_an_image_smaller_than_the_scale_is_refused():
    with pytest.raises(SRLabError, match=r"the image \(3x3\) is smaller than the scale x4"):
        degradation_preview(torch.zeros(3, 3, 3, dtype=torch.uint8), {}, scale=4, crop=48)


def test_degradation_files_are_read_as_plain_data(tmp_path):
    from srlab.data.degradation_preview import load_degradations

    good = tmp_path / "d.yaml"
    good.write_text(
        "plain: {steps: [{bicubic: {}}]}\nnoisy: {seed: 3, steps: [{noise: {sigma: 5}}]}\n"
    )
    degs = load_degradations(good)
    assert list(degs) == ["plain", "noisy"]
    assert all(isinstance(d, Degradation) for d in degs.values())
    assert list(load_degradations(None)) == list(PRESETS)
    # a YAML tag that would build a Python object is refused, not run
    evil = tmp_path / "evil.yaml"
    evil.write_text("x: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(SRLabError, match=r"cannot read degradations from .*evil\.yaml"):
        load_degradations(evil)
    assert not (tmp_path / "pwned").exists()
    for text in ("[1, 2]\n", "{}\n", "a: 5\n"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(SRLabError, match=r"expected a mapping label -> \{steps"):
            load_degradations(bad)
    with pytest.raises(SRLabError, match="cannot read degradations from"):
        load_degradations(tmp_path / "missing.yaml")
