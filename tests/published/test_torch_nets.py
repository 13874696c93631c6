"""Recognisers of PyTorch releases: every layout is built here in its official key layout with
random values (small widths), loaded, and compared with an independent reference forward
written from the authors' definitions on the release's own value range."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from srlab.published import torch_nets as tn
from srlab.published.core import RawRelease, ReleaseError

DIV2K = torch.tensor([0.4488, 0.4371, 0.4040])
SD = dict[str, Tensor]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def put(
    sd: SD,
    name: str,
    cout: int,
    cin: int,
    k: int,
    bias: bool = True,
    std: float | None = None,
    bias_std: float = 0.1,
) -> None:
    """A conv in the release: He-like weights (keeps activations O(1)), random biases."""
    std = std if std is not None else math.sqrt(1.0 / (cin * k * k))
    sd[f"{name}.weight"] = torch.randn(cout, cin, k, k) * std
    if bias:
        sd[f"{name}.bias"] = torch.randn(cout) * bias_std


def conv(x: Tensor, sd: SD, name: str, groups: int = 1) -> Tensor:
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd.get(f"{name}.bias"), padding=w.shape[-1] // 2, groups=groups)


def raw(sd: SD, path: str = "release.pth") -> RawRelease:
    return RawRelease(path=path, format="pytorch", tensors=dict(sd))


def close(a: Tensor, b: Tensor, tol: float = 2e-5) -> None:
    assert a.shape == b.shape
    err = float((a - b).abs().max())
    assert err < tol, f"max abs difference {err:.3g}"


# --------------------------------------------------------------------------- EDSR-PyTorch


def assert_spec(rel, **expected: object) -> None:
    """The release's network description holds these arguments (others are not checked)."""
    assert rel is not None
    assert {k: rel.spec.get(k) for k in expected} == expected, rel.spec


def mean_shift(sd: SD, rng: float = 255.0, mean: Tensor = DIV2K) -> None:
    eye = torch.eye(3).view(3, 3, 1, 1)
    sd["sub_mean.weight"], sd["sub_mean.bias"] = eye.clone(), -rng * mean
    sd["add_mean.weight"], sd["add_mean.bias"] = eye.clone(), rng * mean


def edsr_up(sd: SD, prefix: str, scale: int, f: int, bias_std: float) -> list[tuple[str, int]]:
    stages = (
        [(f"{prefix}.0", 3)]
        if scale == 3
        else [(f"{prefix}.{2 * i}", 2) for i in range(int(math.log2(scale)))]
    )
    for name, r in stages:
        put(sd, name, r * r * f, f, 3, bias_std=bias_std)
    return stages


def edsr_pytorch_sd(
    nb: int, f: int, scale: int, with_mean: bool
) -> tuple[SD, list[tuple[str, int]]]:
    sd: SD = {}
    if with_mean:
        mean_shift(sd)
    put(sd, "head.0", f, 3, 3, bias_std=20)  # [0, 255] network: biases of that size
    for i in range(nb):
        put(sd, f"body.{i}.body.0", f, f, 3, bias_std=5)
        put(sd, f"body.{i}.body.2", f, f, 3, bias_std=5)
    put(sd, f"body.{nb}", f, f, 3, bias_std=5)
    ups = edsr_up(sd, "tail.0", scale, f, 5)
    put(sd, "tail.1", 3, f, 3, bias_std=20)
    return sd, ups


def edsr_pytorch_ref(
    sd: SD, x: Tensor, nb: int, res_scale: float, ups: list[tuple[str, int]]
) -> Tensor:
    """EDSR-PyTorch's forward on [0, 255] (MeanShift as the DIV2K mean x255 when not in sd)."""
    m = (DIV2K * 255).view(1, 3, 1, 1)
    y = conv(x * 255, sd, "sub_mean") if "sub_mean.weight" in sd else x * 255 - m
    h = conv(y, sd, "head.0")
    r = h
    for i in range(nb):
        r = r + res_scale * conv(F.relu(conv(r, sd, f"body.{i}.body.0")), sd, f"body.{i}.body.2")
    r = conv(r, sd, f"body.{nb}") + h
    for name, s in ups:
        r = F.pixel_shuffle(conv(r, sd, name), s)
    out = conv(r, sd, "tail.1")
    out = conv(out, sd, "add_mean") if "add_mean.weight" in sd else out + m
    return out / 255


