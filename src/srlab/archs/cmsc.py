"""CMSC (Hu et al., arXiv 2018): cascaded multi-scale cross network (pre-upsampling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, cast

import torch
from torch import Tensor, nn
from typing_extensions import override

from .base import SRNet

__all__ = ["CMSC", "MSCModule"]


def _branch(num_feat: int, kernel_size: int) -> nn.Sequential:
    """Two pre-activated convolutions ``Conv(ReLU(Conv(ReLU(x))))`` of one kernel size."""
    pad = kernel_size // 2
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(num_feat, num_feat, kernel_size, padding=pad),
        nn.ReLU(inplace=True),
        nn.Conv2d(num_feat, num_feat, kernel_size, padding=pad),
    )


class MSCModule(nn.Module):
    """Multi-scale cross module: two branches that exchange features by merge-and-run.

    The branches have different receptive fields (3x3 and 5x5 convolutions):
    ``m = (a + b) / 2``; ``a' = m + branch_3x3(a)``; ``b' = m + branch_5x5(b)``.

    Each branch sees its own stream, and the merged streams are the skip of both, so the
    multi-scale information crosses at every module and the skips keep the information flowing
    (local residual learning). This is the module of the paper's subnetwork figure (two stacked
    convs per branch, a middle sum fed to both branch outputs); the figure draws the merge as a
    sum; the average is that of the merge-and-run mapping (Zhao et al.), which summaries of the
    paper name as the MSC module's model.

    Shape:
        ``((B, F, H, W), (B, F, H, W)) -> ((B, F, H, W), (B, F, H, W))``.
    """

    def __init__(self, num_feat: int = 64, kernel_sizes: tuple[int, int] = (3, 5)) -> None:
        super().__init__()
        k1, k2 = kernel_sizes
        if k1 % 2 == 0 or k2 % 2 == 0:
            raise ValueError(f"MSCModule: kernel sizes must be odd, got {kernel_sizes}")
        self.branch1 = _branch(num_feat, k1)
        self.branch2 = _branch(num_feat, k2)

    def parts(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(m, branch_1(a), branch_2(b))``: the merged streams and the two branch outputs."""
        return 0.5 * (a + b), self.branch1(a), self.branch2(b)

    @override
    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        merged, out1, out2 = self.parts(a, b)
        return merged + out1, merged + out2


class _Stage(nn.Module):
    """One cascaded subnetwork without its skip (the paper's subnetwork figure).

    An entry Conv3x3(F->F) whose output starts both streams, M MSC modules, and the sum of the
    last module's merged streams and its two branch outputs (the residual features).
    """

    def __init__(self, num_feat: int, num_module: int, kernel_sizes: tuple[int, int]) -> None:
        super().__init__()
        self.entry = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.msc = nn.ModuleList([MSCModule(num_feat, kernel_sizes) for _ in range(num_module)])

    @override
    def forward(self, x: Tensor) -> Tensor:
        a = b = self.entry(x)
        for module in self.msc[:-1]:
            a, b = module(a, b)
        merged, out1, out2 = cast(MSCModule, self.msc[-1]).parts(a, b)
        return merged + out1 + out2


