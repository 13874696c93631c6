r"""srlab's training loop vs BasicSR's, end to end: same networks, batches, patches and photos.

For each network (EDSR-baseline x2, RCAN x4, RRDBNet x4) the same training is run by

* srlab: ``srlab-train`` (a subprocess of this venv) with the configs a CPU user would pick:
  ``trainer=cpu logger=csv data=prepared`` on a folder written by ``srlab-prepare`` (memory-mapped
  sub-images, LR made by srlab's MATLAB-exact bicubic), default callbacks less the three that need
  a validation set or write checkpoints mid-run;
* BasicSR: its own ``basicsr/train.py`` (its ``SRModel``, ``PairedImageDataset`` reading PNG
  sub-images from disk, as its DIV2K options do, its ``CPUPrefetcher``) in its own venv, with an
  options YAML this script writes, on the same photos prepared by BasicSR's own tools (LR by
  ``basicsr.utils.matlab_functions.imresize``, the Python port of its ``generate_bicubic_img.m``;
  sub-images by ``scripts/data_preparation/extract_subimages.py``).

Both use the same network widths/depths, batch, HR patch, L1 loss, Adam, data-loader workers and
flips/rotations; no validation, no EMA, no checkpoint during the run (each writes one at the end).
Each run trains ``B`` iterations (``--steps A,B``); the first ``A`` are warm-up and not timed.
Iterations/s over iterations ``A..B`` come from wall-clock stamps each framework writes anyway:
srlab's ``TrainingThroughput`` callback (``train/steps_per_sec`` every ``A`` iterations in the CSV
log; the windows after the first are summed), BasicSR's log lines (``print_freq: A``; the time
between its lines at iterations ``A`` and ``B``). Both windows hold everything the loop does per
iteration: waiting for data, the step, logging. The whole process's wall time (start-up
included) is printed too. Peak memory is the largest resident set of the training process (or
one of its loader workers), from ``getrusage(RUSAGE_CHILDREN)`` of a one-run wrapper. The two
frameworks' runs alternate, ``--rounds`` times; printed: the ratio ``srlab it/s / BasicSR it/s``
of the medians (>1: srlab faster) and the median of the rounds' ratios (``paired``: both runs of
a round are back to back, so load from other jobs on the machine hits both alike). Nothing is
asserted.

Peer environment (once, outside the repository; srlab's venv is never touched)::

    python3 -m venv /tmp/peer-venv
    # the same torch build as srlab's venv (pip finds the wheels srlab was installed from)
    /tmp/peer-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/peer-venv/bin/pip install addict future lmdb numpy opencv-python-headless pillow \
        pyyaml requests scikit-image scipy tqdm yapf
    # BasicSR from GitHub master (8d56e3a): PyPI's basicsr 1.4.2 imports
    # torchvision.transforms.functional_tensor, removed in torchvision 0.17
    git clone https://github.com/XPixelGroup/BasicSR /tmp/BasicSR
    BASICSR_EXT=False /tmp/peer-venv/bin/pip install --no-deps --no-build-isolation -e /tmp/BasicSR

Then, from the repository root with srlab's venv::

    python bench/bench_vs_basicsr.py --peer-python /tmp/peer-venv/bin/python \
        --basicsr-root /tmp/BasicSR [--nets edsr_baseline,rcan,rrdbnet] [--steps 10,60] \
        [--rounds 3] [--workers 2] [--threads 1] [--size small|paper] [--work DIR] [--show]

``--size small`` (default, for a CPU) shrinks the networks and patches (see ``SIZES``);
``--size paper`` uses the papers' networks, batches and patches (a GPU: add ``--device cuda``;
srlab then runs ``trainer=gpu``, BasicSR ``num_gpu: 1`` with its CUDA prefetcher: not run yet).
``--threads 1`` gives both frameworks one intra-op thread: use it on a machine other jobs share.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Per network: scale, HR patch, batch, and the widths/depths given to both srlab's net config
# (model.net.<key>=...) and BasicSR's network_g. "paper": the papers' settings. "small": what a
# 2-core CPU trains in seconds per run (printed with the table; listed in bench/README.md).
SIZES = {
    "paper": {
        "edsr_baseline": dict(scale=2, hr_patch=96, batch=16, net=dict(num_feat=64, num_block=16)),
        "rcan": dict(
            scale=4, hr_patch=192, batch=16, net=dict(num_feat=64, num_group=10, num_block=20)
        ),
        "rrdbnet": dict(
            scale=4, hr_patch=128, batch=16, net=dict(num_feat=64, num_block=23, num_grow_ch=32)
        ),
    },
    "small": {
        "edsr_baseline": dict(scale=2, hr_patch=48, batch=4, net=dict(num_feat=64, num_block=16)),
        "rcan": dict(
            scale=4, hr_patch=64, batch=4, net=dict(num_feat=64, num_group=3, num_block=4)
        ),
        "rrdbnet": dict(
            scale=4, hr_patch=64, batch=4, net=dict(num_feat=64, num_block=3, num_grow_ch=32)
        ),
    },
}

PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
)
CROP, STEP = 240, 120  # HR sub-images for both frameworks' preparation tools

# Runs one command (argv[3:]; its output shown when argv[2] is "show") and writes its peak RSS to
# the file argv[1] (KiB: the largest of the process and its waited-for children).
WRAP = r"""
import resource, subprocess, sys
quiet = sys.argv[2] != 'show'
p = subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL if quiet else None,
                   stderr=subprocess.PIPE if quiet else None)
