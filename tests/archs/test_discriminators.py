"""Discriminators (SRGAN, ESRGAN's VGG-style): input size, logits, checks."""

import pytest
import torch

from srlab.archs import SRGANDiscriminator, VGGDiscriminator


@pytest.mark.parametrize(("cls", "size"), [(SRGANDiscriminator, 96), (VGGDiscriminator, 128)])
def test_discriminator_default_size_and_logits(cls, size):
    d = cls(num_feat=4, num_dense_ch=8)
    assert d.input_size == size
    assert d(torch.rand(3, 3, size, size)).shape == (3, 1)


def test_discriminator_input_size_follows_patch_and_is_checked():
    d = SRGANDiscriminator(input_size=32, num_feat=4, num_dense_ch=8)
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    assert d.classifier[1].in_features == 8 * 4 * 2 * 2  # 32 px -> 2 px, 8n channels
    with pytest.raises(
        ValueError, match=r"built for \(B, 3, 32, 32\) inputs .* got \(2, 3, 48, 48\)"
    ):
        d(torch.rand(2, 3, 48, 48))
    with pytest.raises(ValueError, match="multiple of 16"):
        SRGANDiscriminator(input_size=40)
    with pytest.raises(ValueError, match="multiple of 32"):
        VGGDiscriminator(input_size=80)
    e = VGGDiscriminator(input_size=64, num_feat=4, num_dense_ch=8)
    assert e.classifier[1].in_features == 32 * 2 * 2
    with pytest.raises(ValueError, match="input_size=64"):
        e(torch.rand(1, 3, 128, 128))
