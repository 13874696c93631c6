"""srlab-eval: evaluate a checkpoint on test sets; the model is rebuilt from the checkpoint alone.

Writes ``metrics.json``, ``metrics.md`` and comparison pictures into the run folder and prints
the table with the bicubic baseline beside the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from ..data.sources import SAMPLE_TEST, ImageFolder, ImageRecord, SampleImages
from ..errors import SRLabError
from ..evaluation import evaluate_sets, results_markdown, write_results
from ..models.checkpoint import load_model
from .common import CONF_DIR, report_user_errors

__all__ = ["evaluate", "build_test_source", "main"]


def build_test_source(name: str, spec: Any) -> Any:
    """A test set from config: ``"sample"``, a folder path, or ``{hr_dir, lr_dir}``."""
    if isinstance(spec, str):
        return SampleImages(SAMPLE_TEST) if spec == "sample" else ImageFolder(spec)
    if isinstance(spec, dict) and "hr_dir" in spec:
        return ImageFolder(spec["hr_dir"], spec.get("lr_dir"))
    raise SRLabError(f"test_sets.{name} must be 'sample', a folder, or {{hr_dir: ..., lr_dir: ...}}; got {spec!r}")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.test_sets``; returns the results dict."""
    model = load_model(cfg.ckpt_path, map_location=_device(cfg.get("device", "auto")))
    specs = OmegaConf.to_container(cfg.test_sets, resolve=True) or {}
    if not specs:
        raise SRLabError("test_sets is empty: name at least one set, e.g. test_sets='{Set5: data/Set5/HR}'")
    sets: dict[str, list[ImageRecord]] = {n: build_test_source(n, s).load(model.scale) for n, s in specs.items()}
    out_dir = Path(cfg.paths.output_dir)

    from rich.progress import Progress

    total = sum(len(v) for v in sets.values())
    with Progress(transient=True) as bar:
        task = bar.add_task("evaluating", total=total)
        results = evaluate_sets(
            model,
            sets,
            out_dir=out_dir,
            crop_border=cfg.get("crop_border"),
            y_channel=cfg.get("y_channel", True),
            save_images=cfg.get("save_images", True),
            progress=lambda s, n: bar.update(task, advance=1, description=f"{s}/{n}"),
        )
    results["checkpoint"] = str(Path(cfg.ckpt_path).resolve())
    name = type(model.net).__name__
    json_path, md_path = write_results(results, out_dir, name)
    print(results_markdown(results, name))
    print(f"metrics: {json_path}\ntable:   {md_path}")
    if cfg.get("save_images", True):
        print(f"pictures (LR-bicubic | SR | HR): {out_dir / 'compare'}")
    return results


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
@report_user_errors
def _hydra_main(cfg: DictConfig) -> None:
    evaluate(cfg)


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
