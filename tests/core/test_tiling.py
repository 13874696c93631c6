"""Tiled forward passes (seam-free blending, every kind of network) and the x8 self-ensemble."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from srlab.core.tiling import self_ensemble, tile_starts, tiled_forward
from srlab.errors import SRLabError
from srlab.inference import sr_forward
from tests.helpers import small_model


def _nearest(t):
    return F.interpolate(t, scale_factor=2, mode="nearest")


@pytest.mark.parametrize(
    "h,w,tile,overlap", [(37, 50, 16, 4), (33, 33, 12, 5), (20, 61, 19, 9), (9, 40, 10, 0)]
)
def test_blend_weights_sum_to_one_and_cover_everything(h, w, tile, overlap):
    # an exact per-pixel fn: any error in the windows, the normaliser or the crops shows up
    x = torch.rand(1, 3, h, w)
    out = tiled_forward(_nearest, x, 2, tile, overlap, context=3)
    assert torch.allclose(out, _nearest(x), atol=1e-6)
    starts, size = tile_starts(w, tile, overlap)
    assert starts[0] == 0 and starts[-1] + size == w and size <= tile
    assert all(b - a <= size - overlap for a, b in itertools.pairwise(starts))  # shared >= overlap


def test_truncated_receptive_field_blends_without_seams():
    # a 21x21 box blur sees further than context + overlap/2, so tiles differ from the whole
    # image; blending keeps that difference small and smooth, hard-cut tiles leave steps
    def blur(t):
        return _nearest(F.avg_pool2d(F.pad(t, (10,) * 4, mode="replicate"), 21, stride=1))

    torch.manual_seed(0)
    x = torch.rand(1, 1, 64, 64)
    whole = blur(x)
    blended = (tiled_forward(blur, x, 2, tile=24, overlap=8, context=2) - whole)[0, 0]
    hard = (tiled_forward(blur, x, 2, tile=24, overlap=0, context=0) - whole)[0, 0]

    def step(d):  # the largest jump between neighbouring pixels: a seam
        return max(d.diff(dim=0).abs().max(), d.diff(dim=1).abs().max())

    assert blended.abs().max() < hard.abs().max() / 3
    assert step(blended) < step(hard) / 5


def test_self_ensemble_is_equivariant_and_exact_for_equivariant_fns():
    model = small_model("edsr")
    x = torch.rand(1, 3, 12, 17)
    with torch.inference_mode():
        a = model.forward_x8(x)
        b = model.forward_x8(x.flip(-1)).flip(-1)
        c = model.forward_x8(x.transpose(-1, -2)).transpose(-1, -2)
        plain = model(x)
    assert a.shape == plain.shape
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5)
    assert not torch.allclose(a, plain, atol=1e-4)  # a random net is not equivariant
    assert torch.allclose(self_ensemble(_nearest, x), _nearest(x), atol=1e-6)
    # tiling and the ensemble combine
    with torch.inference_mode():
        t = sr_forward(model, torch.rand(1, 3, 40, 41), tile=16, overlap=4, ensemble=True)
    assert t.shape == (1, 3, 80, 82)


def test_overlap_must_be_less_than_half_the_tile():
    with pytest.raises(SRLabError, match="less than half"):
        tiled_forward(_nearest, torch.rand(1, 3, 40, 40), 2, tile=16, overlap=8)
