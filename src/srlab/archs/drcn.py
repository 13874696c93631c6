"""DRCN (Kim, Lee, Lee, CVPR 2016): deeply-recursive convolutional network.

With recursive supervision; pre-upsampling.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["DRCN"]


class DRCN(SRNet):
    """DRCN: one recursively applied convolution, ensembled per-recursion predictions.

    An embedding net, one convolution applied recursively, a shared reconstruction net, and a
    learned ensemble of the per-recursion predictions.

    - Embedding: Conv3x3(C->F)+ReLU, Conv3x3(F->F)+ReLU, giving H_0.
    - Inference: H_d = ReLU(W * H_{d-1} + b) for d = 1..D with **one** convolution (same
      weight tensor at every recursion).
    - Reconstruction, one module shared by all recursions (not D heads):
      Conv3x3(F->F)+ReLU, Conv3x3(F->C); with the skip, y_d = x + recon(H_d).
    - Output: y = sum_d w_d y_d with D learned scalars w_d (initialised to 1/D).

    ``forward`` returns the list ``[y_1, ..., y_D, y]``: the intermediate predictions first and
    the ensemble last, so the framework reports the ensemble (``final_output``) and the loss
    config (``conf/loss/drcn.yaml``, :class:`srlab.losses.DeepSupervision` with ``alpha``)
    supervises all of them: ``alpha * mean_d l(y_d) + (1 - alpha) * l(y)``, alpha decaying
    during training (:class:`srlab.callbacks.LossWeightSchedule`).

    The input is the bicubic-upsampled image (``pre_upsample = True``); one model per scale in
    the paper (the network itself is scale-agnostic).

    Parameter count (Y, F=256, D=16): weights 2,304 + 3 * 589,824 + 2,304 = 1,774,080, the
    paper's "1,774K" (weights only; 16 recursions share one convolution). With the biases
    (1,025) and the 16 ensemble weights: 1,775,121.

    Args:
        scale: upscaling factor (only recorded: the input is already upsampled).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (256).
        num_recursion: D (16).

    Shape:
        ``(B, C, sH, sW) -> list of D + 1 tensors (B, C, sH, sW)``.
    """

    pre_upsample = True
    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {"num_recursions": "num_recursion"}

    def __init__(
        self, scale: int = 3, in_channels: int = 1, num_feat: int = 256, num_recursion: int = 16
    ) -> None:
        super().__init__(scale, in_channels)
        if num_recursion < 1:
            raise ValueError(f"DRCN: num_recursion must be >= 1, got {num_recursion}")
        self.num_recursion = num_recursion
        self.embed = nn.Sequential(
            nn.Conv2d(in_channels, num_feat, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.recursive_conv = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.reconstruct = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(num_feat, in_channels, 3, padding=1),
        )
        self.ensemble_weights = nn.Parameter(torch.full((num_recursion,), 1.0 / num_recursion))

    @override
    def forward(self, x: Tensor) -> list[Tensor]:
        h = self.embed(x)
        preds = []
        for _ in range(self.num_recursion):
            h = torch.relu(self.recursive_conv(h))
            preds.append(x + self.reconstruct(h))
        ensemble = sum(w * y for w, y in zip(self.ensemble_weights, preds))
        return [*preds, ensemble]
