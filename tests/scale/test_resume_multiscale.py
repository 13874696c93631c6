"""Multi-scale training (one scale per batch) with the single-scale guarantees: seeded scale and
patch draws, a mid-epoch resume that sees the tail of the epoch, and DDP sharding."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DistributedSampler, SequentialSampler

from srlab.data import SRDataModule
from srlab.data.datasets import MultiScalePatchDataset
from srlab.data.sampling import ResumableDataLoader, SeededScaleSampler

from .helpers import kill_and_resume, tiny_overrides
from .helpers import weights as _weights


def _multiscale_overrides(train_dir, val_dir, epochs: int = 2, samples: int = 32) -> list[str]:
    """A tiny MDSR x2/x3 run: 8x8 LR patches, batch 4, ``samples / 4`` steps an epoch."""
    base = [
        o
        for o in tiny_overrides(train_dir, val_dir, epochs, samples)
        if not o.startswith("data.scale=")
    ]
    return [
        *base,
        "model/net=mdsr",
        "data.scale=[2,3]",
        "model.net.scales=[2,3]",
        "model.net.num_block=1",
    ]


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


def test_datamodule_multiscale_loader_is_seeded_and_resumable(image_folder, monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "5")
    hr = image_folder(sizes=((48, 60), (72, 48)))

    def epoch_of(state=None):
        dm = SRDataModule(
            [2, 3, 4], train_dir=str(hr), patch_size=6, batch_size=3, samples_per_epoch=18
        )
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert isinstance(loader.sampler, SeededScaleSampler) and len(loader) == 6
        if state is not None:
            loader.load_state_dict(state)
        loader.sampler.set_epoch(1)
        return [(int(b["scale"][0]), b["hr"]) for b in loader]

    full, tail = epoch_of(), epoch_of({"epoch": 1, "batches": 2})
    assert len(tail) == 4
    for (sa, ha), (sb, hb) in zip(full[2:], tail):
        assert sa == sb and ha.shape[-1] == 6 * sa and torch.equal(ha, hb)  # the same patches

    # under DDP: Lightning keeps a DistributedSampler as it is (no batch_sampler to re-create);
    # each rank's loader (rank from the trainer) yields its half, in batches of one scale
    ranks = []
    for rank in range(2):
        dm = SRDataModule(
            [2, 3, 4], train_dir=str(hr), patch_size=6, batch_size=3, samples_per_epoch=18
        )
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert (
            isinstance(loader.sampler, DistributedSampler)
            and loader.batch_size == 3
            and len(loader) == 3
        )
        loader.sampler.set_epoch(0)
        ranks.append([(int(b["scale"][0]), b["hr"].shape[-1]) for b in loader])
    assert [s for s, _ in ranks[0]] == [s for s, _ in ranks[1]] and all(
        w == 6 * s for s, w in ranks[0]
    )


@pytest.mark.slow  # two runs and a subprocess: ~30 s on a busy 2-core machine
def test_killed_multiscale_run_resumes_to_the_same_result(tmp_path, image_folder):
    train_dir = image_folder("hr", sizes=((40, 48), (36, 44), (48, 40)))
    val_dir = image_folder("val", sizes=((36, 48),))
    # 2 epochs x 8 steps of random x2/x3 batches; a checkpoint every 5 steps; SIGKILL after step 11
    base = _multiscale_overrides(train_dir, val_dir, epochs=2) + [
        "callbacks.step_checkpoint.every_n_train_steps=5",
        "callbacks=[default,ema]",
        "callbacks.ema.decay=0.9",
    ]
    metrics, resumed, full_last, last = kill_and_resume(tmp_path, base)
    a, b = _weights(full_last), _weights(last)  # EMA weights
    assert a.keys() == b.keys()
    for k in a:  # scales, patches, optimiser, scheduler, EMA and step all restored
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-7)
    psnr = [k for k in metrics if k.startswith("val/psnr")]
    assert psnr
    for k in psnr:
        assert abs(resumed[k] - metrics[k]) < 1e-4, (k, resumed[k], metrics[k])
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 16
