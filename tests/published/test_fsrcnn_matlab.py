"""FSRCNN's MATLAB release (the FSRCNN_test package of Dong, Loy & Tang, ECCV 2016:
``model/FSRCNN/x{2,3,4}.mat``, ``model/FSRCNN-s/x{2,3,4}.mat``) and the ``--net`` spellings.

The files are written here in the release's exact layout (as ``scipy.io.loadmat`` reads the real
ones): ``(L, 1)`` cells ``weights_conv`` (float64 ``(in, k*k, out)``; the deconvolution
``(1, 81, d)``), ``biases_conv`` (float32 ``(out, 1)``) and ``prelu_conv`` (float32 ``(1, 1)``,
the last cell an empty ``(1, 0)`` double). The loaded network is compared with a forward written
here from the authors' ``FSRCNN.m`` and ``deconv.m`` on the file's raw arrays: ``imfilter(...,
'same', 'replicate')`` with ``reshape(w(j, :, i), k, k)`` kernels, PReLU with the layer's slope,
and ``deconv.m``'s loop over LR pixels on a replicate-padded map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

scipy_io = pytest.importorskip("scipy.io")
ndimage = pytest.importorskip("scipy.ndimage")

from srlab.archs.fsrcnn import FSRCNN  # noqa: E402
from srlab.models.checkpoint import load_model  # noqa: E402
from srlab.published import ReleaseError, known_archs, load_release, resolve_arch  # noqa: E402

RNG = np.random.default_rng(14)


# ----------------------------------------------------------------------------- the release layout


def _cells(items) -> np.ndarray:
    a = np.empty((len(items), 1), dtype=object)
    for i, v in enumerate(items):
        a[i, 0] = v
    return a


def fsrcnn_arrays(
    d: int = 6,
    s: int = 3,
    m: int = 2,
    channels: int = 1,
    k_first: int = 5,
    k_map: int = 3,
    k_deconv: int = 9,
) -> dict[str, list[np.ndarray]]:
    """Random FSRCNN weights in the release's layout (layer by layer, MATLAB shapes)."""
    shapes = [
        (channels, k_first**2, d),
        (d, 1, s),
        *[(s, k_map**2, s)] * m,
        (s, 1, d),
        (channels, k_deconv**2, d),
    ]
    weights = [RNG.standard_normal(sh) * (0.4 / np.sqrt(sh[0] * sh[1])) for sh in shapes]
    weights[-1] *= 3.0
    biases = [
        (RNG.standard_normal((sh[2] if i < len(shapes) - 1 else channels, 1)) * 0.05).astype(
            np.float32
        )
        for i, sh in enumerate(shapes)
    ]
    prelus = [np.array([[RNG.uniform(0.05, 0.4)]], np.float32) for _ in shapes[:-1]] + [
        np.zeros((1, 0))
    ]
    return {"weights_conv": weights, "biases_conv": biases, "prelu_conv": prelus}


