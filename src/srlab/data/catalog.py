"""Data sets by name: what a config or a command line says, turned into sources.

- Test sets (``srlab-eval``'s ``test_sets``): :func:`parse_test_sets` reads the shorthand (a set
  name, a list of names, ``benchmarks``, or a mapping ``name -> spec``) and
  :func:`build_test_source` turns one ``name, spec`` into a source (``"sample"``, ``"benchmark"``,
  a folder, or ``{hr_dir, lr_dir}``).
- Training sources (``srlab-prepare --source``): :func:`training_source` builds one of
  :data:`TRAINING_SOURCES` from the usual layout under one data folder.

Plain values in (an OmegaConf container works too: it is a mapping or a sequence), sources out.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import SRLabError
from .sources import (
    BENCHMARK_SETS,
    DF2K,
    DIV2K,
    SAMPLE_TEST,
    Benchmark,
    Flickr2K,
    ImageFolder,
    SampleImages,
    Waterloo,
)

__all__ = ["parse_test_sets", "build_test_source", "TRAINING_SOURCES", "training_source"]

#: the layouts :func:`training_source` knows (``folder``: any HR folder, optionally paired LR)
TRAINING_SOURCES = ("folder", "div2k", "flickr2k", "df2k", "waterloo")


def parse_test_sets(
    test_sets: str | Sequence[str] | Mapping[str, Any] | None,
    benchmark_root: str | os.PathLike[str] | None = None,
    on_missing: Callable[[list[str]], None] | None = None,
) -> dict[str, Any]:
    """``test_sets`` as ``name -> spec`` (each spec for :func:`build_test_source`).

    Args:
        test_sets: a mapping ``name -> spec`` (returned as a dict); a set name or a list of names
            (``[Set5, Set14]``): those benchmark sets (spec ``"benchmark"``); the name
            ``benchmarks``: the five standard sets (:data:`~srlab.data.BENCHMARK_SETS`), or with
            ``benchmark_root`` those of them found there; ``None``: no set.
        benchmark_root: the folder holding the benchmark sets (``None``: not looked at).
        on_missing: called with the standard sets that ``benchmarks`` skipped because they are
            not under ``benchmark_root`` (default: a warning naming them).

    Returns:
        ``{name: spec}``, in the order given.

    Raises:
        SRLabError: ``benchmarks`` finds none of the five sets, or ``test_sets`` is none of the
            forms above.

    Example:
        >>> parse_test_sets(["Set5", "Set14"])
        {'Set5': 'benchmark', 'Set14': 'benchmark'}
        >>> parse_test_sets({"photos": "sample", "mine": {"hr_dir": "data/mine"}})
        {'photos': 'sample', 'mine': {'hr_dir': 'data/mine'}}
    """
    if test_sets is None:
        return {}
    if isinstance(test_sets, str):
        test_sets = [test_sets]
    if isinstance(test_sets, Mapping):
        return dict(test_sets)
    if not isinstance(test_sets, Sequence):
        raise SRLabError(
            "test_sets must be a set name, a list of set names or a mapping name -> set, "
            f"got {test_sets!r}"
        )
    names: list[str] = []
    for x in test_sets:
        if x != "benchmarks":
            names.append(str(x))
            continue
        found = [
            n
            for n in BENCHMARK_SETS
            if benchmark_root is None or (Path(benchmark_root) / n).is_dir()
        ]
        if not found:
            raise SRLabError(
                f"test_sets=benchmarks: none of {', '.join(BENCHMARK_SETS)} is in {benchmark_root}"
            )
        missing = sorted(set(BENCHMARK_SETS) - set(found))
        if missing:
            if on_missing is None:
                warnings.warn(
                    f"test_sets=benchmarks: not in {benchmark_root}, skipped: {', '.join(missing)}",
                    stacklevel=2,
                )
            else:
                on_missing(missing)
        names += found
    return dict.fromkeys(names, "benchmark")


def build_test_source(
    name: str, spec: Any, benchmark_root: str | os.PathLike[str] = "data/benchmark"
) -> Benchmark | ImageFolder | SampleImages:
    """One test set from its spec.

    Args:
        name: the set's name (the benchmark set looked up for ``"benchmark"``).
        spec: ``"sample"`` (the scikit-image photos never trained on, :data:`SAMPLE_TEST`),
            ``"benchmark"`` (the set called ``name`` under ``benchmark_root``,
            :class:`~srlab.data.Benchmark`), a folder of HR images, or
            ``{hr_dir: ..., lr_dir: ...}`` (a set with pre-made LR images; ``lr_dir`` optional).
        benchmark_root: the folder holding the benchmark sets.

    Raises:
        SRLabError: ``spec`` is none of these (or a benchmark set is not found).
    """
    if isinstance(spec, str):
        if spec == "benchmark":
            return Benchmark(name, benchmark_root)
        return SampleImages(SAMPLE_TEST) if spec == "sample" else ImageFolder(spec)
    if isinstance(spec, Mapping) and "hr_dir" in spec:
        return ImageFolder(spec["hr_dir"], spec.get("lr_dir"))
    raise SRLabError(
        f"test_sets.{name} must be 'sample', a folder, or {{hr_dir: ..., lr_dir: ...}}; "
        f"got {spec!r}"
    )


def training_source(
    name: str,
    data_dir: str | os.PathLike[str] = "data",
    hr_dir: str | os.PathLike[str] | None = None,
    lr_dir: str | os.PathLike[str] | None = None,
    lr: str | None = "auto",
) -> ImageFolder | DF2K:
    """A training source by layout name (one of :data:`TRAINING_SOURCES`).

    Args:
        name: ``folder`` (``hr_dir``, optionally paired with ``lr_dir``), ``div2k`` (the 800
            training images), ``flickr2k``, ``df2k`` (both) or ``waterloo`` (pristine images).
        data_dir: the folder holding ``DIV2K/``, ``Flickr2K/`` and ``Waterloo/``.
        hr_dir: the HR folder of ``folder``.
        lr_dir: the LR folder of ``folder``; ``{scale}`` is replaced by the scale.
        lr: the provided LR track of DIV2K/Flickr2K: ``auto`` (bicubic where present),
            ``bicubic``, ``unknown`` or ``None`` (always made on the fly).

    Raises:
        SRLabError: an unknown ``name``, ``folder`` without ``hr_dir``, or a bad ``lr``.
    """
    root = Path(data_dir)
    if name == "folder":
        if not hr_dir:
            raise SRLabError("the folder training source needs an HR folder (hr_dir)")
        return ImageFolder(hr_dir, lr_dir)
    if name == "div2k":
        return DIV2K(root / "DIV2K", "train", lr)
    if name == "flickr2k":
        return Flickr2K(root / "Flickr2K", lr)
    if name == "df2k":
        return DF2K(root / "DIV2K", root / "Flickr2K", lr)
    if name == "waterloo":
        return Waterloo(root / "Waterloo")
    raise SRLabError(f"unknown training source {name!r}: one of {', '.join(TRAINING_SOURCES)}")
