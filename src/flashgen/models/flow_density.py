"""Fast density of the coupling spline flow: the forward pass (``x -> z``) and its log-likelihood,
differentiable, written for a CPU.

Training evaluates ``log p(x)`` and its gradient once per step. Through zuko, every coupling layer
builds a transform object, reshapes its MLP output into ``(events, features, parameters)``,
normalises the knots of every bin with a softmax over a last dimension of 8, evaluates the knot
derivatives of every bin, runs its ``where``/``gather`` chain on strided slices, and autograd
records all of it: a step of the zmumu flow (batch 512) is thousands of small kernels, and on
one CPU thread it spends its time launching them, not in the matrix products.

:func:`coupling_log_prob` computes the same function with the layout of
:mod:`~flashgen.models.flow_sampling`: the state is the features' rows ``(features, events)``
(each layer reads its two groups with ``index_select`` and writes one back with
``index_copy``), the last layer's rows are read bin-major (:func:`_layout`), the bin of each
value is found without gradient (it is piecewise constant), only the two knot derivatives of
that bin go through the softplus, and the spline's backward is written by hand (:class:`_Spline`). It reads the flow's
own parameters, so gradients reach them as through zuko. On a trained zmumu flow in float64 the
log-likelihoods of both agree to 3e-13 nats and the gradients to 4e-14 of their largest entry,
and the training step is ~1.9x faster (``benchmarks/results/train-step.md``); the tests ask for
1e-6 on flows far from the identity.

For long trainings the spline's forward and backward (:func:`_spline_forward`,
:func:`_spline_backward`, pure functions of tensors) run compiled by ``torch.compile``
(TorchInductor fuses each into a few C++ loops): the step ~2.8x zuko's, a 3,000-step training
~2.2x with ~20 s of compiling counted (train-step.md). The loop asks for it when told
(:class:`~flashgen.training.TrainConfig` ``compile``); where compiling fails the eager pass runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["coupling_log_prob", "compiled_kernels_failed"]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG2E = 1.0 / math.log(2.0)


def _layout(transform: torch.nn.Module, bins: int) -> tuple[Tensor, Tensor, Tensor, list[torch.nn.Module]]:
    """The conditioning and transformed features of a coupling layer (index tensors), the row
    order that turns zuko's last-layer output ``(feature, [widths K | heights K | derivatives
    K-1])`` into ``(bin, width|height, feature)`` then ``(derivative knot, feature)``, and the
    MLP's linear layers; cached on the layer."""
    mask = transform.mask
    cached = getattr(transform, "_flashgen_layout", None)
    if cached is not None and cached[2].device == mask.device and cached[4] == bins:
        return cached[:4]
    ia = torch.nonzero(mask).flatten()
    ib = torch.nonzero(~mask).flatten()
    fb, k = len(ib), bins
    idx = torch.arange(fb * (3 * k - 1), device=mask.device).view(fb, 3 * k - 1)
    widths_heights = torch.stack([idx[:, :k].t(), idx[:, k:2 * k].t()], 1)
    order = torch.cat([widths_heights.reshape(-1), idx[:, 2 * k:].t().reshape(-1)])
    linear = [m for m in transform.hyper if hasattr(m, "weight")]
    transform._flashgen_layout = (ia, ib, order, linear, bins)
    return ia, ib, order, linear


def _spline_forward(out: Tensor, xb: Tensor, k: int, bound: float, min_bin: float,
                   min_slope: float) -> tuple[Tensor, ...]:
    """The forward of :class:`_Spline`: ``y``, ``ladj``, then what its backward needs."""
    fb, n = xb.shape
    logits = out[:2 * k * fb].view(k, 2, fb, n)
    # exp as exp2 (~4x faster on a CPU); a running sum of rows (cumsum over a leading
    # dimension is ~3x slower; ``cum[j] += ...`` would add a select and a copy per bin)
    e = torch.sub(logits, logits.amax(0)).mul_(_LOG2E).exp2_()
    cum = e.clone()                                          # cum[j] = sum of bins <= j
    rows = cum.unbind(0)                                     # views: one add_ per bin
    for j in range(1, k):
        rows[j].add_(rows[j - 1])
    total = cum[k - 1]                                       # (w|h, fb, n)
    scale, step = 2 * bound * (1 - min_bin * k), 2 * bound * min_bin
    inner = torch.arange(1, k, dtype=xb.dtype, device=xb.device)[:, None, None]
    knots = torch.addcdiv(inner * step - bound, cum[:k - 1, 0], total[0], value=scale)
    index = (knots < xb).sum(0).clamp_(max=k - 1)
    outside = (xb <= -bound) | (xb > bound)
    at = index.expand(2, fb, n)[None]
    upto = cum.gather(0, at)[0]
    lo, hi = (upto - e.gather(0, at)[0]) / total, upto / total   # (w|h, fb, n)
    x0, y0 = torch.add(index.to(xb.dtype) * step - bound, lo, alpha=scale)
    width, height = torch.sub(hi, lo).mul_(scale).add_(step)
    slopes = out[2 * k * fb:].view(k - 1, fb, n)
    raw = slopes.gather(0, torch.stack([index - 1, index]).clamp_(0, k - 2))
    boundary = torch.stack([index == 0, index == k - 1])
    d = F.softplus(raw).add_(min_slope).masked_fill_(boundary, 1.0)
    d0, d1 = d[0], d[1]
    s = height / width
    xi = ((xb - x0) / width).masked_fill_(outside, 0.0)
    xi1 = xi * (1 - xi)
    den = s + (d0 + d1 - 2 * s) * xi1
    p = s * xi * xi + d0 * xi1
    q = d1 * xi * xi + 2 * s * xi1 + d0 * (1 - xi) ** 2
    y = torch.where(outside, xb, torch.addcdiv(y0, height * p, den))
    ladj = torch.log(s * s * q / (den * den)).masked_fill_(outside, 0.0).sum(0)
    return (y, ladj, e, total, lo, hi, index, outside, boundary, raw, xi, s, d0, d1, den, p, q,
            width, height)


