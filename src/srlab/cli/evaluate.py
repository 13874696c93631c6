"""srlab-eval: evaluate a checkpoint on test sets; the model is rebuilt from the checkpoint alone.

Writes ``metrics.json``, ``metrics.md`` and comparison pictures into the run folder and prints
the table with the bicubic baseline beside the model. A multi-scale checkpoint (MDSR, CARN,
VDSR, ...) is evaluated at every scale it serves: one table row per set and scale
(``scales=[2,4]`` restricts them). ``tile=<LR pixels>`` runs the model in seam-free tiles, so
that large images fit in GPU memory (:func:`srlab.evaluation.evaluate_sets`).

``metrics.json`` also records the network (``network``) and its size (``model_size``:
``params`` and ``macs_720p_hr`` = MACs per 1280x720 HR output at each evaluated scale,
:mod:`srlab.macs`), which ``srlab-report`` plots. ``logger=wandb`` (offline) also logs the run to
W&B: config, protocol tags, model size, summary metrics ``test/<set>/psnr|ssim|psnr_bicubic``
and a ``test/results`` table with one row per image (the SR picture for the first
``wandb_images`` of each set); ``logger=csv`` the same numbers without the table.

``metrics=[psnr,ssim,niqe,lpips,dists]`` adds perceptual metrics per image and per set (model and
bicubic; :mod:`srlab.metrics.quality`); their backbone weights are found (or fetched) before any
work, :mod:`srlab.metrics.weights`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ..data.catalog import build_test_source, parse_test_sets
from ..data.sources import ImageRecord
from ..errors import SRLabError
from ..evaluation import (
    check_tile,
    evaluate_sets,
    results_markdown,
    score_folders,
    sr_picture,
    sr_picture_path,
    write_results,
)
from ..metrics.quality import ImageMetrics, quality_markdown
from ..models.checkpoint import load_model
from ..speed import resolve_device
from .common import CONF_DIR, plain_dict, report_user_errors
from .dashboard import (
    add_wandb_tags,
    finish_wandb,
    is_wandb,
    log_summary,
    model_size_info,
    protocol_tags,
)

__all__ = ["evaluate", "main"]


def _test_specs(cfg: DictConfig, bench_root: str) -> dict[str, Any]:
    """``cfg.test_sets`` as name -> spec (:func:`srlab.data.catalog.parse_test_sets`).

    The standard sets that ``test_sets=benchmarks`` does not find are named on stderr.
    """
    test_sets = cfg.test_sets
    if OmegaConf.is_config(test_sets):
        test_sets = OmegaConf.to_container(test_sets, resolve=True)
    return parse_test_sets(
        test_sets,
        bench_root,
        on_missing=lambda missing: print(
            f"srlab-eval: not in {bench_root}, skipped: {', '.join(missing)}", file=sys.stderr
        ),
    )


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.test_sets``; returns the results dict.

    With ``sr_dir`` set, scores released SR images instead (no model): :func:`score_released`.
    """
    if cfg.get("sr_dir"):
        return score_released(cfg)
    tile = check_tile(cfg.get("tile"))  # tile=<LR px>: large images within GPU memory
    model = load_model(
        cfg.ckpt_path, map_location=resolve_device(cfg.get("device", "auto")), net=cfg.get("net")
    )
    bench_root = str(cfg.get("benchmark_root") or "data/benchmark")
    specs = _test_specs(cfg, bench_root)
    if not specs:
        raise SRLabError(
            "test_sets is empty: name at least one set, e.g. test_sets='{Set5: data/Set5/HR}'"
        )
    scales = cfg.get("scales")
    scales = [scales] if isinstance(scales, int) else list(scales or []) or list(model.scales)
    for s in scales:
        model.check_scale(s)
    sources = {n: build_test_source(n, s, bench_root) for n, s in specs.items()}
    # load every set at every scale up front: errors (missing folder, LR size) come before work
    sets: dict[str, dict[int, list[ImageRecord]]] = {
        n: {s: src.load(s) for s in scales} for n, src in sources.items()
    }
    out_dir = Path(cfg.paths.output_dir)
    extra = _extra_metrics(cfg, model.device)  # NIQE/LPIPS/DISTS: weights found before any work

    from rich.progress import Progress

    total = sum(len(r) for per_scale in sets.values() for r in per_scale.values())
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
            scales=scales,
            self_ensemble=bool(cfg.get("self_ensemble", False)),
            grey_files=str(cfg.get("grey_files", "grey")),
            extra_metrics=extra,
            tile=tile,
        )
    results["checkpoint"] = str(Path(cfg.ckpt_path).resolve())
    name = type(model.net).__name__
    results["network"] = name
    results["model_size"] = model_size_info(model, scales)  # what srlab-report plots PSNR against
    json_path, md_path = write_results(results, out_dir, name)
    print(
        results_markdown(results, name)
        + quality_markdown(results, per_image=False, model_name=name)
    )
    print(f"metrics: {json_path}\ntable:   {md_path}")
    if cfg.get("save_images", True):
        print(f"pictures (LR-bicubic | SR | HR): {out_dir / 'compare'}")
    _log_to_dashboards(cfg, model, results, sets, out_dir)
    return results