@pytest.mark.parametrize(
    ("nb", "f", "scale", "with_mean"), [(16, 64, 2, True), (2, 8, 3, False), (1, 256, 4, True)]
)
def test_edsr_pytorch(nb: int, f: int, scale: int, with_mean: bool) -> None:
    sd, ups = edsr_pytorch_sd(nb, f, scale, with_mean)
    rel = tn.edsr_pytorch(raw(sd))
    assert rel is not None and rel.arch == "edsr"
    res_scale = 0.1 if f == 256 else 1.0
    assert rel.spec["_target_"] == "srlab.archs.edsr.EDSR"
    assert_spec(rel, num_block=nb, num_feat=f, scale=scale, res_scale=res_scale)
    if (nb, f) == (16, 64):
        assert rel.name.startswith("EDSR-baseline x2")
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        close(rel.net(x), edsr_pytorch_ref(sd, x, nb, res_scale, ups))


def test_edsr_pytorch_custom_mean_and_errors() -> None:
    sd, ups = edsr_pytorch_sd(1, 8, 2, with_mean=False)
    mean = torch.tensor([0.5, 0.4, 0.3])
    mean_shift(sd, mean=mean)
    rel = tn.edsr_pytorch(raw(sd))
    assert rel is not None and rel.spec["rgb_mean"] == pytest.approx(mean.tolist())
    x = torch.rand(1, 3, 5, 5)
    with torch.no_grad():
        close(rel.net(x), edsr_pytorch_ref(sd, x, 1, 1.0, ups))
    with pytest.raises(
        ReleaseError, match=r"not part of the recognised architecture.*body\.7\.extra"
    ):
        tn.edsr_pytorch(raw({**sd, "body.7.extra": torch.zeros(3)}))
    broken = dict(sd)
    del broken["body.0.body.2.bias"]
    with pytest.raises(ReleaseError, match=r"'body\.0\.body\.2\.bias' is missing"):
        tn.edsr_pytorch(raw(broken))
    half = dict(sd)
    del half["add_mean.weight"]
    with pytest.raises(ReleaseError, match=r"add_mean\.weight are missing"):
        tn.edsr_pytorch(raw(half))
    wrong = {**sd, "tail.1.weight": torch.zeros(3, 7, 3, 3)}
    with pytest.raises(ReleaseError, match="tail"):
        tn.edsr_pytorch(raw(wrong))


def test_trained_mean_shift_folded() -> None:
    """RCAN's code (and early EDSR-PyTorch) trained the MeanShift convs: any invertible 1x1 pair
    is folded into the head/tail convolutions."""
    sd, ups = edsr_pytorch_sd(2, 8, 2, with_mean=True)
    sd["sub_mean.weight"] = (torch.eye(3) + 0.05 * torch.randn(3, 3)).view(3, 3, 1, 1)
    sd["sub_mean.bias"] = sd["sub_mean.bias"] + torch.randn(3)
    sd["add_mean.weight"] = (torch.eye(3) + 0.05 * torch.randn(3, 3)).view(3, 3, 1, 1)
    sd["add_mean.bias"] = sd["add_mean.bias"] + torch.randn(3)
    rel = tn.edsr_pytorch(raw(sd))
    assert rel is not None and any("folded" in n for n in rel.notes)
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        close(rel.net(x), edsr_pytorch_ref(sd, x, 2, 1.0, ups))
    sd = carn_sd(8, True, ["up2", "up3", "up4"])
    sd["sub_mean.shifter.weight"] = (torch.eye(3) + 0.05 * torch.randn(3, 3)).view(3, 3, 1, 1)
    sd["add_mean.shifter.bias"] = sd["add_mean.shifter.bias"] + 0.1 * torch.randn(3)
    rel = tn.carn_m(raw(sd))
    assert rel is not None
    with torch.no_grad():
        close(rel.net(x, scale=3), carn_ref(sd, x, True, "up3", 4), 1e-5)
    sd["sub_mean.shifter.weight"] = torch.zeros(3, 3, 1, 1)
    with pytest.raises(ReleaseError, match="invertible"):
        tn.carn_m(raw(sd))