open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
if p.returncode and quiet:
    sys.stderr.buffer.write(p.stderr[-3000:])
sys.exit(p.returncode)
"""

# BasicSR's own data preparation, run in the peer venv: LR by its MATLAB-bicubic port, then its
# extract_subimages tool for HR and LR folders.
PEER_PREP = r"""
import os, sys, cv2, numpy as np
sys.path.insert(0, os.path.join(sys.argv[1], 'scripts', 'data_preparation'))
from basicsr.utils.matlab_functions import imresize
from extract_subimages import extract_subimages
hr_dir, out, scales = sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4].split(',')]
crop, step = int(sys.argv[5]), int(sys.argv[6])
for s in scales:
    lr_dir = os.path.join(out, f'LR_x{s}')
    os.makedirs(lr_dir, exist_ok=True)
    for name in sorted(os.listdir(hr_dir)):
        img = cv2.imread(os.path.join(hr_dir, name), cv2.IMREAD_UNCHANGED)
        h, w = img.shape[0] - img.shape[0] % s, img.shape[1] - img.shape[1] % s
        img = img[:h, :w]
        cv2.imwrite(os.path.join(lr_dir, name),
                    np.clip(np.round(imresize(img / 255., 1 / s) * 255.), 0, 255).astype(np.uint8))
    os.makedirs(os.path.join(out, f'HR_x{s}'), exist_ok=True)
    for name in sorted(os.listdir(hr_dir)):  # mod-cropped HR, as generate_bicubic_img.m writes it
        img = cv2.imread(os.path.join(hr_dir, name), cv2.IMREAD_UNCHANGED)
        h, w = img.shape[0] - img.shape[0] % s, img.shape[1] - img.shape[1] % s
        cv2.imwrite(os.path.join(out, f'HR_x{s}', name), img[:h, :w])
    for src, c, st in ((f'HR_x{s}', crop, step), (f'LR_x{s}', crop // s, step // s)):
        extract_subimages(dict(n_thread=2, compression_level=3, input_folder=os.path.join(out, src),
                               save_folder=os.path.join(out, src + '_sub'), crop_size=c, step=st,
                               thresh_size=0))
"""

# BasicSR's EDSR and RCAN on RGB in [0, 255] less the DIV2K mean, as their option files set them
_BASICSR_MEAN_SHIFTED = dict(
    num_in_ch=3, num_out_ch=3, res_scale=1, img_range=255.0, rgb_mean=[0.4488, 0.4371, 0.4040]
)
BASICSR_NET = {
    "edsr_baseline": lambda n, s: dict(type="EDSR", upscale=s, **_BASICSR_MEAN_SHIFTED, **n),
    "rcan": lambda n, s: dict(
        type="RCAN", upscale=s, squeeze_factor=16, **_BASICSR_MEAN_SHIFTED, **n
    ),
    "rrdbnet": lambda n, s: dict(type="RRDBNet", num_in_ch=3, num_out_ch=3, scale=s, **n),
}


def make_photos(out: Path) -> None:
    """The HR folder: scikit-image's bundled colour photos as PNG."""
    import skimage.data
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        img = np.asarray(getattr(skimage.data, name)())
        Image.fromarray(img[..., :3]).save(out / f"{name}.png")


def timed(
    cmd: list[str], env: dict | None = None, cwd: str | None = None, show: bool = False
) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as f:
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-c", WRAP, f.name, "show" if show else "quiet", *cmd],
            env=env,
            cwd=cwd,
            stderr=None if show else subprocess.PIPE,
            text=True,
        )
        dt = time.perf_counter() - t0
        if p.returncode:
            sys.exit(
                f"command failed ({p.returncode}): {' '.join(cmd)}\n{(p.stderr or '')[-3000:]}"
            )
        rss = int(Path(f.name).read_text() or 0)
    return dt, rss / 1024


def srlab_cmd(
    net: str,
    cfg: dict,
    steps: int,
    every: int,
    prepared: Path,
    out: Path,
    workers: int,
    device: str,
) -> list[str]:
    train = str(Path(sys.executable).with_name("srlab-train"))
    over = [
        f"model/net={net}",
        "data=prepared",
        f"data.prepared_dir={prepared}",
        f"data.scale={cfg['scale']}",
        "data.val=null",
        f"data.hr_patch_size={cfg['hr_patch']}",
        f"data.batch_size={cfg['batch']}",
        f"data.num_workers={workers}",
        f"data.samples_per_epoch={cfg['batch'] * steps}",
        "trainer=gpu" if device == "cuda" else "trainer=cpu",
        "logger=csv",
        f"trainer.log_every_n_steps={every}",
        f"callbacks.throughput.log_every_n_steps={every}",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "~callbacks.val_images",
        "~callbacks.model_checkpoint",
        "~callbacks.step_checkpoint",
        f"paths.output_dir={out}",
        f"hydra.run.dir={out}",
    ]
    over += [f"model.net.{k}={v}" for k, v in cfg["net"].items()]
    return [train, *over]


def basicsr_options(
    net: str,
    cfg: dict,
    steps: int,
    every: int,
    prepared: Path,
    name: str,
    workers: int,
    device: str,
) -> dict:
    s = cfg["scale"]
    return {
        "name": name,
        "model_type": "SRModel",
        "scale": s,
        "num_gpu": 1 if device == "cuda" else 0,
        "manual_seed": 0,
        "datasets": {
            "train": {
                "name": "photos",
                "type": "PairedImageDataset",
                "dataroot_gt": str(prepared / f"HR_x{s}_sub"),
                "dataroot_lq": str(prepared / f"LR_x{s}_sub"),
                "filename_tmpl": "{}",
                "io_backend": {"type": "disk"},
                "gt_size": cfg["hr_patch"],
                "use_hflip": True,
                "use_rot": True,
                "num_worker_per_gpu": workers,
                "batch_size_per_gpu": cfg["batch"],
                "dataset_enlarge_ratio": 1000,
                "prefetch_mode": "cuda" if device == "cuda" else None,
                "pin_memory": device == "cuda",
            }
        },
        "network_g": BASICSR_NET[net](cfg["net"], s),
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {
            "ema_decay": 0,
            "optim_g": {"type": "Adam", "lr": 1e-4, "weight_decay": 0, "betas": [0.9, 0.99]},
            "scheduler": {"type": "MultiStepLR", "milestones": [10**8], "gamma": 0.5},
            "total_iter": steps,
            "warmup_iter": -1,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0, "reduction": "mean"},
        },
        "logger": {
            "print_freq": every,
            "save_checkpoint_freq": 10**8,
            "use_tb_logger": False,
            "wandb": {"project": None, "resume_id": None},
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }


def srlab_its(out: Path, a: int, b: int) -> float:
    """Iterations/s over iterations a..b from srlab's ``train/steps_per_sec`` windows.

    The windows (of ``a`` iterations each) are what srlab's TrainingThroughput callback wrote
    to the CSV log.
    """
    import csv

    with open(out / "csv" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    sps = {
        int(r["step"]): float(r["train/steps_per_sec"])
        for r in rows
        if r.get("train/steps_per_sec")
    }
    seconds = sum(a / sps[k] for k in range(2 * a, b + 1, a))
    return (b - a) / seconds


def basicsr_its(exp: Path, a: int, b: int) -> float:
    """Iterations/s over iterations a..b from the timestamps of BasicSR's log lines at a and b."""
    from datetime import datetime

    stamps = {}
    for line in next(exp.glob("train_*.log")).read_text().splitlines():
        if "iter:" in line and "INFO: [" in line:
            it = int(line.split("iter:")[1].split(",")[0])
            stamps[it] = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return (b - a) / (stamps[b] - stamps[a])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer-python", default="/tmp/peer-venv/bin/python")
    p.add_argument("--basicsr-root", default="/tmp/BasicSR")
    p.add_argument(
        "--work", default=None, help="scratch folder (default: a temporary one, removed)"
    )
    p.add_argument("--nets", default="edsr_baseline,rcan,rrdbnet")
    p.add_argument(
        "--steps",
        default="10,60",
        help="A,B: warm-up iterations (not timed) and iterations per run; B a multiple of A",
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="data-loader workers, both frameworks")
    p.add_argument("--size", choices=("small", "paper"), default="small")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op CPU threads of both frameworks (OMP_NUM_THREADS/MKL_NUM_THREADS; default: "
        "torch's, one per core). Use 1 on a machine shared with other jobs: OpenMP threads "
        "waiting for a busy core make every op 10-20x slower there, in either framework",
    )
    p.add_argument("--show", action="store_true", help="show the runs' output")
    args = p.parse_args()
    import yaml

    peer = shutil.which(args.peer_python) or args.peer_python
    if not Path(peer).exists():
        sys.exit(f"peer python {peer} not found: set up the peer venv (see this file's docstring)")
    root = Path(args.basicsr_root).resolve()
    if not (root / "basicsr" / "train.py").exists():
        sys.exit(f"{root} is not a BasicSR checkout (no basicsr/train.py)")
    a, b = (int(x) for x in args.steps.split(","))
    nets = args.nets.split(",")
    sizes = SIZES[args.size]
    work = Path(args.work or tempfile.mkdtemp(prefix="srlab-vs-basicsr-"))
    (work / "runs").mkdir(parents=True, exist_ok=True)
    scales = sorted({sizes[n]["scale"] for n in nets})
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))

    # data, prepared once by each framework's own tool
    hr = work / "HR"
    if not hr.exists():
        make_photos(hr)
    tag = "x" + "_".join(map(str, scales))
    srlab_prep, peer_prep = work / f"srlab_prepared_{tag}", work / f"basicsr_prepared_{tag}"
    t_srlab_prep = t_peer_prep = "reused"
    if not (srlab_prep / ".done").exists():
        t = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("srlab-prepare")),
                "--source",
                "folder",
                "--hr-dir",
                str(hr),
                "--out",
                str(srlab_prep),
                "--scales",
                *map(str, scales),
                "--crop",
                str(CROP),
                "--step",
                str(STEP),
                "--no-progress",
            ],
            check=True,
            capture_output=True,
        )
        (srlab_prep / ".done").touch()
        t_srlab_prep = f"{time.perf_counter() - t:.1f}s"
    if not (peer_prep / ".done").exists():
        t = time.perf_counter()
        subprocess.run(
            [
                peer,
                "-c",
                PEER_PREP,
                str(root),
                str(hr),
                str(peer_prep),
                ",".join(map(str, scales)),
                str(CROP),
                str(STEP),
            ],
            check=True,
            capture_output=True,
        )
        (peer_prep / ".done").touch()
        t_peer_prep = f"{time.perf_counter() - t:.1f}s"
    print(
        f"photos: {len(PHOTOS)} scikit-image PNGs -> {CROP}px HR sub-images (step {STEP}); "
        f"prepared by srlab-prepare: {t_srlab_prep}, by BasicSR's tools: {t_peer_prep}"
    )

    rows = []
    for net in nets:
        cfg = sizes[net]
        res: dict[str, list[tuple[float, float, float]]] = {"srlab": [], "basicsr": []}
        for r in range(args.rounds):
            out = work / "runs" / f"srlab_{net}_{r}"
            shutil.rmtree(out, ignore_errors=True)  # a kept --work folder: no stale CSV log
            wall, mib = timed(
                srlab_cmd(net, cfg, b, a, srlab_prep, out, args.workers, args.device),
                env=env,
                show=args.show,
            )
            res["srlab"].append((srlab_its(out, a, b), wall, mib))
            name = f"bench_{net}_{r}_{os.getpid()}"
            opt = work / "runs" / f"{name}.yml"
            opt.write_text(
                yaml.safe_dump(
                    basicsr_options(net, cfg, b, a, peer_prep, name, args.workers, args.device)
                )
            )
            wall, mib = timed(
                [peer, str(root / "basicsr" / "train.py"), "-opt", str(opt)],
                env=env,
                cwd=str(root),
                show=args.show,
            )
            res["basicsr"].append((basicsr_its(root / "experiments" / name, a, b), wall, mib))
            shutil.rmtree(root / "experiments" / name, ignore_errors=True)
            (s_its, s_wall, _), (b_its, b_wall, _) = res["srlab"][-1], res["basicsr"][-1]
            print(
                f"  {net} round {r}: srlab {s_its:.2f} it/s ({s_wall:.1f}s in all), "
                f"BasicSR {b_its:.2f} it/s ({b_wall:.1f}s in all)",
                flush=True,
            )
        row = {"net": net, **{k: v for k, v in cfg.items() if k != "net"}, "widths": cfg["net"]}
        for fw in ("srlab", "basicsr"):
            row[f"{fw}_its"] = statistics.median(x[0] for x in res[fw])
            row[f"{fw}_wall"] = statistics.median(x[1] for x in res[fw])
            row[f"{fw}_mib"] = max(x[2] for x in res[fw])
        row["ratio"] = row["srlab_its"] / row["basicsr_its"]
        row["paired"] = statistics.median(x[0] / y[0] for x, y in zip(res["srlab"], res["basicsr"]))
        rows.append(row)

    print(
        f"\n{args.size} sizes, device {args.device}, {os.cpu_count()} CPUs, "
        f"{args.threads or 'default'} intra-op threads, {args.workers} loader workers; "
        f"{b} iterations per run, it/s over iterations {a}..{b}, median of {args.rounds} "
        "round(s); wall = the whole process incl. start-up"
    )
    head = (
        f"{'network':<14} {'x':>2} {'batch':>5} {'HR patch':>8}  "
        f"{'srlab it/s':>10} {'BasicSR it/s':>12} "
        f"{'srlab smp/s':>11} {'BasicSR smp/s':>13} {'srlab MiB':>9} {'BasicSR MiB':>11} "
        f"{'srlab wall':>10} {'BasicSR wall':>12} {'ratio':>6} {'paired':>6}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['net']:<14} {r['scale']:>2} {r['batch']:>5} {r['hr_patch']:>8}  "
            f"{r['srlab_its']:>10.2f} {r['basicsr_its']:>12.2f} "
            f"{r['srlab_its'] * r['batch']:>11.1f} {r['basicsr_its'] * r['batch']:>13.1f} "
            f"{r['srlab_mib']:>9.0f} {r['basicsr_mib']:>11.0f} "
            f"{r['srlab_wall']:>9.1f}s {r['basicsr_wall']:>11.1f}s "
            f"{r['ratio']:>6.2f} {r['paired']:>6.2f}"
        )
    print(
        "ratio = srlab it/s / BasicSR it/s, of the medians (>1: srlab faster); "
        "paired = median of the rounds' ratios (each round runs both back to back); widths: "
        + "; ".join(f"{r['net']} {json.dumps(r['widths'])}" for r in rows)
    )
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
