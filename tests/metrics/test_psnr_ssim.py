"""PSNR / SSIM under the SR-paper protocol, checked against scikit-image as an independent
reference.

The reference side never touches srlab: the 8-bit rounding and the BT.601 Y channel are written
here in numpy, and skimage's ``structural_similarity`` (Gaussian weights, sigma 1.5, population
covariance, crop of (win - 1) // 2 = 5 pixels from the map) equals the 'valid' SSIM of MATLAB.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import srlab.metrics.functional as functional_module
import srlab.metrics.sr_metrics as sr_metrics_module
from srlab.metrics import PSNR, SSIM, psnr, ssim

PSNR_TOL = 1e-6  # dB


SSIM_TOL = 1e-6


# --------------------------------------------------------------------------- reference (numpy)
def ref_planes(img: np.ndarray, y_channel: bool, quantize: bool = True) -> np.ndarray:
    """(H, W, 3) or (H, W) float in [0, 1] -> 0..255 float64 planes, Y (BT.601) or RGB."""
    x = np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0
    if quantize:
        x = np.round(x)
    if y_channel and x.ndim == 3:
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return x


def ref_psnr(sr, hr, crop=0, y_channel=True, quantize=True) -> float:
    a, b = ref_planes(sr, y_channel, quantize), ref_planes(hr, y_channel, quantize)
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    return peak_signal_noise_ratio(b, a, data_range=255)


def ref_ssim(sr, hr, crop=0, y_channel=True, quantize=True) -> float:
    a, b = ref_planes(sr, y_channel, quantize), ref_planes(hr, y_channel, quantize)
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    return structural_similarity(
        b,
        a,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1 if a.ndim == 3 else None,
    )


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) / (H, W) numpy -> (1, C, H, W) float64 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float64))
    t = t.permute(2, 0, 1) if t.dim() == 3 else t.unsqueeze(0)
    return t.unsqueeze(0)


# --------------------------------------------------------------------------- test images
PHOTOS = {"astronaut": skdata.astronaut, "coffee": skdata.coffee, "chelsea": skdata.chelsea}


def degrade(hr: np.ndarray, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return hr + rng.normal(0.0, 6 / 255, hr.shape)  # goes out of [0, 1]: exercises the clamp
    if kind == "blur":
        return gaussian_filter(hr, sigma=(1.2, 1.2, 0))
    if kind == "blur+noise":
        return gaussian_filter(hr, sigma=(0.8, 0.8, 0)) + rng.normal(0.0, 2 / 255, hr.shape)
    raise ValueError(kind)


@pytest.fixture(scope="module", params=sorted(PHOTOS))
def photo(request) -> tuple[str, np.ndarray]:
    return request.param, PHOTOS[request.param]().astype(np.float64) / 255.0


# --------------------------------------------------------------------------- vs scikit-image
@pytest.mark.parametrize("kind", ["noise", "blur+noise"])
def test_matches_skimage_on_photos(photo, kind):
    name, hr = photo
    sr = degrade(hr, kind, seed=len(name))
    t_sr, t_hr = to_tensor(sr), to_tensor(hr)
    for y_channel, crop in [(True, 0), (True, 4), (False, 3)]:
        got_p = psnr(t_sr, t_hr, crop_border=crop, y_channel=y_channel)
        got_s = ssim(t_sr, t_hr, crop_border=crop, y_channel=y_channel)
        assert got_p.shape == (1,) and got_p.dtype == torch.float64
        assert got_s.shape == (1,) and got_s.dtype == torch.float64
        assert got_p.item() == pytest.approx(ref_psnr(sr, hr, crop, y_channel), abs=PSNR_TOL)
        assert got_s.item() == pytest.approx(ref_ssim(sr, hr, crop, y_channel), abs=SSIM_TOL)


def test_random_batch_matches_skimage_per_image():
    rng = np.random.default_rng(0)
    hr = rng.random((4, 37, 53, 3))
    # a different amount of error per image, so a batch mix-up would show
    sr = hr + rng.normal(0.0, 1.0, hr.shape) * np.array([0.01, 0.03, 0.1, 0.3])[:, None, None, None]
    t_sr = torch.from_numpy(sr).permute(0, 3, 1, 2)
    t_hr = torch.from_numpy(hr).permute(0, 3, 1, 2)
    for quantize in (True, False):
        for y_channel in (True, False):
            kw = dict(crop_border=2, y_channel=y_channel, quantize=quantize)
            got_p, got_s = psnr(t_sr, t_hr, **kw), ssim(t_sr, t_hr, **kw)
            assert got_p.shape == got_s.shape == (4,)
            want_p = [ref_psnr(sr[i], hr[i], 2, y_channel, quantize) for i in range(4)]
            want_s = [ref_ssim(sr[i], hr[i], 2, y_channel, quantize) for i in range(4)]
            np.testing.assert_allclose(got_p.numpy(), want_p, rtol=0, atol=PSNR_TOL)
            np.testing.assert_allclose(got_s.numpy(), want_s, rtol=0, atol=SSIM_TOL)
            assert len(set(got_p.tolist())) == 4  # genuinely per image
            # each batch entry equals the value of that image alone
            for i in range(4):
                assert psnr(t_sr[i], t_hr[i], **kw).item() == pytest.approx(
                    got_p[i].item(), abs=1e-9
                )


def test_grayscale_input_is_used_as_is():
    hr = skdata.camera().astype(np.float64)[100:228, 150:310] / 255.0
    sr = gaussian_filter(hr, 1.0)
    t_sr, t_hr = to_tensor(sr), to_tensor(hr)
    assert t_sr.shape == (1, 1, 128, 160)
    for y_channel in (True, False):  # ignored for one channel
        assert psnr(t_sr, t_hr, 3, y_channel).item() == pytest.approx(
            ref_psnr(sr, hr, 3, y_channel=False), abs=PSNR_TOL
        )
        assert ssim(t_sr, t_hr, 3, y_channel).item() == pytest.approx(
            ref_ssim(sr, hr, 3, y_channel=False), abs=SSIM_TOL
        )


def test_chw_input_is_a_batch_of_one():
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(3, 20, 24, generator=g)
    sr = (hr + 0.05 * torch.randn(3, 20, 24, generator=g)).clamp(0, 1)
    assert psnr(sr, hr).shape == ssim(sr, hr).shape == (1,)
    assert torch.equal(psnr(sr, hr), psnr(sr[None], hr[None]))
    assert torch.equal(ssim(sr, hr), ssim(sr[None], hr[None]))


def test_float32_and_float64_agree():
    g = torch.Generator().manual_seed(2)
    hr = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    sr = hr + 0.04 * torch.randn(2, 3, 24, 24, generator=g, dtype=torch.float64)
    # quantisation makes the float32 copy land on the same 8-bit levels (barring exact ties)
    p32, p64 = psnr(sr.float(), hr.float()), psnr(sr, hr)
    assert p32.dtype == torch.float64
    torch.testing.assert_close(p32, p64, rtol=0, atol=1e-9)
    torch.testing.assert_close(ssim(sr.float(), hr.float()), ssim(sr, hr), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- protocol details
def test_known_values_y_is_not_re_rounded():
    hr = torch.full((1, 3, 16, 16), 0.2)  # 51 on 8 bits
    one = hr + 1 / 255  # every channel one level up
    assert psnr(one, hr, y_channel=False).item() == pytest.approx(10 * math.log10(255**2), abs=1e-9)
    # Y moves by (65.481 + 128.553 + 24.966) / 255 = 219 / 255 of a level: not rounded to 1
    want_y = 20 * math.log10(255 / (219 / 255))
    assert psnr(one, hr).item() == pytest.approx(want_y, abs=1e-9)
    # error only in blue: RGB MSE is 1/3, the Y error is 24.966 / 255
    blue = hr.clone()
    blue[:, 2] += 1 / 255
    assert psnr(blue, hr, y_channel=False).item() == pytest.approx(
        10 * math.log10(3 * 255**2), abs=1e-9
    )
    assert psnr(blue, hr).item() == pytest.approx(20 * math.log10(255 / (24.966 / 255)), abs=1e-9)


def test_crop_border_removes_exactly_that_many_pixels():
    g = torch.Generator().manual_seed(3)
    hr = torch.rand(2, 3, 40, 48, generator=g)
    sr = hr.clone()
    c = 5
    inner = torch.zeros(40, 48, dtype=torch.bool)
    inner[c:-c, c:-c] = True
    sr[..., ~inner] = 1 - hr[..., ~inner]  # a huge error confined to a border c pixels wide
    assert torch.isinf(psnr(sr, hr, crop_border=c)).all()
    assert (ssim(sr, hr, crop_border=c) == 1).all()
    assert torch.isfinite(psnr(sr, hr, crop_border=c - 1)).all()
    assert (ssim(sr, hr, crop_border=c - 1) < 1).all()
    # with errors everywhere, cropping is the same as slicing the inputs
    noisy = sr + 0.02 * torch.randn(sr.shape, generator=g)
    sl = (..., slice(c, -c), slice(c, -c))
    for fn in (psnr, ssim):
        for y_channel in (True, False):
            torch.testing.assert_close(
                fn(noisy, hr, crop_border=c, y_channel=y_channel),
                fn(noisy[sl], hr[sl], y_channel=y_channel),
                rtol=0,
                atol=0,
            )


def test_quantization_happens_before_comparison():
    g = torch.Generator().manual_seed(4)
    hr = torch.randint(0, 256, (2, 3, 16, 16), generator=g, dtype=torch.float64) / 255
    below_half_level = torch.where(hr < 0.5, hr + 0.9 / 510, hr - 0.9 / 510)
    assert torch.isinf(psnr(below_half_level, hr)).all()
    assert (ssim(below_half_level, hr) == 1).all()
    assert torch.isfinite(psnr(below_half_level, hr, quantize=False)).all()
    assert (ssim(below_half_level, hr, quantize=False) < 1).all()
    above_half_level = torch.where(hr < 0.5, hr + 1.1 / 510, hr - 1.1 / 510)
    assert torch.isfinite(psnr(above_half_level, hr)).all()


def test_inputs_are_clamped_to_unit_range():
    g = torch.Generator().manual_seed(5)
    hr = torch.rand(1, 3, 16, 16, generator=g)
    hr[..., :4, :] = 0.0
    hr[..., -4:, :] = 1.0
    sr = hr.clone()
    sr[..., :4, :] = -0.7
    sr[..., -4:, :] = 3.0
    for quantize in (True, False):
        assert torch.isinf(psnr(sr, hr, quantize=quantize)).all()
        assert ssim(sr, hr, quantize=quantize).item() == 1.0


def test_identical_images_give_inf_psnr_without_warning(recwarn):
    x = torch.rand(3, 3, 12, 12)
    assert torch.equal(psnr(x, x), torch.full((3,), math.inf, dtype=torch.float64))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_doctests():
    for module in (functional_module, sr_metrics_module):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0
        assert result.failed == 0, module.__name__


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [psnr, ssim])
def test_shape_errors(fn):
    a = torch.rand(1, 3, 16, 16)
    with pytest.raises(
        ValueError, match=r"same shape.*sr \(1, 3, 16, 16\) and hr \(1, 3, 16, 17\)"
    ):
        fn(a, torch.rand(1, 3, 16, 17))
    with pytest.raises(ValueError, match=r"same shape.*sr \(3, 16, 16\) and hr \(1, 3, 16, 16\)"):
        fn(a[0], a)
    with pytest.raises(
        ValueError, match=r"\(B, C, H, W\) or \(C, H, W\).*sr \(16, 16\) and hr \(16, 16\)"
    ):
        fn(a[0, 0], a[0, 0])
    with pytest.raises(ValueError, match=r"sr \(1, 1, 3, 16, 16\)"):
        fn(a[None], a[None])
    with pytest.raises(ValueError, match=r"3 \(RGB\) or 1 \(Y/grey\) channels, got 2"):
        fn(a[:, :2], a[:, :2])
    with pytest.raises(TypeError, match="floating-point"):
        fn((a * 255).to(torch.uint8), (a * 255).to(torch.uint8))


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_crop_border_errors(fn):
    a = torch.rand(1, 3, 16, 20)
    with pytest.raises(ValueError, match=r"crop_border=8 removes the whole 16x20 image"):
        fn(a, a, crop_border=8)
    with pytest.raises(ValueError, match=r"crop_border must be >= 0, got -1"):
        fn(a, a, crop_border=-1)
    with pytest.raises(TypeError, match="crop_border must be an int"):
        fn(a, a, crop_border=2.0)


def test_ssim_too_small_errors():
    with pytest.raises(ValueError, match=r"at least 11x11 .*got 10x12"):
        ssim(torch.rand(1, 3, 10, 12), torch.rand(1, 3, 10, 12))
    a = torch.rand(1, 1, 20, 20)
    with pytest.raises(ValueError, match=r"at least 11x11 .*got 10x10"):
        ssim(a, a, crop_border=5)
    assert ssim(a, a, crop_border=4).item() == 1.0  # 12x12 is fine
    assert torch.isinf(psnr(a, a, crop_border=5)).all()  # PSNR has no minimum size


def test_metric_constructor_errors():
    with pytest.raises(ValueError, match="crop_border must be >= 0"):
        PSNR(crop_border=-2)
    with pytest.raises(TypeError, match="crop_border must be an int"):
        SSIM(crop_border=1.5)


# --------------------------------------------------------------------------- Metric classes
def _batches(seed: int = 6, n: int = 4):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        hr = torch.rand(i % 3 + 1, 3, 24, 28, generator=g)
        sr = hr + (0.01 + 0.02 * i) * torch.randn(hr.shape, generator=g)
        out.append((sr, hr))
    return out


@pytest.mark.parametrize(("cls", "fn"), [(PSNR, psnr), (SSIM, ssim)])
def test_metric_accumulates_mean_of_per_image_values(cls, fn):
    kw = dict(crop_border=2, y_channel=True, quantize=True)
    metric = cls(**kw)
    batches = _batches()
    per_image = []
    for sr, hr in batches:
        batch_value = metric(sr, hr)  # forward: value of this batch alone, and accumulates
        values = fn(sr, hr, **kw)
        torch.testing.assert_close(batch_value, values.mean())
        per_image.append(values)
    per_image = torch.cat(per_image)
    assert metric.count.item() == per_image.numel() == 1 + 2 + 3 + 1
    result = metric.compute()
    assert result.dtype == torch.float64 and result.shape == ()
    torch.testing.assert_close(result, per_image.mean(), rtol=0, atol=1e-12)
    metric.reset()
    assert metric.count.item() == 0 and metric.sum.item() == 0.0


def test_psnr_is_mean_of_per_image_psnr_not_psnr_of_mean_mse():
    hr = torch.full((2, 1, 12, 12), 0.2)
    sr = hr.clone()
    sr[0] += 1 / 255
    sr[1] += 10 / 255
    metric = PSNR()
    metric.update(sr, hr)
    per_image = [10 * math.log10(255**2 / 1), 10 * math.log10(255**2 / 100)]
    assert metric.compute().item() == pytest.approx(sum(per_image) / 2, abs=1e-9)
    assert metric.compute().item() != pytest.approx(10 * math.log10(255**2 / 50.5), abs=1e-3)


@pytest.mark.parametrize("cls", [PSNR, SSIM])
def test_metric_merged_states_equal_single_process(cls):
    """Simulated DDP: two ranks see different halves; sum-reduced states give the global mean."""
    batches = _batches(seed=7, n=6)
    single = cls(crop_border=3)
    for sr, hr in batches:
        single.update(sr, hr)
    rank0, rank1 = cls(crop_border=3), cls(crop_border=3)
    for sr, hr in batches[:3]:
        rank0.update(sr, hr)
    for sr, hr in batches[3:]:
        rank1.update(sr, hr)
    # what dist_reduce_fx="sum" does across processes, by hand
    manual_sum = rank0.sum + rank1.sum
    manual_count = rank0.count + rank1.count
    torch.testing.assert_close(manual_sum / manual_count, single.compute(), rtol=0, atol=1e-12)
    # and through torchmetrics' own reduction
    rank0.merge_state(rank1)
    assert rank0.count.item() == single.count.item()
    torch.testing.assert_close(rank0.compute(), single.compute(), rtol=0, atol=1e-12)


def test_metric_states_and_attributes():
    m = PSNR(crop_border=3)
    assert m.sum.dtype == torch.float64 and m.count.dtype == torch.long
    assert m._reductions["sum"] is not None and m._reductions["count"] is not None
    assert PSNR.higher_is_better is True and SSIM.higher_is_better is True
    assert PSNR.full_state_update is False and SSIM.full_state_update is False
    assert m.protocol == "y-bt601, crop 3 px, 8-bit"
    assert SSIM(y_channel=False, quantize=False).protocol == "rgb, crop 0 px, float"
    assert "crop_border=3" in repr(m)
    # dtype casts of a parent module must not turn the float64 sum into float32
    m.float()
    assert m.sum.dtype == torch.float64


def test_metric_infinite_psnr_propagates():
    m = PSNR()
    x = torch.rand(1, 3, 12, 12)
    m.update(x, x)
    m.update(x, (x + 0.1).clamp(0, 1))
    assert math.isinf(m.compute().item())


# --------------------------------------------------------------------------- properties
try:
    import hypothesis
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev extra
    hypothesis = None


if hypothesis is None:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_properties():
        pass

else:

    @st.composite
    def image_pairs(draw):
        b = draw(st.integers(1, 2))
        c = draw(st.sampled_from([1, 3]))
        h = draw(st.integers(11, 20))
        w = draw(st.integers(11, 20))
        seed = draw(st.integers(0, 2**31 - 1))
        g = torch.Generator().manual_seed(seed)
        # a little outside [0, 1] too, to go through the clamp
        a = torch.rand(b, c, h, w, generator=g, dtype=torch.float64) * 1.2 - 0.1
        noise = draw(st.sampled_from([0.0, 1e-3, 0.05, 0.5]))
        bb = a + noise * torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
        return a, bb

    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @hypothesis.given(pair=image_pairs(), y_channel=st.booleans(), quantize=st.booleans())
    def test_properties(pair, y_channel, quantize):
        """psnr(x, x) = inf, ssim(x, x) = 1, both symmetric, SSIM within [-1, 1]."""
        a, b = pair
        kw = dict(y_channel=y_channel, quantize=quantize)
        assert torch.isinf(psnr(a, a, **kw)).all()
        torch.testing.assert_close(ssim(a, a, **kw), torch.ones(a.shape[0], dtype=torch.float64))
        assert torch.equal(psnr(a, b, **kw), psnr(b, a, **kw))
        s_ab, s_ba = ssim(a, b, **kw), ssim(b, a, **kw)
        torch.testing.assert_close(s_ab, s_ba, rtol=0, atol=1e-12)
        assert ((s_ab <= 1 + 1e-12) & (s_ab >= -1 - 1e-12)).all()
