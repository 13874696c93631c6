"""NIQE against BasicSR's own implementation (itself validated against MATLAB R2021a's ``niqe``:
5.72957338 in MATLAB vs 5.7295763 in BasicSR on its test_scripts/data/baboon.png; srlab: 5.7295739).

Reference values: BasicSR @ 8d56e3a0 (``basicsr/metrics/niqe.py``, ``calculate_niqe(img[..., ::-1],
crop_border, input_order="HWC", convert_to="y")`` for RGB photos, ``input_order="HW"`` for the
grey ``camera``), run from the fetched repository in /tmp with numpy 2.4 / scipy 1.17 / torch 2.14:

    # /tmp/bsr/basicsr/{metrics,utils}/: niqe.py, metric_util.py, niqe_pris_params.npz,
    # matlab_functions.py, color_util.py, registry.py from
    # `git --git-dir=<BasicSR> show HEAD:<path>`
    # (empty basicsr/__init__.py and metrics/__init__.py; utils/__init__.py imports color_util),
    # then with a venv holding numpy, scipy, torch, opencv-python-headless, scikit-image:
    cd /tmp/bsr && python -c "
    import sys, warnings; sys.path.insert(0, '.'); warnings.simplefilter('ignore')
    import numpy as np, skimage.data as sd; from basicsr.metrics.niqe import calculate_niqe
    for n in ['astronaut', 'camera', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry']:
        img = getattr(sd, n)()
        for cb in (0, 4):
            v = (calculate_niqe(img[..., ::-1].copy(), cb, input_order='HWC', convert_to='y')
                 if img.ndim == 3 else calculate_niqe(img.astype(np.float32), cb, input_order='HW'))
            print(n, cb, round(v, 6))"

BasicSR computes in float32 (``img.astype(np.float32)``, its torch ``imresize`` in ``.float()``);
srlab in float64, with the 7x7 Gaussian applied as two 1-D passes (it is separable; MATLAB's
``imfilter`` also separates such kernels). On photos with exactly flat areas (astronaut's black
background, immunohistochemistry's white) whole 96x96 blocks have zero local variance up to
rounding noise, and their features follow that noise: BasicSR's code run in float64 with scipy's
2-D filter gives astronaut 3.1005 instead of 3.0646 (+1.2 %). srlab's value (3.0660) is within
0.05 % of BasicSR's as shipped on all six photos and within 1e-7 of MATLAB on baboon.png.
"""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from srlab.metrics import NIQE, niqe
from srlab.metrics.niqe import NIQE_PARAMS_PATH

# photo -> {crop_border: NIQE}
BASICSR = {
    "astronaut": {0: 3.064607, 4: 2.990512},
    "camera": {0: 3.096377, 4: 3.046742},
    "coffee": {0: 4.115242, 4: 4.079430},
    "chelsea": {0: 2.625536, 4: 2.689315},
    "rocket": {0: 6.969131, 4: 6.733119},
    "immunohistochemistry": {0: 3.294139, 4: 3.296738},
}


def _photo(name: str) -> torch.Tensor:
    a = getattr(skimage.data, name)()
    t = torch.from_numpy(a).float().div(255)
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


# a few photos, both crops: about 10 s on a busy 2-core CPU
CASES = [("chelsea", 0), ("chelsea", 4), ("coffee", 4), ("astronaut", 0)]  # astronaut: flat areas


@pytest.mark.parametrize("name,crop", CASES)
def test_niqe_matches_basicsr(name, crop):
    got = float(niqe(_photo(name), crop_border=crop))
    assert got == pytest.approx(BASICSR[name][crop], rel=1e-3)  # the brief: 1 %; measured < 0.06 %


def test_metric_is_the_mean_of_per_image_values_and_batches_agree():
    img = _photo("chelsea")[:, :200, :300]
    flipped = img.flip(-1)
    one = niqe(img)
    batch = niqe(torch.stack([img, flipped]))
    assert batch[0] == pytest.approx(float(one), rel=1e-9)
    m = NIQE()
    m.update(img[None])
    m.update(flipped[None], torch.zeros_like(flipped[None]))  # a reference is accepted and ignored
    assert float(m.compute()) == pytest.approx(float(batch.mean()), rel=1e-9)
    assert NIQE.higher_is_better is False
    small = NIQE(crop_border=4, skip_small=True)  # validation on small crops: left out, counted
    small.update(torch.rand(2, 3, 100, 100))
    small.update(img[None])
    assert int(small.skipped) == 2 and int(small.count) == 1
    assert float(small.compute()) == pytest.approx(float(niqe(img, crop_border=4)), rel=1e-9)


def test_quantisation_and_grey_input():
    img = _photo("chelsea")[:, :200, :300]
    # values between 8-bit levels are rounded first: a +0.4/255 offset changes nothing
    assert float(niqe(img + 0.4 / 255)) == pytest.approx(float(niqe(img)), rel=1e-12)
    grey = img.mean(0, keepdim=True)
    assert torch.isfinite(niqe(grey)).all()


def test_small_images_and_bad_input_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="two 96x96 blocks"):
        niqe(torch.rand(3, 100, 150))
    with pytest.raises(ValueError, match="two 96x96 blocks"):
        niqe(torch.rand(3, 200, 200), crop_border=10)  # 180x180 after the crop: one block
    with pytest.raises(ValueError, match=r"\(B, 3\|1, H, W\)"):
        niqe(torch.rand(2, 200, 200))
    with pytest.raises(TypeError, match="floating-point"):
        niqe(torch.zeros(3, 200, 200, dtype=torch.uint8))


def test_pristine_model_file_is_small_data():
    assert NIQE_PARAMS_PATH.stat().st_size < 20_000
    with np.load(NIQE_PARAMS_PATH, allow_pickle=False) as d:
        assert d["mu_pris_param"].shape == (1, 36) and d["cov_pris_param"].shape == (36, 36)
        assert d["gaussian_window"].shape == (7, 7)
        assert d["gaussian_window"].sum() == pytest.approx(1.0, abs=1e-6)
    assert (NIQE_PARAMS_PATH.parent / "niqe_pris_params.NOTICE").is_file()
