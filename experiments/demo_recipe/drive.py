"""Run sweep configs as parallel processes until a deadline."""

import argparse
import json
import os
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--plan", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--jobs", type=int, default=8)
ap.add_argument("--deadline", type=float, default=300)
ap.add_argument("--ms", type=float, default=3.0, help="estimated ms/step under contention")
ap.add_argument("--device", default="cuda")
a = ap.parse_args()
with open(a.plan) as f:
    plan = json.load(f)
t0 = time.time()
running = []
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
with open(os.path.join(a.out, "drive.log"), "a") as log:
    while plan or running:
        running = [(p, c) for p, c in running if p.poll() is None]
        left = a.deadline - (time.time() - t0)
        if left <= 0:
            for p, c in running:
                p.kill()
                print("killed", c["name"], flush=True)
            break
        while plan and len(running) < a.jobs:
            c = plan[0]
            need = c["steps"] * a.ms * max(1.0, c.get("batch", 8) / 8) ** 0.3 / 1000 + 15
            if need > left:
                print("skip", c["name"], f"needs {need:.0f}s, {left:.0f}s left", flush=True)
                plan.pop(0)
                continue
            plan.pop(0)
            p = subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(here, "sweep.py"),
                    "--device",
                    a.device,
                    "--cfg",
                    json.dumps(c),
                    "--out",
                    os.path.join(a.out, "results.jsonl"),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            running.append((p, c))
            print("start", c["name"], f"at {time.time() - t0:.0f}s", flush=True)
        time.sleep(1)
    print(f"done at {time.time() - t0:.0f}s", flush=True)
