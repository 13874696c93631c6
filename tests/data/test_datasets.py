"""Training datasets (srlab.data.datasets): IntensityJitter, one affine contrast/brightness map on
both images of a training pair, and the datamodule option that turns it on."""

import pytest
import torch

from srlab.data import IntensityJitter, SRDataModule
from srlab.data.degradation import bicubic_downscale
from srlab.data.io import to_float
from srlab.errors import SRLabError
from tests.helpers import photo_pair


def _pair():
    """An x3 training pair of one 48x48 photo, (3, H, W) floats, its LR made in 8 bits."""
    lr, hr = photo_pair(3, 48, quantized=True)
    return lr[0], hr[0]


def test_jittered_pair_is_still_a_bicubic_pair():
    """The LR of the jittered HR (MATLAB bicubic, 8 bits) is the jittered LR, to one grey level:
    the map is affine and bicubic downscaling is linear and keeps constants."""
    lr, hr = _pair()
    jitter = IntensityJitter(p=1.0, contrast=(0.1, 1.0))
    for seed in range(20):
        jl, jh = jitter(lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(seed))
        remade = to_float(bicubic_downscale((jh * 255).round().to(torch.uint8), 3))
        assert (remade - jl).abs().max() <= 1.5 / 255
        # changed (contrast below 1 or an offset), in range, on the 8-bit grid
        assert not torch.equal(jh, hr)
        for x in (jl, jh):
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
            assert torch.equal(x, (x * 255).round() / 255)


def test_contrast_and_brightness_follow_the_draw():
    lr, hr = _pair()
    _jl, jh = IntensityJitter(p=1.0, contrast=(0.2, 0.2))(
        lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(1)
    )
    # contrast factor 0.2: the spread shrinks five-fold (to rounding)
    assert float(jh.std() / hr.std()) == pytest.approx(0.2, abs=0.01)
    # many draws cover dark and bright offsets
    means = [
        float(
            IntensityJitter(p=1.0, contrast=(0.1, 0.1))(
                lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(s)
            )[1].mean()
        )
        for s in range(40)
    ]
    assert min(means) < 0.2 and max(means) > 0.8


def test_probability_and_seeding():
    lr, hr = _pair()
    off = IntensityJitter(p=0.0)
    assert off(lr, hr)[0] is lr
    on = IntensityJitter(p=1.0)
    a = on(lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(5))
    b = on(lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    half = IntensityJitter(p=0.5)
    changed = sum(
        not torch.equal(
            half(lr.clone(), hr.clone(), generator=torch.Generator().manual_seed(s))[1], hr
        )
        for s in range(200)
    )
    assert 70 < changed < 130


def test_bad_settings_are_refused():
    with pytest.raises(SRLabError, match="contrast"):
        IntensityJitter(contrast=(0.5, 2.0))
    with pytest.raises(SRLabError, match="probability"):
        IntensityJitter(p=1.5)


def test_datamodule_option(image_folder):
    folder = image_folder("hr", sizes=((60, 60), (54, 66)))
    dm = SRDataModule(
        scale=3,
        train_dir=str(folder),
        val_dir=str(folder),
        patch_size=8,
        batch_size=4,
        samples_per_epoch=8,
        intensity={"p": 1.0, "contrast": [0.1, 0.3]},
    )
    dm.setup("fit")
    assert isinstance(dm.train_set.intensity, IntensityJitter)
    batch = next(iter(dm.train_dataloader()))
    assert batch["hr"].std(dim=(1, 2, 3)).max() < 0.3 * 0.5  # low contrast patches
    with pytest.raises(SRLabError, match="cannot be combined"):
        SRDataModule(
            scale=3,
            train_dir=str(folder),
            val_dir=str(folder),
            intensity={"p": 0.5},
            degradation={"steps": [{"bicubic": {}}]},
        )
    with pytest.raises(SRLabError, match="takes p, contrast"):
        SRDataModule(scale=3, train_dir=str(folder), val_dir=str(folder), intensity={"prob": 0.5})
