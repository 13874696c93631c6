"""Resumable, rank-sharded sampling of random training patches.

Random patches make a training epoch a budget of ``samples_per_epoch`` draws. To make a run
that is killed mid-epoch and resumed from its last checkpoint see *the same* patches as an
uninterrupted run, nothing here depends on the global RNG's state at the time a batch is drawn:

- :class:`SeededPatchSampler` (a :class:`~torch.utils.data.DistributedSampler`, so Lightning
  neither replaces nor wraps it under DDP) shuffles the epoch's sample slots with a generator
  seeded by ``(seed, epoch)``, gives each rank every ``num_replicas``-th slot, and yields
  *sample ids* ``epoch * len(dataset) + slot``; a dataset seeded with the same seed draws the
  patch of a sample id from a generator seeded by ``(seed, id)``
  (:class:`srlab.data.PatchDataset` with ``seed=``).
- :class:`SeededScaleSampler` (multi-scale training: MDSR, CARN, VDSR) is the same sampler
  yielding ``(scale, sample_id)``: the scale of batch ``b`` of epoch ``e`` is a function of
  ``(seed, e, b)``, identical on every rank, so each rank's batch holds one scale and at each
  step all ranks train the same scale (the global batch is one scale, as in a one-process run,
  and no rank waits for a bigger-scale batch of another).
- :class:`ResumableDataLoader` implements Lightning's ``state_dict``/``load_state_dict`` loader
  protocol: the checkpoint stores how many batches of the current epoch were consumed, and the
  first iteration after a resume skips them at the sampler (no patches are cut for them).

- :class:`EvalShardSampler` + :class:`PaddedEvalDataset` (validation and test under DDP): each
  image is evaluated by exactly one rank, and every rank runs the same number of steps (the
  short shards are padded with items flagged ``pad``, which the module skips), so no rank
  leaves the evaluation loop early and the metrics are the exact mean over the set.

Hand-written: torch's ``DistributedSampler`` has the sharding but neither sample ids that
carry the epoch nor a resume offset, and Lightning ships no resumable sampler.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, SequentialSampler

__all__ = [
    "SeededPatchSampler",
    "SeededScaleSampler",
    "SequentialScaleSampler",
    "ResumableDataLoader",
    "sample_generator",
    "EvalShardSampler",
    "PaddedEvalDataset",
]

_MIX = 0x9E3779B97F4A7C15  # 64-bit golden-ratio constant: spreads (seed, id) over the seed space


def sample_generator(seed: int, sample_id: int) -> torch.Generator:
    """The random generator of one training sample: a function of ``(seed, sample_id)`` only."""
    return torch.Generator().manual_seed((int(seed) * _MIX + int(sample_id)) % (2**63 - 1))


class SeededPatchSampler(DistributedSampler[int]):
    """Shuffled, rank-sharded sample ids of a random-patch dataset (see the module docstring).

    Args:
        dataset: the patch dataset (its length is the epoch budget).
        num_replicas, rank: the DDP world size and this process's rank (1 and 0 alone).
        seed: the shuffle and patch seed; every rank must use the same.
    """

    def __init__(
        self, dataset: Dataset[Any], num_replicas: int = 1, rank: int = 0, seed: int = 0
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.skip = 0  # indices of this epoch already consumed before a resume

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        offset = self.epoch * n
        skip, self.skip = self.skip, 0
        for k, slot in enumerate(super().__iter__()):
            if k >= skip:
                yield offset + slot


def _batch_scales(seed: int, epoch: int, batches: int, scales: Sequence[int]) -> list[int]:
    """The scales of the ``batches`` batches of an epoch: a function of ``(seed, epoch)``."""
    # negative stream ids: never the generator of a patch (sample ids are >= 0)
    g = sample_generator(seed, -1 - epoch)
    return [scales[k] for k in torch.randint(len(scales), (batches,), generator=g).tolist()]


class SeededScaleSampler(SeededPatchSampler):
    """:class:`SeededPatchSampler` for multi-scale training: yields ``(scale, sample_id)``.

    There is **one** scale per run of ``batch_size`` consecutive indices of this rank (one batch
    of a loader with the same ``batch_size``). The scale of batch ``b`` of epoch ``e`` is drawn
    uniformly from ``scales`` by a generator of ``(seed, e)`` alone: the same on every rank and
    after a resume. Feed it to a :class:`ResumableDataLoader` over a
    :class:`~srlab.data.datasets.MultiScalePatchDataset`.

    Args:
        dataset: the multi-scale patch dataset (its length is the epoch budget, all scales).
        scales: the scales to draw from.
        batch_size: the loader's batch size (the scale changes only between batches).
        num_replicas, rank, seed: as :class:`SeededPatchSampler`.
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        scales: Sequence[int],
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, seed=seed)
        if not scales:
            raise ValueError("SeededScaleSampler needs at least one scale")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.scales = tuple(int(s) for s in scales)
        self.batch_size = int(batch_size)

    def batch_scales(self) -> list[int]:
        """The scale of every batch of this epoch (the same list on every rank)."""
        return _batch_scales(
            self.seed, self.epoch, math.ceil(self.num_samples / self.batch_size), self.scales
        )

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        scales = self.batch_scales()
        start = self.skip  # read before the parent's iterator consumes (and clears) it
        for k, sample_id in enumerate(super().__iter__(), start=start):
            yield scales[k // self.batch_size], sample_id


class SequentialScaleSampler(Sampler[tuple[int, int]]):
    """Slots ``0..n-1`` in order as ``(scale, slot)``: the same batches every epoch.

    The scale of batch ``b`` is that of batch ``b`` of epoch 0 of :class:`SeededScaleSampler`.
    What a :class:`ResumableDataLoader` over a multi-scale dataset uses when Lightning swaps its
    sampler for a ``SequentialSampler`` (``trainer.overfit_batches``).
    """

    def __init__(
        self, dataset: Dataset[Any], scales: Sequence[int], batch_size: int, seed: int = 0
    ) -> None:
        self.dataset, self.scales, self.batch_size, self.seed = (
            dataset,
            tuple(scales),
            int(batch_size),
            seed,
        )

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        scales = _batch_scales(self.seed, 0, math.ceil(len(self) / self.batch_size), self.scales)
        for i in range(len(self)):
            yield scales[i // self.batch_size], i


class ResumableDataLoader(DataLoader[Any]):
    """A :class:`DataLoader` over a :class:`SeededPatchSampler` that resumes mid-epoch.

    Its position in the epoch is saved in Lightning checkpoints and restored on resume
    (``trainer.fit(ckpt_path=...)``).
    """

    # ``sampler`` travels in kwargs: Lightning re-creates loaders from their __init__ arguments
    # (e.g. a sequential sampler for ``overfit_batches``) and refuses a separate ``sampler`` param
    def __init__(self, dataset: Dataset[Any], **kwargs: Any) -> None:
        scales = getattr(dataset, "scales", None)  # a multi-scale dataset is indexed by (scale, i)
        if scales is not None and isinstance(kwargs.get("sampler"), SequentialSampler):
            seed = getattr(dataset, "seed", None)
            kwargs["sampler"] = SequentialScaleSampler(
                dataset, scales, kwargs.get("batch_size") or 1, seed or 0
            )
        super().__init__(dataset, **kwargs)
        self._consumed = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches consumed) from a checkpoint

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        sampler = self.sampler
        self._consumed = 0
        if self._resume is not None and isinstance(sampler, SeededPatchSampler):
            epoch, batches = self._resume
            self._resume = None
            if epoch == sampler.epoch and batches < len(self):  # resumed mid-epoch
                self._consumed = batches
                sampler.skip = batches * (self.batch_size or 1)
        for batch in super().__iter__():
            self._consumed += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """The loader's position for Lightning's checkpoint: the epoch and batches consumed."""
        return {"epoch": int(getattr(self.sampler, "epoch", 0)), "batches": int(self._consumed)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume from :meth:`state_dict`'s position at the next iteration over the loader."""
        # applied at the next iteration: Lightning sets the sampler's epoch after this
        self._resume = (int(state.get("epoch", 0)), int(state.get("batches", 0)))


class EvalShardSampler(DistributedSampler[tuple[int, bool]]):
    """Validation/test sharding under DDP, each image evaluated exactly once over all ranks.

    Rank ``r`` of ``W`` evaluates images ``r, r+W, ...`` and every rank yields ``ceil(N / W)``
    indices: the shorter shards end with padding. Yields ``(index, is_pad)`` for a
    :class:`PaddedEvalDataset`.

    Lightning's own ``DistributedSampler`` pads by *repeating* images, which counts them twice in
    the metrics (5 images on 2 ranks: image 0 weighs double); dropping the padding instead would
    give some ranks fewer (or no) validation steps, so that they leave the loop, and its
    collectives, before the others (a hang). A padded item carries ``pad=True``: the module runs
    no forward and updates no metric for it.

    Args:
        dataset: the evaluation dataset (its length is the number of images).
        num_replicas, rank: the DDP world size and this process's rank.
    """

    def __init__(self, dataset: Dataset[Any], num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False
        )
        n = len(dataset)  # type: ignore[arg-type]
        self.num_samples = max(1, math.ceil(n / num_replicas)) if n else 0
        self.total_size = self.num_samples * num_replicas

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        n = len(self.dataset)  # type: ignore[arg-type]
        for k in range(self.num_samples):
            i = self.rank + k * self.num_replicas
            # a padding item repeats an image of this shard (or image 0): its shape is a real one
            yield (i, False) if i < n else (min(self.rank, n - 1), True)


class PaddedEvalDataset(Dataset[dict[str, Any]]):
    """An evaluation dataset indexed by ``(index, is_pad)`` (or a plain index).

    Item ``(index, is_pad)`` is the wrapped dataset's item ``index`` with ``pad`` added (see
    :class:`EvalShardSampler`).
    """

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:  # records, scale, ... of the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int | tuple[int, bool]) -> dict[str, Any]:
        i, pad = index if isinstance(index, tuple) else (index, False)
        return {**self.dataset[i], "pad": bool(pad)}