class CMSC(SRNet):
    """CMSC: a cascade of S subnetworks of M MSC modules with a weighted assembly of S estimates.

    A feature conv, the S subnetworks, one reconstruction conv per subnetwork, and a learned
    weighted assembly of the S intermediate predictions.

    The topology follows the paper's architecture figure (arXiv:1802.08808; captions "(a) The
    architecture of the proposed CMSC network", "(b) The architecture of each cascaded subnetwork
    in CMSC network"; reproduced in ``xultaeculcis/super-resolution``
    ``app/assets/architectures/CMSC.png``):

    - Feature extraction: Conv3x3(C->F) on the bicubic-upsampled image, giving f_0.
    - Subnetwork s (coarse to fine), figure (b): an entry conv, M MSC modules on two streams
      started from its output (:class:`MSCModule`), and the sum of the last module's merged
      streams and branch outputs; a skip from the subnetwork's input to its output, so each
      stage learns residual features: ``f_s = f_{s-1} + stage_s(f_{s-1})``.
    - Reconstruction, figure (a): a conv of its own for every stage (drawn in three colours),
      ReLU -> Conv3x3(F->C), and the interpolated input added: ``y_s = x + recon_s(f_s)``.
    - Output: ``y = sum_s w_s y_s`` with S learned scalars (initialised to 1/S).

    ``forward`` returns ``[y_1, ..., y_S, y]`` (the assembly last, which the framework reports);
    cascaded supervision of every estimate plus the assembly is the loss config's job
    (``conf/loss/cmsc.yaml``). One model serves x2, x3 and x4 (multi-scale contract of
    :mod:`srlab.archs.base`, like VDSR). Defaults S=3, M=5, F=64 give the depth 35 of the
    survey table below (1 + 3 x (1 + 2 x 5) + 1).

    UNVERIFIED (the paper's Section III, which states them, could not be read; there is no
    reference code): the branch kernels (3x3 / 5x5), the widths, S and M, the ReLUs before the
    branch and reconstruction convs (the figure draws no activations), the averaged merge,
    whether the reconstruction convs are really separate. Parameter count
    with these defaults (Y, weights and biases): 640 + 3 x (36,928 + 5 x 278,784) + 3 x 577 + 3
    = 4,294,918.

    That is 3.5 times the 1.22M listed for CMSC (issue 14). The 1.22M comes from the table of
    Anwar, Khan & Barnes' survey ("A Deep Journey into Super-resolution", ACM CSUR 2020;
    ``saeed-anwar/SRsurvey`` ``Figs/parameters.PNG``: depth 35, 64 filters, 1220k), which is
    exactly a plain chain of 35 3x3 64-filter convolutions (640 + 33 x 36,928 + 577 =
    1,219,841), not a count of the figure's topology: with these two-conv branches even 3x3
    kernels in both would hold 2,328,838 parameters. Which of the widths, kernels, S or M the
    paper sets differently is not known here; a configuration tuned only to hit the number would
    be a guess dressed up as fidelity, so the defaults stay until Section III is checked.

    Args:
        scale: default scale, or the list of scales (``data.scale``).
        in_channels: 1 (Y, the paper) or 3.
        num_feat: F (64).
        num_stage: S, cascaded sub-networks (3).
        num_module: M, MSC modules per sub-network (5).
        kernel_sizes: kernels of the two branches ((3, 5)).
        scales: scales the model serves (``None``: those of ``scale``).

    Shape:
        ``(B, C, sH, sW) -> list of S + 1 tensors (B, C, sH, sW)`` (input already upsampled).
    """

    pre_upsample = True
    scale_agnostic = True
    #: constructor arguments renamed since checkpoints were written (old name -> new name)
    renamed_args: ClassVar[dict[str, str]] = {
        "num_stages": "num_stage",
        "num_modules": "num_module",
    }

    def __init__(
        self,
        scale: int | Sequence[int] = 3,
        in_channels: int = 1,
        num_feat: int = 64,
        num_stage: int = 3,
        num_module: int = 5,
        kernel_sizes: Sequence[int] = (3, 5),
        scales: Sequence[int] | None = None,
    ) -> None:
        super().__init__(scale, in_channels, scales=scales)
        if num_stage < 1 or num_module < 1:
            raise ValueError(
                f"CMSC: num_stage and num_module must be >= 1, got {num_stage}, {num_module}"
            )
        ks = tuple(int(k) for k in kernel_sizes)
        if len(ks) != 2:
            raise ValueError(f"CMSC: kernel_sizes must give two kernels, got {kernel_sizes}")
        self.head = nn.Conv2d(in_channels, num_feat, 3, padding=1)
        self.stages = nn.ModuleList([_Stage(num_feat, num_module, ks) for _ in range(num_stage)])
        self.reconstruct = nn.ModuleList(
            [
                nn.Sequential(nn.ReLU(), nn.Conv2d(num_feat, in_channels, 3, padding=1))
                for _ in range(num_stage)
            ]
        )
        self.assembly_weights = nn.Parameter(torch.full((num_stage,), 1.0 / num_stage))

    @override
    def forward(self, x: Tensor, scale: int | None = None) -> list[Tensor]:
        self.resolve_scale(scale)
        feat = self.head(x)
        preds = []
        for stage, reconstruct in zip(self.stages, self.reconstruct):
            feat = feat + stage(feat)
            preds.append(x + reconstruct(feat))
        assembled = sum(w * y for w, y in zip(self.assembly_weights, preds))
        return [*preds, assembled]
