"""MATLAB (.mat) releases: files written here in the official layouts (MatConvNet DagNN structs
with the real layer/param names, MATLAB shapes with trailing singletons dropped; SRCNN's and
caffe-vdsr's plain variables), loaded through ``load_release`` and checked against an
independent forward that follows MatConvNet's layer semantics on the file's raw arrays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

scipy_io = pytest.importorskip("scipy.io")

from srlab.published import ReleaseError, load_release, read_release  # noqa: E402
from srlab.published.matconvnet import lapsrn_matconvnet, mslapsrn_matconvnet  # noqa: E402

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------- writing MATLAB structs


def _cell(items):
    a = np.empty((1, len(items)), dtype=object)
    for i, v in enumerate(items):
        a[0, i] = v
    return a


def _struct_array(dicts):
    keys = list(dicts[0])
    a = np.empty((1, len(dicts)), dtype=[(k, object) for k in keys])
    for i, d in enumerate(dicts):
        for k in keys:
            a[0, i][k] = d[k]
    return a


def _matlab(shape):
    """MATLAB drops trailing singleton dimensions (a 3x3x64x1 filter is stored 3x3x64)."""
    shape = list(shape)
    while len(shape) > 2 and shape[-1] == 1:
        shape.pop()
    return tuple(shape)


class Dag:
    """A MatConvNet DagNN being written: layers + params, saved as ``net = dag.saveobj()``."""

    def __init__(self):
        self.layers, self.params = [], {}

    def param(self, name, shape, scale=0.3):
        if name not in self.params:
            self.params[name] = (RNG.standard_normal(_matlab(shape)) * scale).astype(np.float32)
        return name

    def conv(self, name, x, params, cin, cout, k=3):
        f = self.param(params[0], (k, k, cin, cout))
        b = self.param(params[1], (1, cout), 0.1)
        block = {
            "size": np.array([[k, k, cin, cout]], float),
            "hasBias": np.array([[1.0]]),
            "opts": _cell(["cuDNN"]),
            "pad": np.array([[1.0, 1, 1, 1]]),
            "stride": np.array([[1.0, 1]]),
            "dilate": np.array([[1.0, 1]]),
        }
        self._add(name, "dagnn.Conv", [x], [name], [f, b], block)
        return name

    def convt(self, name, x, params, cin, cout, k, crop):
        f = self.param(params[0], (k, k, cout, cin))
        ps = [f] + ([self.param(params[1], (1, cout), 0.1)] if len(params) > 1 else [])
        block = {
            "size": np.array([[k, k, cout, cin]], float),
            "hasBias": np.array([[float(len(ps) > 1)]]),
            "upsample": np.array([[2.0, 2]]),
            "crop": np.array([crop], float),
            "numGroups": np.array([[1.0]]),
            "opts": _cell(["cuDNN"]),
        }
        self._add(name, "dagnn.ConvTranspose", [x], [name], ps, block)
        return name

    def relu(self, name, x, leak=0.2):
        self._add(
            name,
            "dagnn.ReLU",
            [x],
            [name],
            [],
            {"useShortCircuit": np.array([[1.0]]), "leak": np.array([[leak]]), "opts": _cell([])},
        )
        return name

    def sum(self, name, a, b):
        self._add(name, "dagnn.Sum", [a, b], [name], [], {"numInputs": np.array([[2.0]])})
        return name

    def loss(self, name, x, hr):
        self._add(
            name,
            "dagnn.vllab_dag_loss",
            [x, hr],
            [name],
            [],
            {"loss_type": "L1", "lambda": np.array([[1.0]])},
        )

    def _add(self, name, typ, inputs, outputs, params, block):
        self.layers.append(
            {
                "name": name,
                "type": typ,
                "inputs": _cell(inputs),
                "outputs": _cell(outputs),
                "params": _cell(params),
                "block": block,
            }
        )

    def save(self, path, drop=(), extra=None):
        params = [
            {
                "name": n,
                "value": v,
                "learningRate": np.array([[1.0]]),
                "weightDecay": np.array([[1.0]]),
            }
            for n, v in self.params.items()
            if n not in drop
        ]
        for n, v in (extra or {}).items():
            params.append(
                {
                    "name": n,
                    "value": v,
                    "learningRate": np.array([[1.0]]),
                    "weightDecay": np.array([[1.0]]),
                }
            )
        net = {
            "vars": _struct_array([{"name": "LR", "precious": np.array([[0.0]])}]),
            "params": _struct_array(params),
            "layers": _struct_array(self.layers),
            "meta": np.zeros((0, 0)),
        }
        scipy_io.savemat(str(path), {"net": net})
        return path


# ----------------------------------------------------------------------------- independent forward


def _filt(v):
    v = np.asarray(v, np.float32)
    while v.ndim < 4:
        v = v[..., None]
    return torch.from_numpy(np.ascontiguousarray(v.transpose(3, 2, 0, 1)))


def dag_forward(dag: Dag, inputs: dict, output: str) -> torch.Tensor:
    """MatConvNet semantics: vl_nnconv (correlation, pad [t b l r]), vl_nnconvt (full transposed
    conv, then crop [t b l r]), leaky ReLU, Sum; layers run when their inputs exist."""
    val = dict(inputs)
    todo = [lay for lay in dag.layers if "loss" not in lay["type"]]
    while output not in val:
        for lay in list(todo):
            ins = list(lay["inputs"][0])
            if not all(i in val for i in ins):
                continue
            x, b, ps = (
                [val[i] for i in ins],
                lay["block"],
                [dag.params[p] for p in lay["params"][0]],
            )
            bias = torch.from_numpy(ps[1].reshape(-1)) if len(ps) > 1 else None
            if lay["type"] == "dagnn.Conv":
                y = F.conv2d(x[0], _filt(ps[0]), bias, padding=1)
            elif lay["type"] == "dagnn.ConvTranspose":
                c = [int(v) for v in b["crop"][0]]
                y = F.conv_transpose2d(x[0], _filt(ps[0]), bias, stride=2)
                y = y[..., c[0] : y.shape[-2] - c[1], c[2] : y.shape[-1] - c[3]]
            elif lay["type"] == "dagnn.ReLU":
                y = torch.where(x[0] > 0, x[0], float(b["leak"][0, 0]) * x[0])
            else:
                y = x[0] + x[1]
            val[lay["outputs"][0][0]] = y
            todo.remove(lay)
    return val[output]


# ----------------------------------------------------------------------------- LapSRN


def lapsrn_dag(levels=2, depth=2, nf=4):
    """LapSRN_x{2^levels}.mat layout: 'level<L>' is the first (x2) level, 'level1' the output."""
    d = Dag()
    feat = d.relu("input_relu", d.conv("input_conv", "LR", ["input_conv_f", "input_conv_b"], 1, nf))
    img = "LR"
    for k in range(levels, 0, -1):
        for j in range(1, depth + 1):
            feat = d.relu(
                f"level{k}_relu{j}",
                d.conv(
                    f"level{k}_conv{j}",
                    feat,
                    [f"level{k}_conv{j}_f", f"level{k}_conv{j}_b"],
                    nf,
                    nf,
                ),
            )
        feat = d.relu(
            f"level{k}_uprelu",
            d.convt(
                f"level{k}_upconv",
                feat,
                [f"level{k}_upconv_f", f"level{k}_upconv_b"],
                nf,
                nf,
                3,
                [0, 1, 0, 1],
            ),
        )
        res = d.conv(
            f"level{k}_residual",
            feat,
            [f"level{k}_residual_conv_f", f"level{k}_residual_conv_b"],
            nf,
            1,
        )
        up = d.convt(f"level{k}_img_up", img, [f"level{k}_img_up_f"], 1, 1, 4, [1, 1, 1, 1])
        img = d.sum(f"level{k}_output", up, res)
        d.loss(f"level{k}_L1_loss", img, f"level{k}_HR")
    return d


@pytest.mark.parametrize("levels,depth", [(1, 2), (2, 2), (3, 1)])
def test_lapsrn_dagnn_matches_matconvnet_forward(tmp_path, levels, depth):
    d = lapsrn_dag(levels, depth)
    assert d.params["level1_residual_conv_f"].shape == (3, 3, 4)  # MATLAB dropped the trailing 1
    assert d.params["level1_img_up_f"].shape == (4, 4)
    rel = load_release(d.save(tmp_path / "LapSRN.mat"))
    assert rel.arch == "lapsrn"
    assert (
        rel.spec["scale"] == 2**levels
        and rel.spec["num_layer"] == depth
        and rel.spec["num_feat"] == 4
    )
    n_file = sum(v.size for v in d.params.values())
    assert sum(p.numel() for p in rel.net.parameters()) == n_file
    x = torch.rand(1, 1, 7, 9)
    with torch.no_grad():
        outs = rel.net(x)
        assert len(outs) == levels
        for i, k in enumerate(range(levels, 0, -1)):  # srlab level i = the file's level L - i
            ref = dag_forward(d, {"LR": x}, f"level{k}_output")
            torch.testing.assert_close(outs[i], ref, atol=1e-5, rtol=1e-5)


def test_lapsrn_every_tensor_used_once_and_extra_or_missing_refused(tmp_path):
    d = lapsrn_dag(2, 1)
    extra = {"level2_conv9_f_copy": np.zeros((3, 3), np.float32)}
    with pytest.raises(ReleaseError, match="not part of the recognised architecture"):
        load_release(d.save(tmp_path / "extra.mat", extra=extra))
    with pytest.raises(ReleaseError, match=r"level1_upconv_b.*missing"):
        load_release(d.save(tmp_path / "missing.mat", drop=("level1_upconv_b",)))


def test_lapsrn_block_options_checked(tmp_path):
    d = lapsrn_dag(1, 1)
    for lay in d.layers:
        if lay["name"] == "level1_upconv":
            lay["block"]["crop"] = np.array([[1.0, 0, 1, 0]])
    with pytest.raises(ReleaseError, match=r"level1_upconv.*crop"):
        load_release(d.save(tmp_path / "crop.mat"))
    d = lapsrn_dag(1, 1)
    for lay in d.layers:
        if lay["type"] == "dagnn.ReLU":
            lay["block"]["leak"] = np.array([[0.1]])
    with pytest.raises(ReleaseError, match="leak"):
        load_release(d.save(tmp_path / "leak.mat"))


# ----------------------------------------------------------------------------- MS-LapSRN


def mslapsrn_dag(scales=(2, 4), depth=2, recursions=3, nf=4):
    """MSLapSRN_D<D>R<R>.mat layout: one sub-network per scale 'x<s>SR_*', all sharing params."""
    d = Dag()
    for s in scales:
        p = f"x{s}SR_"
        feat = d.conv(p + "input_conv", p + "LR", ["input_conv_f", "input_conv_b"], 1, nf)
        img = p + "LR"
        for lv in range(1, int(np.log2(s)) + 1):
            src = feat
            h = src
            for r in range(1, recursions + 1):
                for j in range(1, depth + 1):
                    h = d.relu(f"{p}level{lv}_R{r}_relu{j}", h)
                    h = d.conv(
                        f"{p}level{lv}_R{r}_conv{j}", h, [f"conv{j}_f", f"conv{j}_b"], nf, nf
                    )
                h = d.sum(f"{p}level{lv}_R{r}_output", h, src)
            h = d.relu(f"{p}level{lv}_uprelu", h)
            feat = d.convt(
                f"{p}level{lv}_upconv", h, ["upconv_f", "upconv_b"], nf, nf, 3, [0, 1, 0, 1]
            )
            up = d.convt(f"{p}level{lv}_img_up", img, ["img_up_f"], 1, 1, 4, [1, 1, 1, 1])
            res = d.conv(
                f"{p}level{lv}_residual", feat, ["residual_conv_f", "residual_conv_b"], nf, 1
            )
            img = d.sum(f"{p}{2**lv}x_output", up, res)
            d.loss(f"{p}{2**lv}x_L1_loss", img, f"{p}{2**lv}x_HR")
    return d


def test_mslapsrn_dagnn_shared_weights_all_scales(tmp_path):
    d = mslapsrn_dag(scales=(2, 4), depth=2, recursions=3)
    rel = load_release(d.save(tmp_path / "MSLapSRN_D2R3.mat"))
    assert rel.arch == "mslapsrn"
    assert (rel.spec["num_layer"], rel.spec["num_recursion"], rel.spec["scale"]) == (2, 3, [2, 4])
    assert sum(p.numel() for p in rel.net.parameters()) == sum(v.size for v in d.params.values())
    x = torch.rand(1, 1, 6, 5)
    with torch.no_grad():
        for s in (2, 4):
            ref = dag_forward(d, {f"x{s}SR_LR": x}, f"x{s}SR_{s}x_output")
            torch.testing.assert_close(rel.net(x, s)[-1], ref, atol=1e-5, rtol=1e-5)


def test_mslapsrn_real_parameter_count_layout(tmp_path):
    """The released D5R8 layout at full width: 222,801 parameters, one set for x2/x4/x8."""
    d = mslapsrn_dag(scales=(2,), depth=5, recursions=1, nf=64)
    rel = load_release(d.save(tmp_path / "MSLapSRN_D5R1.mat"))
    assert sum(p.numel() for p in rel.net.parameters()) == 222_801


def test_wrong_architecture_returns_none(tmp_path):
    ms = read_release(mslapsrn_dag().save(tmp_path / "ms.mat"))
    lap = read_release(lapsrn_dag(1, 1).save(tmp_path / "lap.mat"))
    assert lapsrn_matconvnet(ms) is None
    assert mslapsrn_matconvnet(lap) is None


# ----------------------------------------------------------------------------- plain MATLAB files


def test_srcnn_matlab_release(tmp_path):
    """SRCNN.m layout: weights_conv1 (k1^2, n1), weights_conv2 (n1, k2^2, n2), weights_conv3
    (n2, k3^2), kernels reshaped column-major, imfilter correlation."""
    k1, k2, k3, n1, n2 = 5, 3, 3, 4, 3
    w = {
        "weights_conv1": RNG.standard_normal((k1 * k1, n1)),
        "biases_conv1": RNG.standard_normal((n1, 1)) * 0.1,
        "weights_conv2": RNG.standard_normal((n1, k2 * k2, n2)) * 0.3,
        "biases_conv2": RNG.standard_normal((n2, 1)) * 0.1,
        "weights_conv3": RNG.standard_normal((n2, k3 * k3)) * 0.3,
        "biases_conv3": np.array([[0.05]]),
    }
    w = {k: v.astype(np.float32) for k, v in w.items()}
    scipy_io.savemat(str(tmp_path / "x3.mat"), w)
    rel = load_release(tmp_path / "x3.mat")
    assert (
        rel.arch == "srcnn"
        and rel.spec["kernel_sizes"] == [k1, k2, k3]
        and rel.spec["channels"] == [n1, n2]
    )
    im = np.random.default_rng(1).random((12, 11)).astype(np.float32)

    def imfilter(a, kern):  # correlation, 'same', zero borders (srlab's padding)
        kt = torch.from_numpy(np.ascontiguousarray(kern))[None, None]
        return F.conv2d(torch.from_numpy(a)[None, None], kt, padding=kern.shape[0] // 2)[
            0, 0
        ].numpy()

    c1 = [
        np.maximum(
            imfilter(im, w["weights_conv1"][:, i].reshape(k1, k1, order="F"))
            + w["biases_conv1"][i, 0],
            0,
        )
        for i in range(n1)
    ]
    c2 = [
        np.maximum(
            sum(
                imfilter(c1[j], w["weights_conv2"][j, :, i].reshape(k2, k2, order="F"))
                for j in range(n1)
            )
            + w["biases_conv2"][i, 0],
            0,
        )
        for i in range(n2)
    ]
    ref = (
        sum(imfilter(c2[i], w["weights_conv3"][i, :].reshape(k3, k3, order="F")) for i in range(n2))
        + w["biases_conv3"][0, 0]
    )
    with torch.no_grad():
        out = rel.net(torch.from_numpy(im)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_vdsr_matlab_cells(tmp_path):
    """caffe-vdsr's VDSR_Official.mat: model.weight{i} (3x3xinxout), model.bias{i} (out x 1)."""
    chans = [1, 4, 4, 1]
    ws = [
        (RNG.standard_normal(_matlab((3, 3, a, b))) * 0.3).astype(np.float32)
        for a, b in itertools.pairwise(chans)
    ]
    bs = [(RNG.standard_normal((b, 1)) * 0.1).astype(np.float32) for b in chans[1:]]
    scipy_io.savemat(
        str(tmp_path / "VDSR_Official.mat"), {"model": {"weight": _cell(ws), "bias": _cell(bs)}}
    )
    rel = load_release(tmp_path / "VDSR_Official.mat")
    assert rel.arch == "vdsr" and rel.spec["num_layer"] == 3
    x = torch.rand(1, 1, 9, 8)
    y = x
    for i, (w, b) in enumerate(zip(ws, bs)):  # VDSR_Matconvnet.m: vl_nnconv pad 1, relu between
        y = F.conv2d(
            y if i == 0 else y.clamp(min=0), _filt(w), torch.from_numpy(b.reshape(-1)), padding=1
        )
    with torch.no_grad():
        torch.testing.assert_close(rel.net(x), x + y, atol=1e-5, rtol=1e-5)


