"""Tests for the MATLAB-exact bicubic ``imresize`` (torch) and its NumPy reference."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest
import torch

from srlab.core.imresize import imresize
from srlab.data.imresize_reference import imresize_numpy

SCALES = [1 / 2, 1 / 3, 1 / 4, 0.6, 2, 3, 4, 1.5]


def _reference(x: torch.Tensor, scale, antialias: bool = True, size=None) -> torch.Tensor:
    """Run the NumPy reference on (C, H, W) / (B, C, H, W) tensors; float64 result."""

    def one(img: torch.Tensor) -> np.ndarray:
        hwc = img.detach().double().permute(1, 2, 0).numpy()
        return imresize_numpy(hwc, scale, antialias, output_shape=size).transpose(2, 0, 1)

    if x.ndim == 3:
        return torch.from_numpy(one(x))
    return torch.from_numpy(np.stack([one(img) for img in x]))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


def _keys(t: float) -> float:
    """Keys' cubic (a = -0.5) written out by hand for the known-value tests."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shape", [(3, 17, 23), (2, 1, 12, 9), (1, 2, 7, 16)])
def test_matches_reference_float32(shape, scale, antialias):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    y = imresize(x, scale, antialias=antialias)
    assert y.dtype == torch.float32
    assert _max_diff(y, _reference(x, scale, antialias)) < 1e-5


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("scale", [*SCALES, 0.2, (0.5, 2.0), (3.0, 0.3)])
def test_matches_reference_float64(scale, antialias):
    x = torch.rand(2, 3, 13, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = imresize(x, scale, antialias=antialias)
    assert y.dtype == torch.float64
    assert _max_diff(y, _reference(x, scale, antialias)) < 1e-10


@pytest.mark.parametrize(
    ("shape", "scale"),
    [((3, 150, 97), 1 / 2), ((1, 131, 140), 1 / 3), ((2, 70, 45), 2.0), ((1, 45, 70), 2.5)],
)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_matches_reference_many_blocks(shape, scale, requires_grad):
    """Outputs longer than one block (16..64 pixels) exercise the banded block layout."""
    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = imresize(x.requires_grad_(requires_grad), scale)
    assert y.requires_grad == requires_grad
    assert _max_diff(y, _reference(x, scale)) < 1e-10


def test_size_argument_matches_reference():
    x = torch.rand(3, 20, 15, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y = imresize(x, size=(7, 31))
    assert y.shape == (3, 7, 31)
    # size=(7, 31) means scales 7/20 and 31/15; note ceil(15 * (31 / 15)) would be 32.
    assert math.ceil(15 * (31 / 15)) == 32
    assert _max_diff(y, _reference(x, (7 / 20, 31 / 15), size=(7, 31))) < 1e-10
    # scale and size together: scale sets the sampling grid, size the output length.
    y = imresize(x, 0.5, size=(9, 8))
    assert _max_diff(y, _reference(x, 0.5, size=(9, 8))) < 1e-10


def test_skimage_photo_matches_reference():
    data = pytest.importorskip("skimage.data")
    img = data.astronaut()[100:196, 180:300].astype(np.float64) / 255.0  # (96, 120, 3)
    x = torch.from_numpy(img).permute(2, 0, 1).float()
    y = imresize(x, 1 / 3)
    assert y.shape == (3, 32, 40)
    ref = imresize_numpy(img, 1 / 3).transpose(2, 0, 1)
    assert _max_diff(y, torch.from_numpy(ref)) < 1e-5


def test_hypothesis_random_sizes_and_scales():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @hypothesis.given(
        h=st.integers(1, 40),
        w=st.integers(1, 40),
        scale_h=st.floats(0.2, 4.0),
        scale_w=st.floats(0.2, 4.0),
        same=st.booleans(),
        antialias=st.booleans(),
        grad=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def check(h, w, scale_h, scale_w, same, antialias, grad, seed):
        scale = scale_h if same else (scale_h, scale_w)
        x = torch.rand(2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        y = imresize(x.requires_grad_(grad), scale, antialias=antialias)
        assert _max_diff(y, _reference(x, scale, antialias)) < 1e-10

    check()


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("scale", [*SCALES, 0.13, (0.3, 2.2)])
def test_constant_image_stays_constant(scale, antialias):
    x = torch.full((2, 11, 14), 0.7, dtype=torch.float64)
    y = imresize(x, scale, antialias=antialias)
    assert torch.allclose(y, torch.full_like(y, 0.7), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("hw", "scale", "expected"),
    [
        ((7, 10), 0.5, (4, 5)),
        ((10, 7), 1 / 3, (4, 3)),
        ((7, 10), 1.5, (11, 15)),
        ((1, 3), 0.25, (1, 1)),
        ((5, 6), 4, (20, 24)),
        ((1356, 2040), 1 / 3, (452, 680)),
        ((9, 9), (0.5, 2.0), (5, 18)),
        ((50, 10), 1.1, (56, 11)),  # ceil(50 * 1.1) = ceil(55.000000000000007): MATLAB's formula
    ],
)
def test_output_size_is_ceil(hw, scale, expected):
    x = torch.zeros(1, *hw)
    assert imresize(x, scale).shape == (1, *expected)


def test_upscale_by_2_known_values():
    """A 4-pixel row upscaled by 2, weights written out from the kernel by hand.

    Output pixel i samples position (i + 0.5) / 2 - 0.5 = -0.25, 0.25, ..., 3.25; taps at
    distance 0.25/0.75/1.25/1.75 get k(.25), k(.75), k(1.25), k(1.75), and taps beyond the
    ends are mirrored with the edge pixel repeated (-1 -> 0, -2 -> 1, 4 -> 3, 5 -> 2).
    """
    k0, k1, k2, k3 = _keys(0.25), _keys(0.75), _keys(1.25), _keys(1.75)
    assert (k0, k1, k2, k3) == (0.8671875, 0.2265625, -0.0703125, -0.0234375)
    weights = torch.tensor(
        [
            [k1 + k0, k3 + k2, 0, 0],  # -0.25: taps -2, -1, 0, 1
            [k2 + k0, k1, k3, 0],  # 0.25: taps -1, 0, 1, 2
            [k3 + k1, k0, k2, 0],  # 0.75: taps -1, 0, 1, 2
            [k2, k0, k1, k3],  # 1.25
            [k3, k1, k0, k2],  # 1.75
            [0, k2, k0, k1 + k3],  # 2.25: taps 1, 2, 3, 4
            [0, k3, k1, k0 + k2],  # 2.75: taps 1, 2, 3, 4
            [0, 0, k2 + k3, k0 + k1],  # 3.25: taps 2, 3, 4, 5
        ],
        dtype=torch.float64,
    )
    row = torch.tensor([1.0, 4.0, 2.0, 8.0], dtype=torch.float64)
    expected = weights @ row
    assert expected[0].item() == pytest.approx(1.09375 * 1 - 0.09375 * 4)

    y = imresize(row.view(1, 1, 4), 2.0)  # width 4 -> 8, height 1 -> 2 (copies)
    assert y.shape == (1, 2, 8)
    torch.testing.assert_close(y[0], expected.expand(2, 8), rtol=0, atol=1e-12)
    y = imresize(row.view(1, 4, 1), 2.0)  # the same along the height
    torch.testing.assert_close(y[0], expected.view(8, 1).expand(8, 2), rtol=0, atol=1e-12)


def test_downscale_by_2_known_values():
    """An 8-pixel row downscaled by 2 with antialiasing: the kernel is 0.5 * k(0.5 * d).

    Output i samples position 2i + 0.5; its taps 2i-3 .. 2i+4 sit at distances 3.5, 2.5,
    1.5, 0.5, 0.5, 1.5, 2.5, 3.5, i.e. weights k(1.75), k(1.25), k(.75), k(.25), ... / 2,
    which already sum to 1.
    """
    half = [_keys(d / 2) / 2 for d in (3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5)]
    assert sum(half) == 1.0
    row = [3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, 6.0]
    n = len(row)

    def mirror(j: int) -> int:
        return -j - 1 if j < 0 else (2 * n - 1 - j if j >= n else j)

    expected = [
        sum(w * row[mirror(2 * i - 3 + t)] for t, w in enumerate(half)) for i in range(n // 2)
    ]
    y = imresize(torch.tensor(row, dtype=torch.float64).view(1, 1, n), 0.5)
    torch.testing.assert_close(y.view(-1), torch.tensor(expected, dtype=torch.float64))
    # Without antialiasing the plain kernel at distances 1.5, 0.5, 0.5, 1.5 is used.
    plain = [_keys(d) for d in (1.5, 0.5, 0.5, 1.5)]
    expected = [sum(w * row[mirror(2 * i - 1 + t)] for t, w in enumerate(plain)) for i in range(4)]
    y = imresize(torch.tensor(row, dtype=torch.float64).view(1, 1, n), 0.5, antialias=False)
    torch.testing.assert_close(y.view(-1), torch.tensor(expected, dtype=torch.float64))


def _smooth_image(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return (0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.002 * xx).astype(np.float32)


@pytest.mark.parametrize(("scale", "border"), [(0.5, 3), (2.0, 3)])
def test_interior_matches_pil_bicubic(scale, border):
    """PIL's BICUBIC is also Keys a = -0.5 with a widened kernel when reducing, but it
    renormalises the kernel at the borders instead of mirroring: compare the interior only."""
    pil = pytest.importorskip("PIL.Image")
    img = _smooth_image(48, 64)
    out_h, out_w = math.ceil(48 * scale), math.ceil(64 * scale)
    ref = np.asarray(
        pil.fromarray(img).resize((out_w, out_h), pil.Resampling.BICUBIC), dtype=np.float64
    )
    y = imresize(torch.from_numpy(img)[None], scale)[0].double().numpy()
    assert y.shape == ref.shape
    inner = (slice(border, -border), slice(border, -border))
    assert np.abs(y[inner] - ref[inner]).max() < 1e-4
    assert np.abs(y - ref).max() > 1e-4  # ... while the borders do differ


def test_scale_one_is_exact_identity_copy():
    x = torch.rand(3, 9, 8)
    y = imresize(x, 1.0)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()
    y = imresize(x, (1.0, 0.5))
    torch.testing.assert_close(y, _reference(x, (1.0, 0.5)).float(), rtol=0, atol=1e-6)


def test_batch_equals_per_image_and_noncontiguous_input():
    x = torch.rand(4, 3, 21, 18, generator=torch.Generator().manual_seed(4))
    y = imresize(x, 1 / 3)
    for b in range(4):
        torch.testing.assert_close(y[b], imresize(x[b], 1 / 3))
    x_cl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(imresize(x_cl, 1 / 3), y)
    x_t = x.transpose(-1, -2).contiguous().transpose(-1, -2)  # same values, transposed strides
    torch.testing.assert_close(imresize(x_t, 1 / 3), y)


def test_empty_batch():
    x = torch.rand(0, 3, 9, 8)
    assert imresize(x, 0.5).shape == (0, 3, 5, 4)
    assert imresize(torch.rand(0, 9, 8), 2.0).shape == (0, 18, 16)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtype_and_device_preserved(dtype):
    x = torch.rand(2, 3, 16, 12)
    y = imresize(x.to(dtype), 0.5)
    assert y.dtype == dtype and y.device == x.device and y.shape == (2, 3, 8, 6)
    tol = 1e-6 if dtype in (torch.float32, torch.float64) else 3e-2
    assert _max_diff(y, imresize(x, 0.5)) < tol


def test_gradient_flows():
    x = torch.rand(2, 3, 70, 90, requires_grad=True)
    y = imresize(x, 0.5)
    assert y.requires_grad
    y.square().sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    with torch.no_grad():
        y_no_grad = imresize(x, 0.5)
    assert not y_no_grad.requires_grad and torch.equal(y_no_grad, y.detach())


@pytest.mark.parametrize(
    ("shape", "scale", "antialias"),
    [
        ((2, 150, 97), 1 / 2, True),
        ((1, 45, 70), 2.5, True),
        ((3, 131, 140), (1 / 3, 0.7), True),
        ((1, 90, 80), (0.3, 0.45), False),
    ],
)
def test_backward_is_the_adjoint(shape, scale, antialias):
    """Dot-product test on multi-block sizes: <A u, v> == <u, A^T v> with A^T from backward."""
    gen = torch.Generator().manual_seed(5)
    u = torch.rand(shape, dtype=torch.float64, generator=gen, requires_grad=True)
    y = imresize(u, scale, antialias=antialias)
    v = torch.rand(y.shape, dtype=torch.float64, generator=gen)
    (grad,) = torch.autograd.grad(y, u, v)
    lhs, rhs = (y * v).sum().item(), (u * grad).sum().item()
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_double_backward():
    x = torch.rand(1, 6, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: imresize(t, 0.7), (x,))


@pytest.mark.parametrize("scale", [0.6, 1.5, (0.4, 2.0)])
def test_gradcheck(scale):
    x = torch.rand(1, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, scale), (x,))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.rand(2, 3, 40, 33)
    y = imresize(x.cuda().requires_grad_(), 1 / 3)
    assert y.is_cuda
    torch.testing.assert_close(y.detach().cpu(), imresize(x, 1 / 3), rtol=0, atol=1e-5)
    y.sum().backward()


@pytest.mark.parametrize(
    ("x", "kwargs", "match"),
    [
        (torch.rand(4, 5), {"scale": 0.5}, r"\(C, H, W\) or \(B, C, H, W\), got ndim=2 .*\(4, 5\)"),
        (torch.rand(1, 1, 1, 4, 5), {"scale": 0.5}, r"got ndim=5"),
        (torch.zeros(3, 4, 5, dtype=torch.uint8), {"scale": 0.5}, r"floating-point.*torch\.uint8"),
        (torch.rand(3, 4, 5), {"scale": 0}, r"scale must be .*> 0.*got 0"),
        (torch.rand(3, 4, 5), {"scale": -2.0}, r"scale must be .*got -2\.0"),
        (torch.rand(3, 4, 5), {"scale": float("nan")}, r"scale must be a finite"),
        (torch.rand(3, 4, 5), {"scale": (0.5, 0.0)}, r"scale must be .*\(0\.5, 0\.0\)"),
        (torch.rand(3, 4, 5), {"scale": (0.5, 1, 2)}, r"scale must be"),
        (torch.rand(3, 4, 5), {}, r"expected scale or size, got neither"),
        (torch.rand(3, 4, 5), {"size": (0, 3)}, r">= 1, got .*output \(0, 3\)"),
        (torch.rand(3, 4, 5), {"size": (2.5, 3)}, r"size must be a \(height, width\) pair"),
        (torch.rand(3, 0, 5), {"scale": 0.5}, r">= 1, got input \(H, W\)=\(0, 5\)"),
    ],
)
def test_bad_input_raises(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        imresize(x, **kwargs)


def test_non_tensor_raises_type_error():
    with pytest.raises(TypeError, match=r"expected a torch\.Tensor, got ndarray"):
        imresize(np.zeros((3, 4, 4), dtype=np.float32), 0.5)  # type: ignore[arg-type]


def test_docstring_example():
    module = importlib.import_module("srlab.core.imresize")
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted >= 2 and result.failed == 0
