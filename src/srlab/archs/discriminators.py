"""Discriminators of the GAN super-resolution models (SRGAN, ESRGAN).

VGG-style classifiers of HR patches whose dense head fixes the input size.

Both return one logit per image, shape ``(B, 1)``: the paper's final sigmoid is applied inside
the adversarial losses (``binary_cross_entropy_with_logits``), which is the same function computed
stably, and the relativistic loss of ESRGAN needs the logits anyway.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn
from typing_extensions import override

__all__ = ["Discriminator", "SRGANDiscriminator", "VGGDiscriminator", "check_disc_input"]


def check_disc_input(name: str, x: Tensor, in_channels: int, input_size: int) -> None:
    """Raise a ``ValueError`` naming the expected and the given input size."""
    if x.ndim != 4 or x.shape[1] != in_channels or tuple(x.shape[-2:]) != (input_size, input_size):
        raise ValueError(
            f"{name} was built for (B, {in_channels}, {input_size}, {input_size}) inputs "
            f"(input_size={input_size}: its dense layer fixes the size), got {tuple(x.shape)}; "
            f"the HR patch size (data.patch_size * scale, or data.hr_patch_size) must equal "
            f"model.discriminator.input_size"
        )


def _check_size(name: str, input_size: int, factor: int) -> int:
    if int(input_size) != input_size or input_size < factor or input_size % factor:
        raise ValueError(
            f"{name}: input_size must be a positive multiple of {factor} (it is halved "
            f"{factor.bit_length() - 1} times), got {input_size!r}"
        )
    return int(input_size)


class Discriminator(nn.Module):
    """Base class of the GAN discriminators: what the framework reads from one.

    - ``input_size``: side of the square HR patches it takes (its dense head fixes it);
      ``srlab-train`` fills ``input_size: null`` in a config with the HR patch size of the data.
    - ``in_channels``: channels of those patches (3 for RGB).

    ``forward(x)`` returns one logit per image, shape ``(B, 1)``. Subclassing it is what makes a
    class a discriminator that configs and checkpoints may name
    (:func:`srlab.utils.network_classes`); like :class:`~srlab.archs.base.SRNet` it adds no
    behaviour.

    Args:
        input_size: side of the square input patches.
        in_channels: channels of the input patches.
    """

    def __init__(self, input_size: int, in_channels: int) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.in_channels = int(in_channels)


class SRGANDiscriminator(Discriminator):
    """SRGAN's discriminator (Ledig et al. 2017).

    Eight Conv3x3 + LeakyReLU(0.2) layers with ``n, n, 2n, 2n, 4n, 4n, 8n, 8n`` channels
    (n = 64) and strides 1, 2, 1, 2, ...; batch norm on all but the first; then Dense(1024),
    LeakyReLU(0.2), Dense(1). Convolutions followed by BN have no bias (it would be cancelled by
    BN). A 96x96 input ends as 6x6x512, so the dense layer fixes the input size.

    Parameter count (96x96 RGB input): 23,563,649 (the dense layer holds 18.9M of them).

    Args:
        input_size: side of the square HR patches (96 in the paper); a multiple of 16.
        in_channels: 3 (RGB).
        num_feat: channels of the first layers (64).
        num_dense_ch: width of the hidden dense layer (1024).

    Shape:
        ``(B, C, input_size, input_size) -> (B, 1)`` logits.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_dense": "num_dense_ch"}

    def __init__(
        self,
        input_size: int = 96,
        in_channels: int = 3,
        num_feat: int = 64,
        num_dense_ch: int = 1024,
    ) -> None:
        super().__init__(_check_size(type(self).__name__, input_size, 16), in_channels)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_feat, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        cin = num_feat
        for i in range(1, 8):
            cout = num_feat * 2 ** (i // 2)
            stride = 2 if i % 2 else 1
            layers += [
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        side = self.input_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, num_dense_ch),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(num_dense_ch, 1),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        check_disc_input(type(self).__name__, x, self.in_channels, self.input_size)
        return self.classifier(self.features(x))


class VGGDiscriminator(Discriminator):
    """ESRGAN's discriminator ("VGG128" in its code).

    conv0_0: Conv3x3(C->n) with bias + LeakyReLU(0.2); conv0_1: Conv4x4 stride 2; then four
    [Conv3x3 s1, Conv4x4 s2] pairs at ``2n, 4n, 8n, 8n`` channels (n = 64). Every convolution
    after conv0_0 is bias-free with BN + LeakyReLU(0.2). 128 px -> 4 px, then
    Linear(8n*4*4 -> 100), LeakyReLU(0.2), Linear(100 -> 1).

    Parameter count (128x128 RGB input): 14,499,401 (measured; the paper gives none).

    Args:
        input_size: side of the square HR patches (128 in the paper); a multiple of 32.
        in_channels: 3 (RGB).
        num_feat: channels of the first layers (64).
        num_dense_ch: width of the hidden dense layer (100).

    Shape:
        ``(B, C, input_size, input_size) -> (B, 1)`` logits.
    """

    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_dense": "num_dense_ch"}

    def __init__(
        self,
        input_size: int = 128,
        in_channels: int = 3,
        num_feat: int = 64,
        num_dense_ch: int = 100,
    ) -> None:
        super().__init__(_check_size(type(self).__name__, input_size, 32), in_channels)

        def conv_bn(cin: int, cout: int, k: int, s: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, k, stride=s, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, inplace=True),
            ]

        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_feat, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        layers += conv_bn(num_feat, num_feat, 4, 2)
        cin = num_feat
        for mult in (2, 4, 8, 8):
            cout = num_feat * mult
            layers += conv_bn(cin, cout, 3, 1) + conv_bn(cout, cout, 4, 2)
            cin = cout
        self.features = nn.Sequential(*layers)
        side = self.input_size // 32
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, num_dense_ch),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(num_dense_ch, 1),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        check_disc_input(type(self).__name__, x, self.in_channels, self.input_size)
        return self.classifier(self.features(x))