def score_released(cfg: DictConfig) -> dict[str, Any]:
    """``srlab-eval sr_dir=<folder> scales=<s> [sr_name=RCAN]``: score SR images others published.

    They are scored under srlab's protocol and into the same metrics.json/metrics.md.
    ``sr_dir`` may hold ``{set}`` and ``{scale}`` (required when scoring several sets or
    scales; Hydra wants the value quoted:
    ``"sr_dir='RCAN_TestCode/SR/BI/RCAN/{set}/x{scale}'"``); SR files are paired with
    the HR images of ``test_sets`` by name (:func:`srlab.evaluation.match_sr_files`: ``baby``
    takes ``baby_x2_SR.png``, ``baby_SR.png``, ``baby.png``, ``baby_RCAN_x2.png``) and must be
    the HR size or its mod-crop to the scale. No dashboard logging (there is no model).
    """
    bench_root = str(cfg.get("benchmark_root") or "data/benchmark")
    specs = _test_specs(cfg, bench_root)
    if not specs:
        raise SRLabError("test_sets is empty: name at least one set, e.g. test_sets=Set5")
    scales = cfg.get("scales")
    scales = [scales] if isinstance(scales, int) else list(scales or [])
    if not scales:
        raise SRLabError(
            "sr_dir needs the scale of the SR images: add scales=2 (or scales=[2,3,4])"
        )
    sources = {n: build_test_source(n, s, bench_root) for n, s in specs.items()}
    # default name: the last folder of sr_dir without a placeholder (.../RCAN/{set}/x{scale}: RCAN)
    name = str(
        cfg.get("sr_name")
        or next((p for p in reversed(Path(str(cfg.sr_dir)).parts) if "{" not in p), "SR")
    )
    results = score_folders(
        sources,
        str(cfg.sr_dir),
        scales,
        crop_border=cfg.get("crop_border"),
        y_channel=cfg.get("y_channel", True),
        grey_files=str(cfg.get("grey_files", "grey")),
        sr_glob=str(cfg.get("sr_glob") or "*"),
        extra_metrics=_extra_metrics(cfg, "cpu"),
    )
    results["network"] = name
    results["sr_dir"] = str(cfg.sr_dir)
    out_dir = Path(cfg.paths.output_dir)
    json_path, md_path = write_results(results, out_dir, name)
    print(
        results_markdown(results, name)
        + quality_markdown(results, per_image=False, model_name=name)
    )
    print(f"metrics: {json_path}\ntable:   {md_path}")
    if cfg.get("logger"):
        print(
            "srlab-eval: sr_dir runs log to no dashboard (no model); metrics.json has the numbers",
            file=sys.stderr,
        )
    return results


def _extra_metrics(cfg: DictConfig, device: Any) -> ImageMetrics | None:
    """``metrics=[psnr,ssim,niqe,lpips,dists]`` -> the extra metrics (PSNR/SSIM always run).

    ``metric_weights.<lpips_alex|lpips_vgg|dists>``: backbone files (default: torch hub cache,
    downloaded when online).
    """
    names = cfg.get("metrics") or ["psnr", "ssim"]
    names = [names] if isinstance(names, str) else list(names)
    weights = plain_dict(cfg.get("metric_weights") or {})
    extra = ImageMetrics(
        names, weights, lpips_net=str(cfg.get("lpips_net") or "alex"), device=device
    )
    return extra or None


