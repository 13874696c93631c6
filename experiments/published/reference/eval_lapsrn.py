import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_common import *
from ref_dagnn import Dag

from srlab.published import load_release

sets = sys.argv[1].split(",")
jobs = [
    ("LapSRN_x2", 2, "LR", "level1_output"),
    ("LapSRN_x4", 4, "LR", "level1_output"),
    ("LapSRN_x8", 8, "LR", "level1_output"),
]
for r in ("R8", "R5", "R2"):
    for s in (2, 4, 8):
        jobs.append((f"MSLapSRN_D5{r}", s, f"x{s}SR_LR", f"x{s}SR_{s}x_output"))
only = sys.argv[2].split(",") if len(sys.argv) > 2 else None
for f, s, inp, out in jobs:
    if only and f not in only:
        continue
    rel = load_release(f"{RELEASES}/lap/{f}.mat")
    dag = Dag(f"{RELEASES}/lap/{f}.mat")
    for st in sets:
        a, b, md = [], [], 0.0
        for name, ly, hy in pairs(st, s):
            sr = rel.net(ly, s)[-1] if "MS" in f else rel.net(ly)[-1]
            ref = dag.run({inp: ly}, out) if os.environ.get("NOREF") != "1" else sr
            md = max(md, float((sr - ref).abs().max()))
            a.append(score(sr, hy, s))
            b.append(score(ref, hy, s))
        print(
            f"{f} x{s} {st}: srlab {np.mean(a):.4f}  reference {np.mean(b):.4f}  max|diff| {md:.2e}",
            flush=True,
        )
