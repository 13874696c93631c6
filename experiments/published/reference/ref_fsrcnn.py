"""Independent forward of the FSRCNN authors' MATLAB test code on their released models.

``FSRCNN.m`` + ``deconv.m`` of the project page's FSRCNN_test package, on ``x{2,3,4}.mat``,
with numpy + scipy.ndimage only (no torch, no srlab code):

- conv layer l < L: ``imfilter(x_j, reshape(weights_conv{l}(j,:,i), k, k), 'same', 'replicate')``
  summed over j, ``+ biases_conv{l}(i)``, then PReLU with the scalar ``prelu_conv{l}``
  (``scipy.ndimage.correlate(..., mode='nearest')`` is imfilter's replicate correlation);
- layer L (the deconvolution): ``deconv(x_j, reshape(weights_conv{L}(1,:,j), k, k), s)`` summed
  over j, ``+ biases_conv{L}``; ``deconv.m`` replicate-pads one LR pixel, adds ``x(i,j) * filter``
  at rows ``1+(i-1)s .. +k-1`` of a canvas and crops it from ``(k+1)/2 + s``.
"""

import numpy as np
from matpy import load
from scipy import ndimage


def _kernel(row: np.ndarray, k: int) -> np.ndarray:
    """MATLAB ``reshape(row, k, k)`` (column-major)."""
    return np.asarray(row, np.float64).reshape(k, k, order="F")


def deconv_m(x: np.ndarray, filt: np.ndarray, stride: int) -> np.ndarray:
    """``deconv.m`` literally (one LR map, one k x k filter)."""
    border = 1
    h0, w0 = x.shape
    xp = np.pad(x, border, mode="edge")
    h, w = xp.shape
    k = filt.shape[0]
    out = np.zeros((h * stride + k - 1, w * stride + k - 1))
    for a in range(k):  # the same sums as the authors' (i, j) loop, taken tap by tap
        for b in range(k):
            out[a : a + h * stride : stride, b : b + w * stride : stride] += xp * filt[a, b]
    c0 = (k + 1) // 2 + stride * border - 1  # MATLAB's 1-based start, 0-based
    return out[c0 : c0 + h0 * stride, c0 : c0 + w0 * stride]


class FSRCNNm:
    """``FSRCNN(model, im_l, up_scale)`` of the authors' test code."""

    def __init__(self, path: str) -> None:
        m = load(path)
        self.w = [np.asarray(v, np.float64) for v in m["weights_conv"]]
        self.b = [np.asarray(v, np.float64).reshape(-1) for v in m["biases_conv"]]
        self.a = [np.asarray(v).reshape(-1) for v in m["prelu_conv"]]

    def __call__(self, im_l: np.ndarray, up_scale: int) -> np.ndarray:
        x = [np.asarray(im_l, np.float64)]
        n = len(self.w)
        for layer in range(n - 1):
            w = self.w[layer]
            if w.ndim == 2:  # MATLAB drops a trailing singleton (one output map)
                w = w[:, :, None]
            channel, kk, filters = w.shape
            k = round(kk**0.5)
            slope = float(self.a[layer][0])
            y = []
            for i in range(filters):
                acc = sum(
                    ndimage.correlate(x[j], _kernel(w[j, :, i], k), mode="nearest")
                    for j in range(channel)
                )
                acc = acc + self.b[layer][i]
                y.append(np.maximum(acc, 0) + slope * np.minimum(acc, 0))
            x = y
        w = self.w[n - 1]
        if w.ndim == 2:
            w = w[:, :, None]
        k = round(w.shape[1] ** 0.5)
        out = sum(deconv_m(x[j], _kernel(w[0, :, j], k), up_scale) for j in range(w.shape[2]))
        return out + self.b[n - 1][0]