def test_vdsr_simplenn(tmp_path):
    """A MatConvNet SimpleNN (net.layers cell of conv/relu structs with weights {f, b})."""
    chans = [1, 3, 3, 1]
    layers, ws = [], []
    for i, (a, b) in enumerate(itertools.pairwise(chans), 1):
        f = (RNG.standard_normal(_matlab((3, 3, a, b))) * 0.3).astype(np.float32)
        bias = (RNG.standard_normal((1, b)) * 0.1).astype(np.float32)
        ws.append((f, bias))
        conv = {
            "type": "conv",
            "name": f"conv{i}",
            "weights": _cell([f, bias]),
            "stride": np.array([[1.0, 1]]),
            "pad": np.array([[1.0, 1, 1, 1]]),
        }
        layers.append(conv)
        if i < len(chans) - 1:
            layers.append(
                {
                    "type": "relu",
                    "name": f"relu{i}",
                    "weights": _cell([]),
                    "stride": np.zeros((0, 0)),
                    "pad": np.zeros((0, 0)),
                }
            )
    scipy_io.savemat(str(tmp_path / "vdsr_simplenn.mat"), {"net": {"layers": _cell(layers)}})
    raw = read_release(tmp_path / "vdsr_simplenn.mat")
    assert raw.meta["layout"] == "simplenn" and set(raw.tensors) == {
        f"conv{i}_{s}" for i in (1, 2, 3) for s in "fb"
    }
    rel = load_release(tmp_path / "vdsr_simplenn.mat", net="vdsr")
    x = torch.rand(1, 1, 7, 6)
    y = x
    for i, (f, b) in enumerate(ws):
        y = F.conv2d(
            y if i == 0 else y.clamp(min=0), _filt(f), torch.from_numpy(b.reshape(-1)), padding=1
        )
    with torch.no_grad():
        torch.testing.assert_close(rel.net(x), x + y, atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- bad files


def test_bad_files(tmp_path):
    good = lapsrn_dag(1, 1).save(tmp_path / "good.mat")
    data = good.read_bytes()
    (tmp_path / "trunc.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReleaseError, match=r"trunc\.mat") as e:
        load_release(tmp_path / "trunc.mat")
    assert "\n" not in str(e.value)
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ReleaseError, match=r"junk\.mat"):
        load_release(tmp_path / "junk.mat")
    scipy_io.savemat(str(tmp_path / "other.mat"), {"w": np.ones((3, 3), np.float32)})
    with pytest.raises(ReleaseError, match="not a recognised matconvnet release"):
        load_release(tmp_path / "other.mat")