def summary_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The summary metrics of an evaluation, by logged name.

    ``test/<set>/psnr``, ``ssim``, ``psnr_bicubic`` (and ``psnr_x8``, ``ssim_x8`` with the
    self-ensemble) per set; a multi-scale model's sets are ``<set>/x<s>``.
    """
    out: dict[str, float] = {}
    for key, r in results["sets"].items():
        out[f"test/{key}/psnr"] = r["model"]["psnr"]
        out[f"test/{key}/ssim"] = r["model"]["ssim"]
        out[f"test/{key}/psnr_bicubic"] = r["bicubic"]["psnr"]
        for m in ("niqe", "lpips", "dists"):  # metrics=[...,niqe,lpips]: test/<set>/niqe ...
            if m in r["model"]:
                out[f"test/{key}/{m}"] = r["model"][m]
        if "ensemble" in r:
            out[f"test/{key}/psnr_x8"] = r["ensemble"]["psnr"]
            out[f"test/{key}/ssim_x8"] = r["ensemble"]["ssim"]
    return out


def _sr_picture(
    model: Any,
    rec: ImageRecord,
    scale: int,
    saved: Path,
    y_channel: bool = True,
    grey_files: str = "grey",
    tile: int | None = None,
) -> Any:
    """The SR image of ``rec`` for W&B: the PNG srlab-eval saved, else made again.

    Made again by :func:`srlab.evaluation.sr_picture`, as srlab-eval would have saved it.
    """
    import wandb

    if saved.is_file():
        return wandb.Image(str(saved))
    picture = sr_picture(model, rec, scale, y_channel, grey_files, tile)
    array = picture.permute(1, 2, 0).float().numpy()
    return wandb.Image(array[..., 0] if array.shape[-1] == 1 else array)


def results_table(
    results: dict[str, Any],
    model: Any,
    sets: dict[str, dict[int, list[ImageRecord]]],
    out_dir: Path,
    n_images: int,
    y_channel: bool = True,
    grey_files: str = "grey",
    tile: int | None = None,
) -> Any:
    """A ``wandb.Table``: one row per (set, scale, image).

    Each row has the image's PSNR/SSIM, the bicubic ones, and the SR picture for the first
    ``n_images`` of each set and scale (else empty); ``y_channel``, ``grey_files`` and ``tile``
    are the evaluation's, for pictures made again.
    """
    import wandb

    ensemble = any("ensemble" in r for r in results["sets"].values())
    columns = ["set", "image", "scale", "psnr", "ssim", "bicubic_psnr", "bicubic_ssim"]
    columns += ["psnr_x8", "ssim_x8"] if ensemble else []
    table = wandb.Table(columns=[*columns, "sr"])  # "sr": wandb.Image or None
    for key, r in results["sets"].items():
        base, scale = r["set"], int(r["scale"])
        for i, row in enumerate(r["images"]):
            picture = None
            if i < n_images:
                saved = sr_picture_path(out_dir, key, row["name"])
                picture = _sr_picture(
                    model, sets[base][scale][i], scale, saved, y_channel, grey_files, tile
                )
            values = {"set": base, "image": row["name"], "scale": scale, **row}
            table.add_data(*[values.get(c) for c in columns], picture)
    return table


def _log_to_dashboards(
    cfg: DictConfig,
    model: Any,
    results: dict[str, Any],
    sets: dict[str, dict[int, list[ImageRecord]]],
    out_dir: Path,
) -> None:
    """``logger=wandb|csv``: the config, protocol tags, model size and summary metrics.

    W&B also gets the per-image table. Loggers are made after the evaluation, so that a failing
    one leaves no empty run behind.
    """
    lcfg = cfg.get("logger")
    if not lcfg:
        return
    from hydra.utils import instantiate

    scales = sorted({int(r["scale"]) for r in results["sets"].values()})
    # espcn, x3, y-bt601, ...
    add_wandb_tags(cfg, protocol_tags(model, scales=scales, colour=results["protocol"]["colour"]))
    loggers = []
    for c in cfg.logger.values():
        if c is None or "_target_" not in c:
            continue
        extra = {"job_type": "eval"} if str(c._target_).endswith("WandbLogger") else {}
        loggers.append(instantiate(c, **extra))
    info = {
        "network": results["network"],
        "model_size": results["model_size"],
        "protocol": results["protocol"],
        "checkpoint": results["checkpoint"],
    }
    summary = summary_metrics(results)
    for lg in loggers:
        lg.log_hyperparams({**plain_dict(cfg), **info})
        lg.log_metrics(summary, step=0)
    log_summary(loggers, info)
    for lg in loggers:
        if is_wandb(lg):
            lg.experiment.log(
                {
                    "test/results": results_table(
                        results,
                        model,
                        sets,
                        out_dir,
                        int(cfg.get("wandb_images", 4)),
                        y_channel=bool(cfg.get("y_channel", True)),
                        grey_files=str(cfg.get("grey_files", "grey")),
                        tile=check_tile(cfg.get("tile")),
                    )
                }
            )
            print(f"W&B run: {Path(lg.experiment.dir).parent}")
        else:
            lg.finalize("success")
    finish_wandb(loggers)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
@report_user_errors
def _hydra_main(cfg: DictConfig) -> None:
    evaluate(cfg)


def main() -> None:
    """``srlab-eval``: the Hydra command line around :func:`evaluate`."""
    _hydra_main()


if __name__ == "__main__":
    main()