def _spline_backward(gy: Tensor, gl: Tensor, e: Tensor, total: Tensor, lo: Tensor, hi: Tensor,
                    index: Tensor, outside: Tensor, boundary: Tensor, raw: Tensor, xi: Tensor, s: Tensor,
                    d0: Tensor, d1: Tensor, den: Tensor, p: Tensor, q: Tensor, width: Tensor,
                    height: Tensor, k: int, scale: float) -> tuple[Tensor, Tensor]:
    """The backward of :class:`_Spline`: the gradients of its MLP output and of ``xb``."""
    fb, n = xi.shape
    g_out = gy.new_zeros(2 * k * fb + (k - 1) * fb, n)
    gy_in = gy.masked_fill(outside, 0.0)
    gl_in = gl.expand(fb, n).masked_fill(outside, 0.0)
    # y = y0 + height p / den and L = log(s^2 q / den^2): for v in (xi, s, d0, d1),
    # gy dy/dv + gl dL/dv = A dp/dv + B dq/dv - D dden/dv (+ 2 gl / s for s)
    inv_den = 1 / den
    a = gy_in * height * inv_den
    b = gl_in / q
    dd = a * p * inv_den + 2 * gl_in * inv_den
    xi2, xi1, one_xi = xi * xi, xi * (1 - xi), 1 - xi
    one_2xi = 1 - 2 * xi
    g_xi = a * (2 * s * xi + d0 * one_2xi) + 2 * b * (d1 * xi + s * one_2xi - d0 * one_xi) \
        - dd * (d0 + d1 - 2 * s) * one_2xi
    g_s = a * xi2 + 2 * b * xi1 - dd * (1 - 2 * xi1) + 2 * gl_in / s
    g_d0 = (a - dd) * xi1 + b * one_xi * one_xi
    g_d1 = b * xi2 - dd * xi1
    # xi = (xb - x0) / width, s = height / width
    inv_w = 1 / width
    g_x0 = -g_xi * inv_w
    g_width = -(g_xi * xi + g_s * s) * inv_w
    g_height = g_s * inv_w + gy_in * p * inv_den
    g_lo = scale * torch.stack([g_x0 - g_width, gy_in - g_height])   # (w|h, fb, n)
    g_hi = scale * torch.stack([g_width, g_height])
    # lo = sum_{j < i} e_j / T, hi = sum_{j <= i} e_j / T, e_j = exp(a_j - max a)
    bins = torch.arange(k, device=index.device)[:, None, None, None]
    i = index[None, None]
    g_e = (bins < i).to(e.dtype) * g_lo + (bins <= i).to(e.dtype) * g_hi - (g_lo * lo + g_hi * hi)
    g_out[:2 * k * fb] = (e * g_e / total).view(2 * k * fb, n)
    # d = softplus(raw) + min_slope at interior knots
    g_raw = (torch.stack([g_d0, g_d1]) * torch.sigmoid(raw)).masked_fill_(boundary, 0.0)
    g_slopes = g_out[2 * k * fb:].view(k - 1, fb, n)
    g_slopes.scatter_add_(0, torch.stack([index - 1, index]).clamp_(0, k - 2), g_raw)
    g_xb = torch.where(outside, gy, g_xi * inv_w)
    return g_out, g_xb


_COMPILED: dict[str, Any] = {}
"""The spline's forward and backward compiled by ``torch.compile`` (built on first use, once per
process), and whether compiling failed here."""


def _compiled(name: str, eager: Callable[..., Any]) -> Callable[..., Any]:
    """``eager`` compiled for static shapes by TorchInductor: one or two C++ loops in place of
    the ~60 small kernels of each pass. Compiled in this process (no compile workers left
    behind after a kill); the shapes of a flow are few, so it compiles once per process (~20 s
    on 2 cores, ~5 s from TorchInductor's cache of an earlier run)."""
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(eager, dynamic=False, fullgraph=True,
                                        options={"compile_threads": 1})
    return _COMPILED[name]


