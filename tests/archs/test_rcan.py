"""RCAN: the paper's depth, 10 residual groups of 20 residual channel-attention blocks."""

import torch

from srlab.archs import RCAN


def test_rcan_has_the_papers_depth():
    with torch.device("meta"):
        rcan = RCAN(scale=2)
    # the 10 groups (each 20 RCABs and its closing conv), then the trunk's closing conv
    assert len(rcan.body) == 11 and all(len(g.body) == 21 for g in list(rcan.body)[:10])
