"""Data sets by name (srlab.data.catalog): the test_sets grammar and the training sources."""

import pytest
from omegaconf import OmegaConf
from PIL import Image

from srlab.data.catalog import TRAINING_SOURCES, build_test_source, parse_test_sets, training_source
from srlab.data.sources import (
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
from srlab.errors import SRLabError
from tests.helpers import make_photo


def test_names_lists_and_mappings():
    assert parse_test_sets("Set5") == {"Set5": "benchmark"}
    assert parse_test_sets(["Set14", "B100"]) == {"Set14": "benchmark", "B100": "benchmark"}
    mapping = {"photos": "sample", "mine": {"hr_dir": "a", "lr_dir": "b"}}
    assert parse_test_sets(mapping) == mapping and parse_test_sets(mapping) is not mapping
    assert parse_test_sets(None) == {} and parse_test_sets([]) == {}
    # OmegaConf containers are a mapping and a sequence like any other
    assert parse_test_sets(OmegaConf.create(["Set5", "benchmarks"]))["Manga109"] == "benchmark"
    assert list(parse_test_sets(OmegaConf.create(mapping))) == ["photos", "mine"]
    with pytest.raises(
        SRLabError, match="test_sets must be a set name, a list of set names or a mapping"
    ):
        parse_test_sets(5)


def test_benchmarks_expands_to_the_sets_found(tmp_path):
    assert list(parse_test_sets("benchmarks")) == list(BENCHMARK_SETS)  # no root: not looked at
    for name in ("Urban100", "Set5"):
        (tmp_path / name).mkdir()
    seen = []
    specs = parse_test_sets(["benchmarks", "Mine"], tmp_path, on_missing=seen.append)
    assert list(specs) == ["Set5", "Urban100", "Mine"]  # the standard order, then the rest
    assert seen == [["B100", "Manga109", "Set14"]]
    with pytest.warns(UserWarning, match=r"skipped: B100, Manga109, Set14"):
        parse_test_sets("benchmarks", tmp_path)
    with pytest.raises(SRLabError, match="none of Set5, Set14, B100, Urban100, Manga109 is in"):
        parse_test_sets("benchmarks", tmp_path / "empty")


def test_build_test_source_for_each_spec(tmp_path):
    (tmp_path / "bench" / "Set5" / "HR").mkdir(parents=True)
    Image.fromarray(make_photo(8, 8)).save(tmp_path / "bench" / "Set5" / "HR" / "a.png")
    sample = build_test_source("photos", "sample")
    assert isinstance(sample, SampleImages) and sample.names == SAMPLE_TEST
    bench = build_test_source("Set5", "benchmark", tmp_path / "bench")
    assert isinstance(bench, Benchmark) and bench.name == "Set5"
    folder = build_test_source("mine", str(tmp_path / "hr"))
    assert (
        type(folder) is ImageFolder and folder.hr_dir == tmp_path / "hr" and folder.lr_dir is None
    )
    paired = build_test_source("mine", OmegaConf.create({"hr_dir": "h", "lr_dir": "l/X{scale}"}))
    assert str(paired.hr_dir) == "h" and paired.lr_dir_for(2).as_posix() == "l/X2"
    with pytest.raises(SRLabError, match=r"test_sets\.odd must be 'sample', a folder, or \{hr_dir"):
        build_test_source("odd", {"lr_dir": "x"})
    with pytest.raises(SRLabError, match="benchmark set Set14 not found"):
        build_test_source("Set14", "benchmark", tmp_path / "bench")


def test_training_sources_use_the_usual_layout(tmp_path):
    assert TRAINING_SOURCES == ("folder", "div2k", "flickr2k", "df2k", "waterloo")
    div2k = training_source("div2k", tmp_path, lr="bicubic")
    assert type(div2k) is DIV2K and div2k.hr_dir == tmp_path / "DIV2K" / "DIV2K_train_HR"
    assert div2k.lr_dir_for(3) == tmp_path / "DIV2K" / "DIV2K_train_LR_bicubic" / "X3"
    flickr = training_source("flickr2k", tmp_path, lr=None)
    assert type(flickr) is Flickr2K and flickr.hr_dir == tmp_path / "Flickr2K" / "Flickr2K_HR"
    assert flickr.lr_dir_for(2) is None
    assert isinstance(training_source("df2k", tmp_path), DF2K)
    water = training_source("waterloo", tmp_path)
    assert type(water) is Waterloo and water.hr_dir == tmp_path / "Waterloo" / "pristine_images"
    folder = training_source("folder", hr_dir=tmp_path / "hr", lr_dir="lr/X{scale}")
    assert type(folder) is ImageFolder and folder.lr_dir_for(4).as_posix() == "lr/X4"
    with pytest.raises(SRLabError, match="needs an HR folder"):
        training_source("folder", tmp_path)
    with pytest.raises(
        SRLabError, match="unknown training source 'imagenet': one of folder, div2k"
    ):
        training_source("imagenet", tmp_path)
    with pytest.raises(SRLabError, match="lr must be"):
        training_source("div2k", tmp_path, lr="blurry")
