"""The one integer upscaler of srlab (MATLAB bicubic): exact against the NumPy reference, used by
imresize itself, traceable with symbolic sizes, invisible to the MAC counter and to autocast."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from srlab.core.imresize import bicubic_upscale, imresize
from srlab.data.imresize_reference import imresize_numpy


def _reference(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The NumPy reference on ``(..., H, W)``, image by image (float64)."""
    flat = x.detach().double().reshape(-1, *x.shape[-2:]).numpy()
    out = np.stack([imresize_numpy(img[..., None], scale)[..., 0] for img in flat])
    return torch.from_numpy(out).reshape(*x.shape[:-2], *out.shape[-2:])


@pytest.mark.parametrize("scale", [2, 3, 4, 8])
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (2, 3), (7, 9), (3, 6, 4), (2, 3, 11, 8)])
def test_matches_the_numpy_reference(shape, scale):
    """Tiny axes too: a 1- or 2-pixel axis mirrors onto itself (MATLAB's modulo indexing)."""
    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = bicubic_upscale(x, scale)
    assert y.shape == (*shape[:-2], shape[-2] * scale, shape[-1] * scale)
    torch.testing.assert_close(y, _reference(x, scale), rtol=0, atol=1e-12)


def test_imresize_upscales_integer_factors_through_it():
    x = torch.rand(2, 3, 9, 7, generator=torch.Generator().manual_seed(1))
    for s in (2, 3, 4):
        assert torch.equal(imresize(x, s), bicubic_upscale(x, s))
        assert torch.equal(imresize(x, (s, s)), bicubic_upscale(x, s))
    # one integer axis: that pass is the same phase form (the other one the banded form)
    mixed = imresize(x.double(), (0.5, 3.0))
    torch.testing.assert_close(mixed, imresize(imresize(x.double(), (0.5, 1.0)), (1.0, 3.0)))
    assert bicubic_upscale(x, 1) is x


def test_differs_from_torch_bicubic():
    """PyTorch's bicubic (a = -0.75, replicated border) is another kernel: the reason for ours."""
    x = torch.rand(1, 3, 7, 9, dtype=torch.float64)
    torch_bic = torch.nn.functional.interpolate(
        x, scale_factor=4, mode="bicubic", align_corners=False
    )
    assert (torch_bic - bicubic_upscale(x, 4)).abs().max() > 1e-3


def test_trace_keeps_sizes_symbolic():
    """Traced at one size, run at another: the export of networks and input rules needs this."""

    def up3(t: torch.Tensor) -> torch.Tensor:
        return bicubic_upscale(t, 3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(up3, torch.rand(1, 2, 6, 8), check_trace=False)
    x = torch.rand(2, 2, 11, 5)
    torch.testing.assert_close(traced(x), bicubic_upscale(x, 3), rtol=0, atol=0)


def test_not_counted_as_macs_and_runs_on_meta():
    """Networks' own bicubic (EnhanceNet, IDN, BTSRN, SelNet) is no layer of theirs: srlab.macs
    counts on the meta device with FlopCounterMode, which must see no arithmetic here."""
    x = torch.empty(1, 3, 240, 320, device="meta")
    with FlopCounterMode(display=False) as counter:
        y = bicubic_upscale(x, 4)
    assert y.shape == (1, 3, 960, 1280) and y.device.type == "meta"
    assert counter.get_total_flops() == 0


def test_full_precision_under_autocast():
    """A residual network adds it to its output: mixed precision must not round it to bf16."""
    x = torch.rand(1, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = bicubic_upscale(x, 2)
    assert y.dtype == torch.float32
    assert torch.equal(y, bicubic_upscale(x, 2))


def test_gradient_is_the_adjoint():
    gen = torch.Generator().manual_seed(3)
    u = torch.rand(2, 5, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    y = bicubic_upscale(u, 3)
    v = torch.rand(y.shape, dtype=torch.float64, generator=gen)
    (grad,) = torch.autograd.grad(y, u, v)
    assert abs((y * v).sum().item() - (u * grad).sum().item()) <= 1e-10 * (y * v).sum().item()


@pytest.mark.parametrize("scale", [0, -2, 2.5, float("nan"), True, "2"])
def test_bad_scale_raises(scale):
    with pytest.raises(ValueError, match="scale must be a positive integer"):
        bicubic_upscale(torch.rand(1, 4, 4), scale)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match=r"expected \(\.\.\., H, W\)"):
        bicubic_upscale(torch.rand(5), 2)
