"""CMSC against the paper's architecture figure (arXiv:1802.08808, "(a) The architecture of the
proposed CMSC network", "(b) The architecture of each cascaded subnetwork in CMSC network"),
written out here from the modules' own convolutions."""

from __future__ import annotations

import torch

from srlab.archs import CMSC
from srlab.archs.cmsc import MSCModule


def _branch(module: MSCModule, which: int, x: torch.Tensor) -> torch.Tensor:
    convs = [
        m
        for m in (module.branch1 if which == 1 else module.branch2)
        if isinstance(m, torch.nn.Conv2d)
    ]
    for conv in convs:  # pre-activated: ReLU -> conv, twice
        x = conv(torch.relu(x))
    return x


def figure_forward(net: CMSC, x: torch.Tensor) -> list[torch.Tensor]:
    feat = net.head(x)  # (a) features extraction
    preds = []
    for stage, recon in zip(net.stages, net.reconstruct):
        a = b = stage.entry(feat)  # (b) the subnetwork's first conv starts both streams
        for i, module in enumerate(stage.msc):
            m = (a + b) / 2  # the middle node: the two streams merged
            up, low = _branch(module, 1, a), _branch(module, 2, b)
            if i < len(stage.msc) - 1:
                a, b = m + up, m + low
            else:  # the last module: its branch outputs and the merged node meet the skip
                feat = feat + (up + m + low)
        conv = next(m for m in recon if isinstance(m, torch.nn.Conv2d))
        preds.append(x + conv(torch.relu(feat)))  # (a) one reconstruction conv per stage + input
    w = net.assembly_weights
    return [*preds, sum(wi * p for wi, p in zip(w, preds))]


def test_cmsc_is_the_papers_figure():
    torch.manual_seed(0)
    net = CMSC(scale=[2, 3, 4], num_feat=6, num_stage=3, num_module=3).eval()
    with torch.no_grad():
        net.assembly_weights.copy_(torch.tensor([0.2, 0.3, 0.5]))
        x = torch.rand(2, 1, 11, 13)
        got, want = net(x, scale=3), figure_forward(net, x)
    assert len(got) == 4
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)


def test_reconstruction_convs_are_per_stage_and_stage_skip_is_from_its_input():
    net = CMSC(num_feat=4, num_stage=2, num_module=1)
    r0, r1 = (m[1].weight for m in net.reconstruct)
    assert r0 is not r1 and r0.data_ptr() != r1.data_ptr()
    # zeroing stage 2 leaves its features equal to stage 1's (skip from its own input)
    with torch.no_grad():
        for p in net.stages[1].parameters():
            p.zero_()
        net.reconstruct[1].load_state_dict(net.reconstruct[0].state_dict())
        x = torch.rand(1, 1, 8, 8)
        y1, y2, _ = net(x)
    torch.testing.assert_close(y1, y2)
