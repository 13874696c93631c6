"""Samplers (srlab.data.sampling): seeded shards of every sample once per epoch, one scale per batch
agreed across ranks, a resumed epoch that is the tail of the uninterrupted one, padded evaluation
shards."""

from __future__ import annotations

import pytest
from torch.utils.data import SequentialSampler

from srlab.data.datasets import MultiScalePatchDataset
from srlab.data.sampling import (
    EvalShardSampler,
    ResumableDataLoader,
    SeededPatchSampler,
    SeededScaleSampler,
)


def test_sampler_shards_every_sample_once_per_epoch():
    data = list(range(30))
    for epoch in (0, 3):
        ranks = []
        for rank in range(2):
            s = SeededPatchSampler(data, num_replicas=2, rank=rank, seed=5)
            s.set_epoch(epoch)
            ranks.append(list(s))
        assert len(ranks[0]) == len(ranks[1]) == 15
        assert sorted(ranks[0] + ranks[1]) == [
            epoch * 30 + i for i in range(30)
        ]  # ids carry the epoch
    a, b = SeededPatchSampler(data, seed=5), SeededPatchSampler(data, seed=5)
    a.set_epoch(1), b.set_epoch(1)
    assert list(a) == list(b) and list(a) != list(range(30, 60))  # seeded and shuffled


class _IdDataset(MultiScalePatchDataset):
    """Returns the index it is asked for: what a loader feeds the dataset, without patches."""

    def __init__(self, length: int) -> None:
        super().__init__({2: object(), 3: object(), 4: object()}, length)

    def __getitem__(self, index):
        scale, sample_id = index
        return {"scale": scale, "id": sample_id}


def _batches(loader) -> list[tuple[int, list[int]]]:
    """``(scale, sample ids)`` of every batch; asserts that each batch holds one scale."""
    out = []
    for b in loader:
        scales = set(b["scale"].tolist())
        assert len(scales) == 1, scales
        out.append((scales.pop(), b["id"].tolist()))
    return out


def _loader(
    ds, batch_size: int, world: int = 1, rank: int = 0, seed: int = 11
) -> ResumableDataLoader:
    sampler = SeededScaleSampler(
        ds, (2, 3, 4), batch_size, num_replicas=world, rank=rank, seed=seed
    )
    return ResumableDataLoader(ds, sampler=sampler, batch_size=batch_size, drop_last=True)


def test_epoch_resumed_after_k_batches_is_the_tail_of_the_uninterrupted_epoch():
    ds = _IdDataset(30)
    full = _loader(ds, 4)
    assert len(full) == 7  # 30 // 4, drop_last
    full.sampler.set_epoch(2)
    epoch = _batches(full)
    assert len(epoch) == 7 and all(len(ids) == 4 for _, ids in epoch)
    assert len({s for s, _ in epoch}) > 1  # the scale changes between batches
    ids = [i for _, b in epoch for i in b]
    assert len(set(ids)) == 28 and all(60 <= i < 90 for i in ids)  # sample ids carry the epoch

    # a fresh process (new loader, new sampler) restored from a checkpoint taken after 3 batches
    for k in (0, 3, 6):
        resumed = _loader(ds, 4)
        resumed.load_state_dict({"epoch": 2, "batches": k})
        resumed.sampler.set_epoch(2)  # Lightning sets the epoch after loading the state
        assert _batches(resumed) == epoch[k:]
        assert resumed.state_dict() == {"epoch": 2, "batches": 7}
        assert _batches(resumed) == epoch  # the next iteration starts from the beginning again

    # another epoch, another seed: other scales and orders; the same seed and epoch: the same
    other = _loader(ds, 4)
    other.sampler.set_epoch(3)
    assert _batches(other) != epoch
    other_seed = _loader(ds, 4, seed=12)
    other_seed.sampler.set_epoch(2)
    assert [s for s, _ in _batches(other_seed)] != [s for s, _ in epoch]


def test_two_ranks_see_every_slot_once_with_one_scale_per_batch_agreed_across_ranks():
    ds = _IdDataset(48)
    for epoch in (0, 5):
        ranks = []
        for rank in range(2):
            loader = _loader(ds, 4, world=2, rank=rank)
            assert len(loader) == 6  # 48 / 2 ranks / batch 4
            loader.sampler.set_epoch(epoch)
            ranks.append(_batches(loader))
        ids = [i for r in ranks for _, b in r for i in b]
        assert sorted(ids) == [epoch * 48 + i for i in range(48)]  # every slot once, across ranks
        assert [s for s, _ in ranks[0]] == [
            s for s, _ in ranks[1]
        ]  # step b: one scale on every rank
        assert {s for s, _ in ranks[0]} <= {2, 3, 4}


def test_overfit_batches_sequential_sampler_keeps_one_scale_per_batch():
    # trainer.overfit_batches: Lightning re-creates the loader with a SequentialSampler
    ds = _IdDataset(12)
    loader = ResumableDataLoader(ds, sampler=SequentialSampler(ds), batch_size=4, drop_last=True)
    first = _batches(loader)  # one scale per batch (asserted), slots in order
    assert [ids for _, ids in first] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert _batches(loader) == first  # the same batches every epoch


# ---------------------------------------------------------------------- in one process (fast)
@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_eval_shards_hold_every_image_once_and_the_same_number_of_steps(n, world):
    shards = [list(EvalShardSampler(range(n), num_replicas=world, rank=r)) for r in range(world)]
    assert len({len(s) for s in shards}) == 1  # every rank runs the same number of steps
    real = sorted(i for s in shards for i, pad in s if not pad)
    assert real == list(range(n))  # each image exactly once
    assert all(0 <= i < n for s in shards for i, _ in s)  # padding repeats a real image