def compiled_kernels_failed() -> bool:
    """Whether compiling the spline failed in this process (the eager pass is then used)."""
    return bool(_COMPILED.get("failed"))


def _run(name: str, eager: Callable[..., Any], compiled: bool, *args: Any) -> Any:
    """``eager(*args)``, through its compiled form when ``compiled`` and compiling works here;
    a machine without a C++ compiler falls back to the eager pass (one warning)."""
    if compiled and not _COMPILED.get("failed"):
        try:
            return _compiled(name, eager)(*args)
        except Exception as err:  # no compiler, unsupported platform: the same function eagerly
            _COMPILED["failed"] = True
            warnings.warn(f"flashgen: compiling the flow's training step failed ({type(err).__name__}); "
                          "training continues without it (slower, the same function)", stacklevel=2)
    return eager(*args)


class _Spline(torch.autograd.Function):
    """The rational-quadratic splines of one coupling layer, with a hand-written backward.

    Inputs: ``out`` the MLP output, ``(rows, n)`` in bin-major order (:func:`_layout`):
    ``2 K fb`` rows of width and height logits ``(bin, width|height, feature)``, then ``(K - 1) fb``
    rows of interior knot-derivative logits ``(knot, feature)``; ``xb`` the transformed features
    ``(fb, n)``. Outputs: ``y`` ``(fb, n)`` and the log-determinant per event ``(n,)``.

    The forward runs without autograd (in place where it can); the backward evaluates the chain
    rule directly (Durkan et al. 2019, eq. 4-5, differentiated by hand; checked against finite
    differences), with one pass over the ``(K, 2, fb, n)`` knots and only the two knot
    derivatives of each value's bin.
    """

    @staticmethod
    def forward(ctx, out: Tensor, xb: Tensor, bins: int, bound: float, min_bin: float,
                min_slope: float, compiled: bool) -> tuple[Tensor, Tensor]:
        y, ladj, *saved = _run("forward", _spline_forward, compiled, out, xb, bins, bound, min_bin, min_slope)
        ctx.save_for_backward(*saved)
        ctx.settings = (bins, 2 * bound * (1 - min_bin * bins))
        ctx.compiled = compiled
        return y, ladj

    @staticmethod
    def backward(ctx, gy: Tensor, gl: Tensor) -> tuple[Tensor | None, ...]:
        g_out, g_xb = _run("backward", _spline_backward, ctx.compiled, gy, gl, *ctx.saved_tensors,
                           *ctx.settings)
        return g_out, g_xb, None, None, None, None, None


def _layer(transform: torch.nn.Module, z: Tensor, c: Tensor | None, bins: int, bound: float,
           min_bin: float, min_slope: float, compiled: bool) -> tuple[Tensor, Tensor]:
    """One coupling layer forward: ``(z', log|det J|)`` with ``z`` the features' rows
    ``(features, n)``, ``c`` ``(context, n)``; the log-determinant has shape ``(n,)``."""
    ia, ib, order, linear = _layout(transform, bins)
    h = z.index_select(0, ia)
    if c is not None:
        h = torch.cat([h, c])
    for layer in linear[:-1]:
        h = torch.addmm(layer.bias[:, None], layer.weight, h).relu()
    last = linear[-1]
    out = torch.addmm(last.bias[order][:, None], last.weight[order], h)
    y, ladj = _Spline.apply(out, z.index_select(0, ib), bins, bound, min_bin, min_slope, compiled)
    return z.index_copy(0, ib, y), ladj


def coupling_log_prob(transforms: list[torch.nn.Module], x: Tensor, c: Tensor | None, bins: int,
                      bound: float, min_bin: float, min_slope: float, compiled: bool = False) -> Tensor:
    """``log p(x | c)`` of a coupling spline flow with a standard normal base, differentiable.

    Arguments:
        transforms: the flow's coupling transforms (zuko ``GeneralCouplingTransform`` whose
            univariate transform is :class:`flashgen.models.flow.RationalQuadraticSpline`), in
            the forward (``x -> z``) order.
        x: events, shape ``(n, features)``.
        c: conditions, shape ``(n, context)``, or ``None``.
        bins, bound, min_bin, min_slope: the spline's settings.
        compiled: run each layer's spline compiled by ``torch.compile`` (the same function
            within float rounding; for long trainings on a CPU, where the compile time pays
            back; the eager pass where compiling fails).

    Returns:
        Log-density per event (nats), shape ``(n,)``.
    """
    z = x.t().contiguous()
    ct = c.t().contiguous() if c is not None else None
    ladj = x.new_zeros(x.shape[0])
    for t in transforms:
        z, layer_ladj = _layer(t, z, ct, bins, bound, min_bin, min_slope, compiled)
        ladj = ladj + layer_ladj
    return ladj - 0.5 * (z * z).sum(0) - 0.5 * len(z) * _LOG_2PI
