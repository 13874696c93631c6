r"""Demo-recipe sweep (research script, not part of the srlab package).

ESPCN x3 on the Y channel of the 4 sample photos, patches cut on the device in one gather,
evaluated on SAMPLE_TEST with srlab's protocol (srlab.psnr after srlab's colour conversions and
imresize). One run per call::

    python sweep.py --device cuda --out results.jsonl \
        --cfg '{"name": "relu", "steps": 18000, "act": "relu"}'

keys: steps batch patch lr warmup eta_min sched(cos|wsd|const) betas opt act(tanh|relu) init(orth)
ema loss(l2|l1|charb) jitter_p contrast q alpha(texture-weighted sampling) seed curve.
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
from srlab import imresize, psnr
from srlab.archs import ESPCN
from srlab.core.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from srlab.data import SAMPLE_TEST, SAMPLE_TRAIN, SampleImages
from srlab.data.sources import prepare_pair

S = 3


class Patches:
    def __init__(self, recs, P, dev, alpha=0.0, q=0.0):
        self.n = len(recs)
        self.P = P
        self.dev = dev
        hl = max(r.lr.shape[1] for r in recs)
        wl = max(r.lr.shape[2] for r in recs)
        self.lr = torch.zeros(self.n, 3, hl, wl)
        self.hr = torch.zeros(self.n, 3, hl * S, wl * S)
        self.hw = torch.tensor([list(r.lr.shape[1:]) for r in recs])
        for k, r in enumerate(recs):
            h, w = r.lr.shape[1:]
            self.lr[k, :, :h, :w] = r.lr.float() / 255
            self.hr[k, :, : h * S, : w * S] = r.hr.float() / 255
        self.lr, self.hr, self.hw = self.lr.to(dev), self.hr.to(dev), self.hw.to(dev)
        self.weighted = None
        if q > 0:  # texture-weighted top-left positions: (std of the HR-Y patch + eps)^alpha
            self.weighted = []
            for k, r in enumerate(recs):
                h, w = r.lr.shape[1:]
                y = rgb_to_y(self.hr[k : k + 1, :, : h * S, : w * S])
                m = F.avg_pool2d(y, P * S, stride=S)
                m2 = F.avg_pool2d(y * y, P * S, stride=S)
                sd = (m2 - m * m).clamp_min(0).sqrt()[0, 0]
                wgt = (sd + 2.0 / 255) ** alpha
                wgt = wgt / wgt.sum()
                wgt = (1 - q) / wgt.numel() + q * wgt
                self.weighted.append((wgt.flatten(), sd.shape[1]))
        self.count = 0

    def sample(self, B, g):
        dev, P = self.dev, self.P
        img = (torch.arange(B, device=dev) + self.count) % self.n
        self.count += B
        h, w = self.hw[img, 0], self.hw[img, 1]
        if self.weighted is None:
            i = (torch.rand(B, device=dev, generator=g) * (h - P + 1)).floor().long()
            j = (torch.rand(B, device=dev, generator=g) * (w - P + 1)).floor().long()
        else:
            i = torch.empty(B, dtype=torch.long, device=dev)
            j = torch.empty_like(i)
            for k in range(self.n):
                sel = (img == k).nonzero().flatten()
                wk, ww = self.weighted[k]
                idx = torch.multinomial(wk, len(sel), replacement=True, generator=g)
                i[sel] = idx // ww
                j[sel] = idx % ww
        a = torch.arange(P, device=dev)
        ah = torch.arange(P * S, device=dev)
        rl, cl = i[:, None] + a, j[:, None] + a
        rh, ch = i[:, None] * S + ah, j[:, None] * S + ah
        lr = self.lr[img[:, None, None], :, rl[:, :, None], cl[:, None, :]].permute(0, 3, 1, 2)
        hr = self.hr[img[:, None, None], :, rh[:, :, None], ch[:, None, :]].permute(0, 3, 1, 2)
        f = torch.rand(B, 3, device=dev, generator=g) < 0.5
        for d, (ld, hd) in enumerate([(-1, -1), (-2, -2)]):
            lr = torch.where(f[:, d, None, None, None], lr.flip(ld), lr)
            hr = torch.where(f[:, d, None, None, None], hr.flip(hd), hr)
        lr = torch.where(f[:, 2, None, None, None], lr.transpose(-1, -2), lr)
        hr = torch.where(f[:, 2, None, None, None], hr.transpose(-1, -2), hr)
        return lr.contiguous(), hr.contiguous()


def jitter(lr, hr, p, lo, hi, g):
    B = lr.shape[0]
    u = torch.rand(B, 3, device=lr.device, generator=g)
    c = (lo + (hi - lo) * u[:, 1])[:, None, None, None]
    m = hr.mean((1, 2, 3), keepdim=True)
    vmin = torch.minimum(lr.amin((1, 2, 3), keepdim=True), hr.amin((1, 2, 3), keepdim=True))
    vmax = torch.maximum(lr.amax((1, 2, 3), keepdim=True), hr.amax((1, 2, 3), keepdim=True))
    tlo, thi = -(vmin - m) * c, 1 - (vmax - m) * c
    t = tlo + (thi - tlo) * u[:, 2, None, None, None]
    on = (u[:, 0] < p)[:, None, None, None]
    out = []
    for x in (lr, hr):
        y = (((x - m) * c + t) * 255).round() / 255
        out.append(torch.where(on, y.clamp(0, 1), x))
    return out


@torch.no_grad()
def evaluate(net, recs, dev):
    res = {}
    for r in recs:
        lr = (r.lr.float() / 255)[None].to(dev)
        hr = (r.hr.float() / 255)[None].to(dev)
        ycc = rgb_to_ycbcr(lr)
        y = net(ycc[:, :1])
        sr = ycbcr_to_rgb(torch.cat([y, imresize(ycc[:, 1:], S)], 1))
        bic = imresize(lr, S)
        res[r.name] = (
            float(psnr(bic, hr, crop_border=S)[0]),
            float(psnr(sr, hr, crop_border=S)[0]),
        )
    return res


def run(cfg, dev, train, test):
    torch.manual_seed(cfg.get("seed", 12345))
    g = torch.Generator(device=dev)
    g.manual_seed(cfg.get("seed", 12345))
    net = ESPCN(scale=S, in_channels=1, activation=cfg.get("act", "tanh")).to(dev)
    if cfg.get("init") == "orth":
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.orthogonal_(mod.weight, gain=cfg.get("gain", 1.0))
                nn.init.zeros_(mod.bias)
    ema = None
    if cfg.get("ema"):
        ema = torch.optim.swa_utils.AveragedModel(
            net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg["ema"])
        )
    lr0 = cfg.get("lr", 3e-3)
    N = cfg["steps"]
    W = cfg.get("warmup", 0)
    eta = cfg.get("eta_min", 1e-5)
    kw = dict(lr=lr0, betas=tuple(cfg.get("betas", (0.9, 0.999))), eps=cfg.get("eps", 1e-8))
    if dev.type == "cuda":
        kw["fused"] = True
    opt = (
        torch.optim.Adam(net.parameters(), **kw)
        if cfg.get("opt", "adam") == "adam"
        else torch.optim.SGD(net.parameters(), lr=lr0, momentum=0.9, nesterov=True)
    )
    pat = Patches(train, cfg.get("patch", 17), dev, cfg.get("alpha", 0.0), cfg.get("q", 0.0))
    B = cfg.get("batch", 8)
    jp = cfg.get("jitter_p", 0.5)
    jlo, jhi = cfg.get("contrast", (0.1, 1.0))
    loss_kind = cfg.get("loss", "l2")
    sched = cfg.get("sched", "cos")
    curve = {}
    t0 = time.time()
    for step in range(N):
        if step < W:
            lr_t = lr0 * (step + 1) / W
        elif sched == "cos":
            lr_t = eta + (lr0 - eta) * 0.5 * (1 + math.cos(math.pi * (step - W) / max(1, N - W)))
        elif sched == "wsd":  # constant, then linear decay over the last 30 %
            d0 = int(0.7 * N)
            lr_t = lr0 if step < d0 else eta + (lr0 - eta) * (N - step) / (N - d0)
        else:
            lr_t = lr0
        for gr in opt.param_groups:
            gr["lr"] = lr_t
        lr, hr = pat.sample(B, g)
        if jp > 0:
            lr, hr = jitter(lr, hr, jp, jlo, jhi, g)
        x, t = rgb_to_y(lr), rgb_to_y(hr)
        out = net(x)
        if loss_kind == "l2":
            loss = F.mse_loss(out, t)
        elif loss_kind == "l1":
            loss = F.l1_loss(out, t)
        else:
            loss = torch.sqrt((out - t) ** 2 + 1e-6).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        if cfg.get("curve") and (step + 1) in cfg["curve"]:
            net.eval()
            r = evaluate(net, test, dev)
            net.train()
            curve[step + 1] = sum(s - b for b, s in r.values()) / len(r)
    dt = time.time() - t0
    m = ema.module if ema is not None else net
    m.eval()
    r = evaluate(m, test, dev)
    gains = {k: s - b for k, (b, s) in r.items()}
    mean = sum(gains.values()) / len(gains)
    nocell = sum(v for k, v in gains.items() if k != "cell") / (len(gains) - 1)
    return dict(
        cfg=cfg,
        mean=round(mean, 4),
        nocell=round(nocell, 4),
        cell=round(gains["cell"], 3),
        gains={k: round(v, 3) for k, v in gains.items()},
        bic=round(sum(b for b, _ in r.values()) / len(r), 3),
        curve=curve,
        secs=round(dt, 1),
        ms_step=round(1000 * dt / N, 3),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(a.device)
    train = [prepare_pair(r, S) for r in SampleImages(SAMPLE_TRAIN).load(S)]
    test = [prepare_pair(r, S) for r in SampleImages(SAMPLE_TEST).load(S)]
    cfg = json.loads(a.cfg)
    res = run(cfg, dev, train, test)
    with open(a.out, "a") as f:
        f.write(json.dumps(res) + "\n")
    print(
        cfg["name"],
        f"mean {res['mean']:+.3f} nocell {res['nocell']:+.3f} cell {res['cell']:+.2f}  "
        f"{res['secs']:.1f}s {res['ms_step']:.2f} ms/step",
        flush=True,
    )


if __name__ == "__main__":
    main()