def test_mdsr_pytorch() -> None:
    f, nb = 8, 2
    sd: SD = {}
    mean_shift(sd)
    put(sd, "head.0", f, 3, 3, bias_std=20)
    ups = {}
    for i, s in enumerate((2, 3, 4)):
        for r in range(2):
            put(sd, f"pre_process.{i}.{r}.body.0", f, f, 5, bias_std=5)
            put(sd, f"pre_process.{i}.{r}.body.2", f, f, 5, bias_std=5)
        ups[s] = edsr_up(sd, f"upsample.{i}", s, f, 5)
    for i in range(nb):
        put(sd, f"body.{i}.body.0", f, f, 3, bias_std=5)
        put(sd, f"body.{i}.body.2", f, f, 3, bias_std=5)
    put(sd, f"body.{nb}", f, f, 3, bias_std=5)
    put(sd, "tail.0", 3, f, 3, bias_std=20)
    assert tn.edsr_pytorch(raw(sd)) is None
    rel = tn.mdsr_pytorch(raw(sd))
    assert rel is not None and rel.spec["scales"] == [2, 3, 4] and rel.spec["num_block"] == nb

    def ref(x: Tensor, i: int, s: int) -> Tensor:
        h = conv(conv(x * 255, sd, "sub_mean"), sd, "head.0")
        for r in range(2):
            p = f"pre_process.{i}.{r}.body"
            h = h + conv(F.relu(conv(h, sd, f"{p}.0")), sd, f"{p}.2")
        r_ = h
        for b in range(nb):
            r_ = r_ + conv(F.relu(conv(r_, sd, f"body.{b}.body.0")), sd, f"body.{b}.body.2")
        r_ = conv(r_, sd, f"body.{nb}") + h
        for name, k in ups[s]:
            r_ = F.pixel_shuffle(conv(r_, sd, name), k)
        return conv(conv(r_, sd, "tail.0"), sd, "add_mean") / 255

    x = torch.rand(1, 3, 5, 4)
    with torch.no_grad():
        for i, s in enumerate((2, 3, 4)):
            close(rel.net(x, scale=s), ref(x, i, s))


# --------------------------------------------------------------------------- RCAN


