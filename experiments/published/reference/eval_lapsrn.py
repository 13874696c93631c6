"""srlab's loaded LapSRN / MS-LapSRN MatConvNet releases against the authors' DagNN graph.

The reference is ``ref_dagnn.py`` (the ``.mat``'s DagNN layer list run with MatConvNet's layer
semantics), on the same LR inputs; ``NOREF=1`` skips it. The jobs are LapSRN x2/x4/x8 and
MS-LapSRN D5R8/D5R5/D5R2 at x2/x4/x8; a second argument keeps only the named files.

Usage::

    RELEASES=DIR python eval_lapsrn.py Set5,Set14 [LapSRN_x2,MSLapSRN_D5R8,...]

``DIR`` holds ``lap/<name>.mat`` and the ``Set5/``, ``Set14/`` BMPs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
from eval_common import RELEASES, pairs, score
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
        for _name, ly, hy in pairs(st, s):
            sr = rel.net(ly, s)[-1] if "MS" in f else rel.net(ly)[-1]
            ref = dag.run({inp: ly}, out) if os.environ.get("NOREF") != "1" else sr
            md = max(md, float((sr - ref).abs().max()))
            a.append(score(sr, hy, s))
            b.append(score(ref, hy, s))
        print(
            f"{f} x{s} {st}: srlab {np.mean(a):.4f}  reference {np.mean(b):.4f}  "
            f"max|diff| {md:.2e}",
            flush=True,
        )