def write_release(path, arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy_io.savemat(str(path), {k: _cells(v) for k, v in arrays.items()})


# ------------------------------------------------------------------- the authors' test code


def _kernel(row: np.ndarray, k: int) -> np.ndarray:
    return np.asarray(row, np.float64).reshape(k, k, order="F")  # MATLAB reshape(row, k, k)


def deconv_m(x: np.ndarray, filt: np.ndarray, stride: int) -> np.ndarray:
    """``deconv.m`` as written: one replicated LR pixel around the map, ``x(i,j) * filter``
    added at rows ``1+(i-1)*stride``, cropped from ``(fsize+1)/2 + stride*border``."""
    border = 1
    hei0, wid0 = x.shape
    x = np.pad(x, border, mode="edge")
    hei, wid = x.shape
    fsize = filt.shape[0]
    out = np.zeros((hei * stride + fsize - 1, wid * stride + fsize - 1))
    for i in range(hei):
        for j in range(wid):
            out[i * stride : i * stride + fsize, j * stride : j * stride + fsize] += x[i, j] * filt
    start = (fsize + 1) // 2 + stride * border - 1
    return out[start : start + hei0 * stride, start : start + wid0 * stride]


def fsrcnn_m(path, im_l: np.ndarray, up_scale: int) -> np.ndarray:
    """``FSRCNN(model, im_l, up_scale)`` of the authors' test code, on the file read by scipy."""
    mat = scipy_io.loadmat(str(path))
    w = [c[0] for c in mat["weights_conv"]]
    b = [c[0].reshape(-1) for c in mat["biases_conv"]]
    a = [c[0] for c in mat["prelu_conv"]]
    layer_num = len(w)
    data = [im_l.astype(np.float64)]
    for idx in range(layer_num - 1):
        weight = w[idx]
        channel, filtersize, filters = weight.shape
        patch = round(np.sqrt(filtersize))
        out = []
        for i in range(filters):
            acc = sum(
                ndimage.correlate(data[j], _kernel(weight[j, :, i], patch), mode="nearest")
                for j in range(channel)
            )
            acc = acc + b[idx][i]
            out.append(np.maximum(acc, 0) + a[idx].item() * np.minimum(acc, 0))
        data = out
    weight = w[-1]  # (filters=1, filtersize, channel) in FSRCNN.m's names
    patch = round(np.sqrt(weight.shape[1]))
    im_h = sum(
        deconv_m(data[j], _kernel(weight[0, :, j], patch), up_scale) for j in range(weight.shape[2])
    )
    return im_h + b[-1][0]


def run(net: torch.nn.Module, lr: np.ndarray) -> np.ndarray:
    """The loaded network in float64 (its weights are the file's, read as float32: outputs agree
    with the float64 reference to about 1e-8, hence ``atol=1e-6`` below)."""
    with torch.no_grad():
        return net.double()(torch.from_numpy(lr)[None, None]).numpy()[0, 0]


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize("scale", [2, 4])
def test_loaded_fsrcnn_is_the_authors_test_code(tmp_path, scale):
    path = tmp_path / "model" / "FSRCNN" / f"x{scale}.mat"
    write_release(path, fsrcnn_arrays())
    rel = load_release(path)
    assert rel.arch == "fsrcnn" and isinstance(rel.net, FSRCNN)
    assert rel.spec == {
        "_target_": "srlab.archs.fsrcnn.FSRCNN",
        "scale": scale,
        "in_channels": 1,
        "num_feat": 6,
        "num_shrink_ch": 3,
        "num_map_layer": 2,
        "deconv_kernel": 9,
        "padding_mode": "replicate",
        "deconv_shift": 0,
    }
    lr = RNG.uniform(0, 1, (7, 9))
    got, want = run(rel.net, lr), fsrcnn_m(path, lr, scale)
    assert got.shape == (7 * scale, 9 * scale)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_x3_is_placed_where_the_authors_test_script_scores_it(tmp_path):
    """At x3 srlab builds the release with ``deconv_shift=1``: ``deconv.m``'s output moved one HR
    pixel down/right (``test_FSRCNN.m`` scores x3 with ``shave_x3``), the rest unchanged."""
    path = tmp_path / "x3.mat"
    write_release(path, fsrcnn_arrays())
    rel = load_release(path)
    assert rel.spec["deconv_shift"] == 1 and rel.spec["scale"] == 3
    lr = RNG.uniform(0, 1, (6, 8))
    got, want = run(rel.net, lr), fsrcnn_m(path, lr, 3)
    assert got.shape == want.shape == (18, 24)
    np.testing.assert_allclose(got[1:, 1:], want[:-1, :-1], rtol=0, atol=1e-6)
    assert np.abs(got - want).max() > 1e-3  # not the unshifted placement


def test_fsrcnn_s_layout_and_names(tmp_path):
    path = tmp_path / "FSRCNN-s_x2.mat"
    write_release(path, fsrcnn_arrays(d=32, s=5, m=1))
    rel = load_release(path)
    assert rel.name.startswith("FSRCNN-s d32 s5 m1 x2")
    assert sum(p.numel() for p in rel.net.parameters()) == 4086  # the real FSRCNN-s file's count
    lr = RNG.uniform(0, 1, (5, 6))
    np.testing.assert_allclose(run(rel.net, lr), fsrcnn_m(path, lr, 2), rtol=0, atol=1e-6)


def test_every_tensor_used_once_and_bad_files_refused(tmp_path):
    good = fsrcnn_arrays()
    # a PReLU after the deconvolution: an extra tensor, refused by the ledger
    extra = {k: list(v) for k, v in good.items()}
    extra["prelu_conv"][-1] = np.array([[0.1]], np.float32)
    write_release(tmp_path / "extra_x2.mat", extra)
    with pytest.raises(
        ReleaseError,
        match=r"1 tensor\(s\) of the file are not part of the recognised architecture "
        r"\(prelu_conv\{6\}\)",
    ):
        load_release(tmp_path / "extra_x2.mat")
    # a missing bias
    missing = {k: list(v) for k, v in good.items()}
    missing["biases_conv"][2] = np.zeros((0, 0))
    write_release(tmp_path / "missing_x2.mat", missing)
    with pytest.raises(ReleaseError, match=r"expected tensor 'biases_conv\{3\}' is missing"):
        load_release(tmp_path / "missing_x2.mat")
    # slopes for neither one nor every channel
    slopes = {k: list(v) for k, v in good.items()}
    slopes["prelu_conv"][0] = np.ones((1, 2), np.float32)
    write_release(tmp_path / "slopes_x2.mat", slopes)
    with pytest.raises(ReleaseError, match=r"prelu_conv\{1\} has 2 slopes for 6 channels"):
        load_release(tmp_path / "slopes_x2.mat")
    # 5x5 mapping layers are not FSRCNN's
    write_release(tmp_path / "wide_x2.mat", fsrcnn_arrays(k_map=5))
    with pytest.raises(ReleaseError, match="are not FSRCNN's 5x5"):
        load_release(tmp_path / "wide_x2.mat")
    # the scale is only in the file name
    write_release(tmp_path / "model.mat", good)
    with pytest.raises(
        ReleaseError, match=r"scale is not in its weights: name the file with its scale"
    ):
        load_release(tmp_path / "model.mat")


def test_fsrcnn_matlab_through_load_model_and_forced_net(tmp_path):
    path = tmp_path / "x4.mat"
    write_release(path, fsrcnn_arrays())
    model = load_model(path, net="FSRCNN")
    assert model.release_info["arch"] == "fsrcnn" and model.net.scale == 4
    with pytest.raises(
        ReleaseError, match=r"not a recognised matconvnet release: .*; tried srcnn$"
    ):
        load_release(path, net="srcnn")


# ----------------------------------------------------------------------------- --net spellings


@pytest.mark.parametrize(
    ("written", "arch"),
    [
        ("ms_lapsrn", "mslapsrn"),
        ("MS-LapSRN", "mslapsrn"),
        ("mslapsrn", "mslapsrn"),
        ("CARN-M", "carn_m"),
        ("carnm", "carn_m"),
        ("carn_m", "carn_m"),
        ("RRDBNet", "rrdbnet"),
        ("EDSR", "edsr"),
    ],
)
def test_net_names_are_case_and_separator_insensitive(written, arch):
    assert resolve_arch(written) == arch


def test_unknown_net_lists_the_known_ones(tmp_path):
    known = known_archs()
    assert {"mslapsrn", "carn_m", "fsrcnn"} <= set(known)
    with pytest.raises(ReleaseError, match=r"unknown architecture 'ms_lap'; known: ") as e:
        resolve_arch("ms_lap")
    assert str(e.value).endswith(", ".join(known))
    write_release(tmp_path / "x2.mat", fsrcnn_arrays())
    with pytest.raises(ReleaseError, match="unknown architecture 'ms_lap'"):
        load_release(tmp_path / "x2.mat", net="ms_lap")
    # a user's spelling reaches the recogniser it names
    with pytest.raises(
        ReleaseError, match=r"not a recognised matconvnet release: .*; tried mslapsrn$"
    ):
        load_release(tmp_path / "x2.mat", net="ms_lapsrn")


def test_upscale_cli_takes_the_release_with_any_net_spelling(tmp_path):
    from PIL import Image

    from srlab.cli import upscale as upscale_cli

    write_release(tmp_path / "x2.mat", fsrcnn_arrays())
    img = tmp_path / "in.png"
    Image.fromarray(RNG.integers(0, 255, (10, 12, 3), dtype=np.uint8)).save(img)
    args = [str(img), "--ckpt", str(tmp_path / "x2.mat"), "--out", str(tmp_path / "out")]
    written = upscale_cli.run([*args, "--net", "FS-RCNN", "--device", "cpu"])
    assert len(written) == 1 and Image.open(written[0]).size == (24, 20)