def rcan_sd(
    prefix_block: str,
    rcab: str,
    ca: str,
    ca_idx: tuple[int, int],
    group_conv: str | None,
    ng: int,
    nb: int,
    f: int,
    red: int,
) -> SD:
    sd: SD = {}
    for g in range(ng):
        for b in range(nb):
            p = f"body.{g}.{prefix_block}.{b}.{rcab}"
            put(sd, f"{p}.0", f, f, 3, bias_std=5)
            put(sd, f"{p}.2", f, f, 3, bias_std=5)
            put(sd, f"{p}.3.{ca}.{ca_idx[0]}", f // red, f, 1, std=0.02, bias_std=0.5)
            put(sd, f"{p}.3.{ca}.{ca_idx[1]}", f, f // red, 1, std=0.5, bias_std=0.5)
        put(
            sd,
            f"body.{g}.{group_conv}" if group_conv else f"body.{g}.{prefix_block}.{nb}",
            f,
            f,
            3,
            bias_std=5,
        )
    return sd


def rcan_ref_body(
    sd: SD,
    h: Tensor,
    block: str,
    rcab: str,
    ca: str,
    ca_idx: tuple[int, int],
    group_conv: str | None,
    ng: int,
    nb: int,
) -> Tensor:
    r = h
    for g in range(ng):
        gin = r
        for b in range(nb):
            p = f"body.{g}.{block}.{b}.{rcab}"
            y = conv(F.relu(conv(r, sd, f"{p}.0")), sd, f"{p}.2")
            a = torch.sigmoid(
                conv(
                    F.relu(conv(y.mean((2, 3), keepdim=True), sd, f"{p}.3.{ca}.{ca_idx[0]}")),
                    sd,
                    f"{p}.3.{ca}.{ca_idx[1]}",
                )
            )
            r = r + y * a
        r = gin + conv(r, sd, f"body.{g}.{group_conv}" if group_conv else f"body.{g}.{block}.{nb}")
    return r


def test_rcan_pytorch() -> None:
    ng, nb, f, red, scale = 2, 3, 16, 4, 2
    sd = rcan_sd("body", "body", "conv_du", (0, 2), None, ng, nb, f, red)
    mean_shift(sd)
    put(sd, "head.0", f, 3, 3, bias_std=20)
    put(sd, f"body.{ng}", f, f, 3, bias_std=5)
    ups = edsr_up(sd, "tail.0", scale, f, 5)
    put(sd, "tail.1", 3, f, 3, bias_std=20)
    assert tn.edsr_pytorch(raw(sd)) is None
    rel = tn.rcan_pytorch(raw(sd))
    assert rel is not None
    assert_spec(rel, num_group=ng, num_block=nb, reduction=red, scale=scale)

    x = torch.rand(1, 3, 6, 5)
    h = conv(conv(x * 255, sd, "sub_mean"), sd, "head.0")
    r = (
        conv(
            rcan_ref_body(sd, h, "body", "body", "conv_du", (0, 2), None, ng, nb), sd, f"body.{ng}"
        )
        + h
    )
    for name, s in ups:
        r = F.pixel_shuffle(conv(r, sd, name), s)
    ref = conv(conv(r, sd, "tail.1"), sd, "add_mean") / 255
    with torch.no_grad():
        close(rel.net(x), ref)


def test_rcan_basicsr() -> None:
    ng, nb, f, red, scale = 2, 2, 16, 4, 4
    sd = rcan_sd("residual_group", "rcab", "attention", (1, 3), "conv", ng, nb, f, red)
    put(sd, "conv_first", f, 3, 3, bias_std=20)
    put(sd, "conv_after_body", f, f, 3, bias_std=5)
    ups = edsr_up(sd, "upsample", scale, f, 5)
    put(sd, "conv_last", 3, f, 3, bias_std=20)
    assert tn.edsr_basicsr(raw(sd)) is None
    rel = tn.rcan_basicsr(raw(sd))
    assert rel is not None
    assert_spec(rel, num_group=ng, num_block=nb, reduction=red, scale=scale)
    m = DIV2K.view(1, 3, 1, 1)
    x = torch.rand(1, 3, 5, 6)
    h = conv((x - m) * 255, sd, "conv_first")
    r = (
        conv(
            rcan_ref_body(sd, h, "residual_group", "rcab", "attention", (1, 3), "conv", ng, nb),
            sd,
            "conv_after_body",
        )
        + h
    )
    for name, s in ups:
        r = F.pixel_shuffle(conv(r, sd, name), s)
    ref = conv(r, sd, "conv_last") / 255 + m
    with torch.no_grad():
        close(rel.net(x), ref)


def test_edsr_basicsr() -> None:
    nb, f, scale = 3, 8, 3
    sd: SD = {}
    put(sd, "conv_first", f, 3, 3, bias_std=20)
    for i in range(nb):
        put(sd, f"body.{i}.conv1", f, f, 3, bias_std=5)
        put(sd, f"body.{i}.conv2", f, f, 3, bias_std=5)
    put(sd, "conv_after_body", f, f, 3, bias_std=5)
    ups = edsr_up(sd, "upsample", scale, f, 5)
    put(sd, "conv_last", 3, f, 3, bias_std=20)
    rel = tn.edsr_basicsr(raw(sd))
    assert rel is not None and (rel.spec["num_block"], rel.spec["scale"]) == (nb, scale)
    m = DIV2K.view(1, 3, 1, 1)
    x = torch.rand(1, 3, 4, 5)
    h = conv((x - m) * 255, sd, "conv_first")
    r = h
    for i in range(nb):
        r = r + conv(F.relu(conv(r, sd, f"body.{i}.conv1")), sd, f"body.{i}.conv2")
    r = conv(r, sd, "conv_after_body") + h
    for name, s in ups:
        r = F.pixel_shuffle(conv(r, sd, name), s)
    with torch.no_grad():
        close(rel.net(x), conv(r, sd, "conv_last") / 255 + m)


# --------------------------------------------------------------------------- RRDBNet


def rrdb_generic(nb: int, f: int, g: int, n_up: int, c: int = 3) -> SD:
    """RRDBNet weights under neutral names (first, rrdb.i.r.c, body, up.j, hr, last)."""
    sd: SD = {}
    put(sd, "first", f, c, 3)
    for i in range(nb):
        for r in range(3):
            for k in range(5):
                put(sd, f"rrdb.{i}.{r}.{k}", g if k < 4 else f, f + k * g, 3)
    put(sd, "body", f, f, 3)
    for j in range(n_up):
        put(sd, f"up.{j}", f, f, 3)
    put(sd, "hr", f, f, 3)
    put(sd, "last", c, f, 3)
    return sd


def rrdb_ref(sd: SD, x: Tensor, nb: int, n_up: int) -> Tensor:
    """ESRGAN's RRDBNet forward (xinntao/ESRGAN RRDBNet_arch.py) on the neutral names."""
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    fea = conv(x, sd, "first")
    t = fea
    for i in range(nb):
        rin = t
        for r in range(3):
            feats = [t]
            for k in range(4):
                feats.append(lrelu(conv(torch.cat(feats, 1), sd, f"rrdb.{i}.{r}.{k}")))
            t = t + 0.2 * conv(torch.cat(feats, 1), sd, f"rrdb.{i}.{r}.4")
        t = rin + 0.2 * t  # RRDB: RDB3(RDB2(RDB1(x))) * 0.2 + x
    fea = fea + conv(t, sd, "body")
    for j in range(n_up):
        fea = lrelu(conv(F.interpolate(fea, scale_factor=2, mode="nearest"), sd, f"up.{j}"))
    return conv(lrelu(conv(fea, sd, "hr")), sd, "last")


def rename_rrdb(gen: SD, layout: str, nb: int, n_up: int) -> SD:
    names: dict[str, str] = {}
    if layout == "basicsr":
        names.update(first="conv_first", body="conv_body", hr="conv_hr", last="conv_last")
        names.update({f"up.{j}": f"conv_up{j + 1}" for j in range(n_up)})
        rdb = lambda i, r, k: f"body.{i}.rdb{r + 1}.conv{k + 1}"  # noqa: E731
    elif layout == "esrgan":
        names.update(first="conv_first", body="trunk_conv", hr="HRconv", last="conv_last")
        names.update({f"up.{j}": f"upconv{j + 1}" for j in range(n_up)})
        rdb = lambda i, r, k: f"RRDB_trunk.{i}.RDB{r + 1}.conv{k + 1}"  # noqa: E731
    elif layout == "sequential":  # xinntao's original RRDB_ESRGAN_x4.pth
        names.update(first="model.0", body=f"model.1.sub.{nb}")
        names.update({f"up.{j}": f"model.{3 * j + 3}" for j in range(n_up)})
        names.update(hr=f"model.{3 * n_up + 2}", last=f"model.{3 * n_up + 4}")
        rdb = lambda i, r, k: f"model.1.sub.{i}.RDB{r + 1}.conv{k + 1}.0"  # noqa: E731
    else:  # KAIR's sequential RRDB: upconv blocks model.2.1, model.3.1, tail model.{n}.0.0 / .1
        names.update(first="model.0", body=f"model.1.sub.{nb}")
        names.update({f"up.{j}": f"model.{j + 2}.1" for j in range(n_up)})
        names.update(hr=f"model.{n_up + 2}.0.0", last=f"model.{n_up + 2}.1")
        rdb = lambda i, r, k: f"model.1.sub.{i}.RDB{r + 1}.conv{k + 1}" + (".0" if k < 4 else "")  # noqa: E731
    out: SD = {}
    for key, v in gen.items():
        base, p = key.rsplit(".", 1)
        if base.startswith("rrdb."):
            _, i, r, k = base.split(".")
            new = rdb(int(i), int(r), int(k))
        else:
            new = names[base]
        out[f"{new}.{p}"] = v
    return out


@pytest.mark.parametrize("layout", ["basicsr", "esrgan", "sequential", "kair"])
@pytest.mark.parametrize("n_up", [2, 1])
def test_rrdbnet_layouts(layout: str, n_up: int) -> None:
    nb, f, g = 2, 8, 4
    gen = rrdb_generic(nb, f, g, n_up)
    sd = rename_rrdb(gen, layout, nb, n_up)
    rel = tn.rrdbnet(raw(sd))
    assert rel is not None and rel.arch == "rrdbnet"
    assert_spec(rel, num_block=nb, num_feat=f, num_grow_ch=g, scale=2**n_up)
    x = torch.rand(1, 3, 5, 4)
    with torch.no_grad():
        close(rel.net(x), rrdb_ref(gen, x, nb, n_up), 1e-5)
    assert all(
        r(raw(sd)) is None for r in (tn.edsr_pytorch, tn.edsr_basicsr, tn.carn, tn.rcan_pytorch)
    )


def test_rrdbnet_refusals() -> None:
    gen = rrdb_generic(1, 8, 4, 2)
    sd = rename_rrdb(gen, "basicsr", 1, 2)
    sd["conv_first.weight"] = torch.randn(8, 12, 3, 3)  # RealESRGAN_x2plus: pixel-unshuffled input
    with pytest.raises(ReleaseError, match="pixel-unshuffle"):
        tn.rrdbnet(raw(sd))
    sd = rename_rrdb(gen, "esrgan", 1, 2)
    del sd["RRDB_trunk.0.RDB2.conv3.weight"]
    with pytest.raises(ReleaseError, match=r"RDB2\.conv3\.weight' is missing"):
        tn.rrdbnet(raw(sd))


def test_msrresnet_refused() -> None:
    sd: SD = {}
    put(sd, "conv_first", 8, 3, 3)
    put(sd, "body.0.conv1", 8, 8, 3)
    put(sd, "body.0.conv2", 8, 8, 3)
    put(sd, "upconv1", 32, 8, 3)
    put(sd, "conv_hr", 8, 8, 3)
    put(sd, "conv_last", 3, 8, 3)
    assert tn.edsr_basicsr(raw(sd)) is None and tn.rrdbnet(raw(sd)) is None
    with pytest.raises(ReleaseError, match="MSRResNet"):
        tn.msrresnet(raw(sd))


# --------------------------------------------------------------------------- CARN


def carn_sd(f: int, mobile: bool, heads: list[str], groups: int = 4) -> SD:
    sd: SD = {}
    eye = torch.eye(3).view(3, 3, 1, 1)
    sd["sub_mean.shifter.weight"], sd["sub_mean.shifter.bias"] = eye.clone(), -DIV2K
    sd["add_mean.shifter.weight"], sd["add_mean.shifter.bias"] = eye.clone(), DIV2K.clone()
    put(sd, "entry", f, 3, 3)
    for b in (1, 2, 3):
        if mobile:
            put(sd, f"b{b}.b1.body.0", f, f // groups, 3)
            put(sd, f"b{b}.b1.body.2", f, f // groups, 3)
            put(sd, f"b{b}.b1.body.4", f, f, 1)
        else:
            for u in (1, 2, 3):
                put(sd, f"b{b}.b{u}.body.0", f, f, 3)
                put(sd, f"b{b}.b{u}.body.2", f, f, 3)
        for c in (1, 2, 3):
            put(sd, f"b{b}.c{c}.body.0", f, (c + 1) * f, 1)
    for c in (1, 2, 3):
        put(sd, f"c{c}.body.0", f, (c + 1) * f, 1)
    for h in heads:
        s = 3 if h.endswith("3") else 4 if h.endswith("4") else 2
        stages = [0] if s != 4 else [0, 3]
        for i in stages:
            put(
                sd,
                f"upsample.{h}.body.{i}",
                (9 if s == 3 else 4) * f,
                f // groups if mobile else f,
                3,
            )
    put(sd, "exit", 3, f, 3)
    return sd


def carn_ref(sd: SD, x: Tensor, mobile: bool, head: str, groups: int) -> Tensor:
    """CARN-pytorch's Net.forward (carn.py / carn_m.py, ops.py) with the raw weights."""
    g = groups if mobile else 1

    def block(x: Tensor, b: int) -> Tensor:
        c, o = x, x
        for u in (1, 2, 3):
            p = f"b{b}.b1" if mobile else f"b{b}.b{u}"
            if mobile:
                y = conv(
                    F.relu(conv(F.relu(conv(o, sd, f"{p}.body.0", g)), sd, f"{p}.body.2", g)),
                    sd,
                    f"{p}.body.4",
                )
            else:
                y = conv(F.relu(conv(o, sd, f"{p}.body.0")), sd, f"{p}.body.2")
            c = torch.cat([c, F.relu(y + o)], 1)
            o = F.relu(conv(c, sd, f"b{b}.c{u}.body.0"))
        return o

    o = conv(conv(x, sd, "sub_mean.shifter"), sd, "entry")
    c = o
    for b in (1, 2, 3):
        c = torch.cat([c, block(o, b)], 1)
        o = F.relu(conv(c, sd, f"c{b}.body.0"))
    s = 3 if head.endswith("3") else 4 if head.endswith("4") else 2
    for i in [0] if s != 4 else [0, 3]:
        o = F.pixel_shuffle(F.relu(conv(o, sd, f"upsample.{head}.body.{i}", g)), 3 if s == 3 else 2)
    return conv(conv(o, sd, "exit"), sd, "add_mean.shifter")


@pytest.mark.parametrize("mobile", [False, True])
def test_carn_multiscale(mobile: bool) -> None:
    f = 8
    sd = carn_sd(f, mobile, ["up2", "up3", "up4"])
    rel = (tn.carn_m if mobile else tn.carn)(raw(sd))
    assert (tn.carn if mobile else tn.carn_m)(raw(sd)) is None
    assert rel is not None and rel.arch == ("carn_m" if mobile else "carn")
    assert rel.spec["scales"] == [2, 3, 4] and rel.spec["num_feat"] == f
    assert rel.spec["groups"] == (4 if mobile else 1)
    assert rel.spec["_target_"].endswith("CARNM" if mobile else ".CARN")
    x = torch.rand(1, 3, 5, 6)
    with torch.no_grad():
        for s in (2, 3, 4):
            close(rel.net(x, scale=s), carn_ref(sd, x, mobile, f"up{s}", 4), 1e-5)


def test_carn_single_scale_and_errors() -> None:
    sd = carn_sd(8, False, ["up"])
    sd["upsample.up.body.0.weight"] = torch.randn(72, 8, 3, 3) * 0.1  # x3: 9F
    sd["upsample.up.body.0.bias"] = torch.randn(72) * 0.1
    rel = tn.carn(raw(sd))
    assert rel is not None and rel.spec["scales"] == [3]
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        close(rel.net(x), carn_ref_single(sd, x), 1e-5)
    extra = {**sd, "b4.c1.body.0.weight": torch.zeros(8, 16, 1, 1)}
    with pytest.raises(ReleaseError):
        tn.carn(raw(extra))


def carn_ref_single(sd: SD, x: Tensor) -> Tensor:
    renamed = {k.replace("upsample.up.", "upsample.up3."): v for k, v in sd.items()}
    return carn_ref(renamed, x, False, "up3", 1)


# --------------------------------------------------------------------------- ports


def test_srcnn_port() -> None:
    sd: SD = {}
    put(sd, "conv1", 64, 1, 9)
    put(sd, "conv2", 32, 64, 5)
    put(sd, "conv3", 1, 32, 5)
    rel = tn.srcnn_yjn870(raw(sd, "srcnn_x2.pth"))
    assert (
        rel is not None and rel.spec["kernel_sizes"] == (9, 5, 5) and rel.spec["padding"] == "same"
    )
    assert rel.spec["scale"] == 2
    x = torch.rand(1, 1, 20, 18)
    ref = conv(F.relu(conv(F.relu(conv(x, sd, "conv1")), sd, "conv2")), sd, "conv3")
    with torch.no_grad():
        close(rel.net(x), ref)
    assert tn.drrn_jt827859032(raw(sd)) is None


def test_espcn_port() -> None:
    sd: SD = {}
    put(sd, "first_part.0", 64, 1, 5)
    put(sd, "first_part.2", 32, 64, 3)
    put(sd, "last_part.0", 9, 32, 3)
    rel = tn.espcn_yjn870(raw(sd))
    assert rel is not None and rel.spec["scale"] == 3 and rel.spec["activation"] == "tanh"
    x = torch.rand(1, 1, 7, 6)
    ref = F.pixel_shuffle(
        conv(
            torch.tanh(conv(torch.tanh(conv(x, sd, "first_part.0")), sd, "first_part.2")),
            sd,
            "last_part.0",
        ),
        3,
    )
    with torch.no_grad():
        close(rel.net(x), ref)
    assert tn.fsrcnn_yjn870(raw(sd)) is None


def fsrcnn_sd(d: int = 56, s: int = 12, m: int = 4) -> SD:
    sd: SD = {}
    put(sd, "first_part.0", d, 1, 5)
    sd["first_part.1.weight"] = torch.rand(d) * 0.5
    chans = [(s, d, 1)] + [(s, s, 3)] * m + [(d, s, 1)]
    for j, (co, ci, k) in enumerate(chans):
        put(sd, f"mid_part.{2 * j}", co, ci, k)
        sd[f"mid_part.{2 * j + 1}.weight"] = torch.rand(co) * 0.5
    sd["last_part.weight"] = torch.randn(d, 1, 9, 9) * 0.05
    sd["last_part.bias"] = torch.randn(1) * 0.1
    return sd


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fsrcnn_port(scale: int) -> None:
    sd = fsrcnn_sd()
    rel = tn.fsrcnn_yjn870(raw(sd, f"fsrcnn_x{scale}.pth"))
    assert_spec(rel, num_feat=56, num_shrink_ch=12, num_map_layer=4, scale=scale)
    x = torch.rand(1, 1, 6, 7)
    y = F.prelu(conv(x, sd, "first_part.0"), sd["first_part.1.weight"])
    for j in range(6):
        y = F.prelu(conv(y, sd, f"mid_part.{2 * j}"), sd[f"mid_part.{2 * j + 1}.weight"])
    # the port: ConvTranspose2d(d, 1, 9, stride=s, padding=9 // 2, output_padding=s - 1)
    ref = F.conv_transpose2d(
        y,
        sd["last_part.weight"],
        sd["last_part.bias"],
        stride=scale,
        padding=4,
        output_padding=scale - 1,
    )
    with torch.no_grad():
        close(rel.net(x), ref)
    with pytest.raises(ReleaseError, match="scale is not in its weights"):
        tn.fsrcnn_yjn870(raw(sd, "fsrcnn.pth"))


def test_vdsr_port() -> None:
    sd: SD = {}
    put(sd, "input", 16, 1, 3, bias=False)
    for i in range(3):
        put(sd, f"residual_layer.{i}.conv", 16, 16, 3, bias=False)
    put(sd, "output", 1, 16, 3, bias=False)
    rel = tn.vdsr_twtygqyy(raw(sd))
    assert rel is not None and rel.spec["num_layer"] == 5 and rel.spec["num_feat"] == 16
    x = torch.rand(1, 1, 9, 8)
    y = F.relu(conv(x, sd, "input"))
    for i in range(3):
        y = F.relu(conv(y, sd, f"residual_layer.{i}.conv"))
    with torch.no_grad():
        close(rel.net(x, scale=3), conv(y, sd, "output") + x)


def test_drrn_port_refused() -> None:
    """jt827859032/DRRN-pytorch: its in-place ReLU aliasing makes the skip relu(h0): refused."""
    sd: SD = {}
    put(sd, "input", 8, 1, 3, bias=False)
    put(sd, "conv1", 8, 8, 3, bias=False)
    put(sd, "conv2", 8, 8, 3, bias=False)
    put(sd, "output", 1, 8, 3, bias=False)
    with pytest.raises(ReleaseError, match=r"DRRN-pytorch.*relu\(h0\)"):
        tn.drrn_jt827859032(raw(sd))


def test_lapsrn_port_refused() -> None:
    sd: SD = {}
    put(sd, "conv_input", 8, 1, 3, bias=False)
    for i in range(0, 20, 2):
        put(sd, f"convt_F1.0.cov_block.{i}", 8, 8, 3, bias=False)
    sd["convt_F1.0.cov_block.20.weight"] = torch.randn(8, 8, 4, 4)
    sd["convt_I1.weight"] = torch.randn(1, 1, 4, 4)
    put(sd, "convt_R1", 1, 8, 3, bias=False)
    with pytest.raises(ReleaseError, match=r"pytorch-LapSRN.*4x4"):
        tn.lapsrn_twtygqyy(raw(sd))


def test_kair_rrdb_x3_refused() -> None:
    sd = rename_rrdb(rrdb_generic(1, 8, 4, 1), "kair", 1, 1)
    assert tn.rrdbnet(raw(sd, "rrdb_x2.pth")) is not None
    with pytest.raises(ReleaseError, match="x3"):
        tn.rrdbnet(raw(sd, "rrdb_x3.pth"))


def test_other_architectures_return_none() -> None:
    sd, _ = edsr_pytorch_sd(1, 8, 2, with_mean=True)
    others = [
        tn.mdsr_pytorch,
        tn.rcan_pytorch,
        tn.edsr_basicsr,
        tn.rcan_basicsr,
        tn.rrdbnet,
        tn.msrresnet,
        tn.carn,
        tn.carn_m,
        tn.srcnn_yjn870,
        tn.espcn_yjn870,
        tn.fsrcnn_yjn870,
        tn.vdsr_twtygqyy,
        tn.drrn_jt827859032,
        tn.lapsrn_twtygqyy,
    ]
    assert all(r(raw(sd)) is None for r in others)
    unrelated = raw({"encoder.weight": torch.zeros(4, 4)})
    assert all(r(unrelated) is None for r in [tn.edsr_pytorch, *others])


def test_load_release_dispatch(tmp_path) -> None:
    """Through the reader: a BasicSR-style ``params_ema`` file with DataParallel ``module.``
    prefixes is recognised as RRDBNet by :func:`srlab.published.load_release`."""
    pytest.importorskip("srlab.published.readers")
    from srlab.published import load_release

    gen = rrdb_generic(1, 8, 4, 2)
    sd = rename_rrdb(gen, "basicsr", 1, 2)
    path = tmp_path / "RealESRNet_x4.pth"
    torch.save({"params_ema": {f"module.{k}": v for k, v in sd.items()}}, path)
    rel = load_release(path)
    assert rel.arch == "rrdbnet" and rel.spec["scale"] == 4
    x = torch.rand(1, 3, 4, 4)
    with torch.no_grad():
        close(rel.net(x), rrdb_ref(gen, x, 1, 2), 1e-5)


def test_load_release_safetensors(tmp_path) -> None:
    """A CARN-M state dict as ``.safetensors`` goes through the same recogniser."""
    pytest.importorskip("srlab.published.readers")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from srlab.published import load_release

    sd = carn_sd(8, True, ["up2", "up3", "up4"])
    path = tmp_path / "carn_m.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    rel = load_release(path)
    assert rel.arch == "carn_m"
    x = torch.rand(1, 3, 4, 5)
    with torch.no_grad():
        close(rel.net(x, scale=4), carn_ref(sd, x, True, "up4", 4), 1e-5)
