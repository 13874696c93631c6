""".caffemodel releases: files serialised here with srlab's protobuf subset of caffe.proto in
the official layouts (IDN-Caffe's train net with its real layer names/types and blob shapes,
a V1-format VDSR), loaded through ``load_release`` and checked against an independent forward
that follows Caffe's layer semantics and the authors' MATLAB test script."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("google.protobuf")

from srlab import imresize
from srlab.published import ReleaseError, load_release, read_release
from srlab.published.caffe import caffe_schema, idn_caffe, vdsr_caffe

RNG = np.random.default_rng(0)


def _blob(msg, arr, legacy=False):
    b = msg.blobs.add()
    if legacy:  # pre-2015 4-D blob header
        n, c, h, w = [*arr.shape, 1, 1, 1, 1][:4] if arr.ndim == 4 else (1, 1, 1, arr.size)
        b.num, b.channels, b.height, b.width = n, c, h, w
    else:
        b.shape.dim.extend(arr.shape)
    b.data.extend(arr.astype(np.float32).ravel().tolist())


class CaffeNet:
    """A V2 NetParameter being written, with the raw arrays kept for the reference forward."""

    def __init__(self, name):
        self.S = caffe_schema()
        self.net = self.S["NetParameter"](name=name)
        self.blobs = {}
        self.layers = []

    def layer(self, name, typ, bottom, top, **kw):
        lay = self.net.layer.add(name=name, type=typ)
        lay.bottom.extend(bottom)
        lay.top.extend(top)
        self.layers.append((name, typ, bottom, top, kw))
        return lay

    def conv(self, name, bottom, cin, cout, k=3, pad=1, group=1, top=None, deconv_stride=None):
        typ = "Deconvolution" if deconv_stride else "Convolution"
        lay = self.layer(
            name, typ, [bottom], [top or name], group=group, stride=deconv_stride or 1, pad=pad
        )
        c = lay.convolution_param
        c.num_output, c.group = cout, group
        c.kernel_size.append(k)
        c.stride.append(deconv_stride or 1)
        c.pad.append(pad)
        shape = (cin, cout // group, k, k) if deconv_stride else (cout, cin // group, k, k)
        w = (RNG.standard_normal(shape) * (0.4 / np.sqrt(cin * k * k / group))).astype(np.float32)
        b = (RNG.standard_normal(cout) * 0.05).astype(np.float32)
        _blob(lay, w)
        _blob(lay, b)
        self.blobs[name] = (w, b)
        return top or name

    def relu(self, name, x, slope=0.05):
        lay = self.layer(name, "ReLU", [x], [x], slope=slope)
        lay.relu_param.negative_slope = slope
        return x

    def save(self, path):
        path.write_bytes(self.net.SerializeToString())
        return path


def idn_net(scale=3, nf=8, d=2, blocks=2, groups=2, slope=0.05):
    """IDN_x<s>.caffemodel layout (the saved train net: HDF5Data, Split, ..., EuclideanLoss)."""
    n = CaffeNet(f"IDN_x{scale}")
    n.layer("data", "HDF5Data", [], ["data", "label"])
    x = n.relu("relu_conv1", n.conv("conv1", "data", 1, nf))
    x = n.relu("relu_conv2", n.conv("conv2", x, nf, nf))
    dist = nf // 4
    for i in range(1, blocks + 1):
        g = i + 2
        n.layer(f"split{i}", "Split", [x], [f"split{i}_1", f"split{i}_2"])
        y = n.relu(f"relu_conv{g}_1", n.conv(f"conv{g}_1", f"split{i}_2", nf, nf - d))
        y = n.relu(f"relu_conv{g}_2", n.conv(f"conv{g}_2", y, nf - d, nf - 2 * d, group=groups))
        y = n.relu(f"relu_conv{g}_3", n.conv(f"conv{g}_3", y, nf - 2 * d, nf))
        sl = n.layer(f"slice{i}", "Slice", [y], [f"slice{i}_1", f"slice{i}_2"])
        sl.slice_param.axis = 1
        sl.slice_param.slice_point.append(dist)
        y = n.relu(f"relu_conv{g}_4", n.conv(f"conv{g}_4", f"slice{i}_2", nf - dist, nf))
        y = n.relu(f"relu_conv{g}_5", n.conv(f"conv{g}_5", y, nf, nf - d, group=groups))
        y = n.relu(f"relu_conv{g}_6", n.conv(f"conv{g}_6", y, nf - d, nf + d))
        n.layer(f"concat{i}", "Concat", [f"split{i}_1", f"slice{i}_1"], [f"concat{i}"])
        n.layer(f"sum{i}", "Eltwise", [f"concat{i}", y], [f"sum{i}"]).eltwise_param.operation = 1
        x = n.relu(f"relu_down{i}", n.conv(f"down{i}", f"sum{i}", nf + d, nf, k=1, pad=0), slope)
    n.conv("upsample", x, nf, 1, k=17, pad=8, deconv_stride=scale)
    n.layer("loss", "EuclideanLoss", ["upsample", "label"], ["loss"])
    return n


def caffe_forward(n: CaffeNet, data: torch.Tensor, output: str) -> torch.Tensor:
    """Caffe layer semantics on the raw arrays: correlation conv / transposed conv with Caffe's
    pad and group, leaky ReLU in place, Split, Slice (channel points), Concat, Eltwise SUM."""
    B = {"data": data}
    for name, typ, bottom, top, kw in n.layers:
        if typ in ("HDF5Data", "EuclideanLoss"):
            continue
        x = [B[b] for b in bottom]
        if typ in ("Convolution", "Deconvolution"):
            w, b = (torch.from_numpy(a) for a in n.blobs[name])
            fn = F.conv2d if typ == "Convolution" else F.conv_transpose2d
            ys = [fn(x[0], w, b, stride=kw["stride"], padding=kw["pad"], groups=kw["group"])]
        elif typ == "ReLU":
            ys = [torch.where(x[0] > 0, x[0], kw["slope"] * x[0])]
        elif typ == "Split":
            ys = [x[0], x[0]]
        elif typ == "Slice":
            k = n.net.layer[[lay[0] for lay in n.layers].index(name)].slice_param.slice_point[0]
            ys = [x[0][:, :k], x[0][:, k:]]
        elif typ == "Concat":
            ys = [torch.cat(x, 1)]
        else:
            ys = [x[0] + x[1]]
        B.update(zip(top, ys))
    return B[output]


@pytest.mark.parametrize("scale", [2, 3])
def test_idn_caffemodel_matches_caffe_forward_and_test_script(tmp_path, scale):
    n = idn_net(scale=scale)
    rel = load_release(n.save(tmp_path / f"IDN_x{scale}.caffemodel"))
    assert rel.arch == "idn"
    assert {
        k: rel.spec[k]
        for k in ("scale", "num_feat", "num_block", "num_distill_ch", "groups", "slice_ratio")
    } == {
        "scale": scale,
        "num_feat": 8,
        "num_block": 2,
        "num_distill_ch": 2,
        "groups": 2,
        "slice_ratio": 4,
    }
    assert sum(p.numel() for p in rel.net.parameters()) == sum(
        w.size + b.size for w, b in n.blobs.values()
    )
    lr = torch.rand(1, 1, 6, 7)
    with torch.no_grad():
        out = rel.net(lr)
        res = caffe_forward(n, lr, "upsample")  # (H - 1) s + 1 px
    assert res.shape[-2:] == ((6 - 1) * scale + 1, (7 - 1) * scale + 1)
    # test_IDN.m: im_h = im_result + mycrop(im_b, s) (bicubic without its first s - 1 rows/cols)
    ref = imresize(lr, scale)[..., scale - 1 :, scale - 1 :] + res
    assert out.shape[-2:] == (6 * scale, 7 * scale)
    torch.testing.assert_close(out[..., scale - 1 :, scale - 1 :], ref, atol=1e-5, rtol=1e-5)


def test_idn_every_tensor_used_and_bad_layers(tmp_path):
    n = idn_net()
    extra = n.net.layer.add(name="conv_extra", type="Convolution")
    _blob(extra, np.zeros((2, 2, 3, 3), np.float32))
    with pytest.raises(ReleaseError, match=r"not part of the recognised architecture.*conv_extra"):
        load_release(n.save(tmp_path / "extra.caffemodel"))
    n = idn_net()
    del n.net.layer[[lay.name for lay in n.net.layer].index("conv4_5")]
    with pytest.raises(ReleaseError, match="conv4_5"):
        load_release(n.save(tmp_path / "missing.caffemodel"))
    with pytest.raises(ReleaseError, match="negative_slope"):
        load_release(idn_net(slope=0.1).save(tmp_path / "slope.caffemodel"))


def test_vdsr_v1_caffemodel_legacy_blobs(tmp_path):
    """An old-format (V1 ``layers``, enum types, num/channels/height/width blobs) VDSR chain."""
    S = caffe_schema()
    net = S["NetParameter"](name="VDSR")
    chans, ws, bs = [1, 4, 4, 1], [], []
    bottom = "data"
    for i, (a, b) in enumerate(itertools.pairwise(chans), 1):
        lay = net.layers.add(name=f"conv{i}", type=4)
        lay.bottom.append(bottom)
        lay.top.append(f"conv{i}")
        lay.convolution_param.num_output = b
        lay.convolution_param.kernel_size.append(3)
        lay.convolution_param.pad.append(1)
        w = (RNG.standard_normal((b, a, 3, 3)) * 0.3).astype(np.float32)
        bias = (RNG.standard_normal(b) * 0.1).astype(np.float32)
        _blob(lay, w, legacy=True)
        _blob(lay, bias, legacy=True)
        ws.append(w)
        bs.append(bias)
        bottom = f"conv{i}"
        if i < 3:
            relu = net.layers.add(name=f"relu{i}", type=18)
            relu.bottom.append(bottom)
            relu.top.append(bottom)
    (tmp_path / "VDSR.caffemodel").write_bytes(net.SerializeToString())
    raw = read_release(tmp_path / "VDSR.caffemodel")
    assert raw.meta["v1"] and raw.meta["layers"][1]["type"] == "ReLU"
    assert idn_caffe(raw) is None  # another architecture: None, fast
    rel = load_release(tmp_path / "VDSR.caffemodel")
    assert rel.arch == "vdsr" and rel.spec["num_layer"] == 3
    x = torch.rand(1, 1, 8, 9)
    y = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        y = F.conv2d(
            y if i == 0 else y.clamp(min=0), torch.from_numpy(w), torch.from_numpy(b), padding=1
        )
    with torch.no_grad():
        torch.testing.assert_close(rel.net(x), x + y, atol=1e-5, rtol=1e-5)


def test_bad_caffemodels(tmp_path):
    good = idn_net().save(tmp_path / "good.caffemodel")
    assert vdsr_caffe(read_release(good)) is None
    data = good.read_bytes()
    (tmp_path / "trunc.caffemodel").write_bytes(data[: len(data) // 3])
    with pytest.raises(ReleaseError, match=r"trunc\.caffemodel") as e:
        load_release(tmp_path / "trunc.caffemodel")
    assert "\n" not in str(e.value)
    (tmp_path / "junk.caffemodel").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ReleaseError, match=r"junk\.caffemodel"):
        load_release(tmp_path / "junk.caffemodel")
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    with pytest.raises(ReleaseError, match="no layers"):
        load_release(tmp_path / "empty.caffemodel")
    n = CaffeNet("other")
    n.conv("fc_weird", "data", 3, 5, k=1, pad=0)
    with pytest.raises(ReleaseError, match="not a recognised caffe release"):
        load_release(n.save(tmp_path / "other.caffemodel"))


def drrn_net(nf=4, units=2, tamper=False):
    """DRRN_B1U<U> layout: BatchNorm (mean sum, var sum, factor) + Scale (gamma, beta) + ReLU
    before every conv; conv1_<u>a/b share their blobs (one copy per layer in the file)."""
    n = CaffeNet(f"DRRN_B1U{units}")
    n.layer("data", "HDF5Data", [], ["data", "label"])
    stats = {}

    def preact(tag, x, c):
        bn = n.layer(f"bn_{tag}", "BatchNorm", [x], [f"bn_{tag}"])
        factor = np.array([999.98], np.float32)
        mean, var = (
            RNG.standard_normal(c).astype(np.float32) * 0.1,
            RNG.random(c).astype(np.float32) + 0.5,
        )
        for a in (mean * factor, var * factor, factor):
            _blob(bn, a)
        sc = n.layer(f"scale_{tag}", "Scale", [f"bn_{tag}"], [f"bn_{tag}"])
        sc.scale_param.bias_term = True
        gamma, beta = (
            RNG.random(c).astype(np.float32) + 0.5,
            RNG.standard_normal(c).astype(np.float32) * 0.1,
        )
        _blob(sc, gamma)
        _blob(sc, beta)
        stats[tag] = (mean, var, gamma, beta)
        n.relu(f"relu_{tag}", f"bn_{tag}", 0.0)
        return f"bn_{tag}"

    n.conv("conv1", preact("conv1", "data", 1), 1, nf)
    h = "conv1"
    shared = {}
    for u in range(1, units + 1):
        for side in "ab":
            name = f"conv1_{u}{side}"
            n.conv(name, preact(name, h, nf), nf, nf)
            if side in shared:  # a shared param: the same blobs in every layer
                w, b = shared[side]
                if tamper and u == units:
                    w = w + 1
                lay = n.net.layer[-1]
                del lay.blobs[:]
                _blob(lay, w)
                _blob(lay, b)
                n.blobs[name] = (w, b)
            else:
                shared[side] = n.blobs[name]
            h = name
        e = n.layer(f"eltwise1_{u}", "Eltwise", ["conv1", h], [f"eltwise1_{u}"])
        e.eltwise_param.operation = 1
        h = f"eltwise1_{u}"
    n.conv("conv_end", preact("conv_end", h, nf), nf, 1)
    n.layer(
        "HR_recovery", "Eltwise", ["data", "conv_end"], ["HR_recovery"]
    ).eltwise_param.operation = 1
    return n, stats


def drrn_forward(n, stats, x):
    """Caffe semantics: BatchNorm (use_global_stats) -> Scale -> ReLU -> Conv, Eltwise SUM."""
    B = {"data": x}
    for name, typ, bottom, top, _kw in n.layers:
        if typ == "BatchNorm":
            mean, var, _, _ = stats[name[3:]]
            y = (B[bottom[0]] - torch.from_numpy(mean)[:, None, None]) / torch.sqrt(
                torch.from_numpy(var)[:, None, None] + 1e-5
            )
        elif typ == "Scale":
            _, _, g, b = stats[name[6:]]
            y = (
                B[bottom[0]] * torch.from_numpy(g)[:, None, None]
                + torch.from_numpy(b)[:, None, None]
            )
        elif typ == "ReLU":
            y = B[bottom[0]].clamp(min=0)
        elif typ == "Convolution":
            w, b = (torch.from_numpy(a) for a in n.blobs[name])
            y = F.conv2d(B[bottom[0]], w, b, padding=1)
        elif typ == "Eltwise":
            y = B[bottom[0]] + B[bottom[1]]
        else:
            continue
        B[top[0]] = y
    return B["HR_recovery"]


def test_drrn_caffemodel_shared_convs_and_batchnorm(tmp_path):
    n, stats = drrn_net(units=3)
    rel = load_release(n.save(tmp_path / "DRRN_B1U3.caffemodel"))
    assert rel.arch == "drrn" and rel.spec["num_unit"] == 3 and rel.spec["num_feat"] == 4
    x = torch.rand(1, 1, 9, 8)
    with torch.no_grad():
        torch.testing.assert_close(rel.net(x, 3), drrn_forward(n, stats, x), atol=1e-5, rtol=1e-5)
    n, _ = drrn_net(units=2, tamper=True)
    with pytest.raises(ReleaseError, match="should share blob 0 of 'conv1_1a'"):
        load_release(n.save(tmp_path / "bad.caffemodel"))
