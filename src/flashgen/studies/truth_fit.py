"""Maximum-likelihood fits of a toy's true functional form: the amplification benchmark's ceiling.

Knowing the functional form of the truth and fitting its few parameters to the training sample is
the best one can do with that sample; a generative model, which assumes far less, should not beat
it. The fitted density is scored with its exact probabilities in the truth's equal-probability
bins (integrated analytically, no sampling noise):

- camel back: ``f N(mu1, sigma1) + (1 - f) N(mu2, sigma2)``, five parameters (two means, two
  widths, relative height), an unbinned fit with iminuit;
- ring / shell: radius ``N(radius, width)`` truncated at zero with uniform direction, two
  parameters, fitted to the radii of the points.

References:
    Butter, Diefenbacher, Kasieczka, Nachman, Plehn, "GANplifying event samples",
    SciPost Phys. 10 (2021) 139, arXiv:2008.06545 (the 5-parameter fit benchmark).
    Dembinski et al., iminuit, doi:10.5281/zenodo.3949207.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from iminuit import Minuit
from scipy import special, stats

from ..errors import FlashgenError
from ..sources.toys import CamelBack, Shell, ToyDensity
from ..stats.quantiles import pit_dims, quantile_grid

__all__ = ["TruthFit", "fit_truth", "fit_camelback", "fit_shell"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class TruthFit:
    """A maximum-likelihood fit of a toy's functional form.

    Attributes:
        kind: ``"camelback"`` or ``"shell"``.
        params: fitted values by name (camel back: ``mu1, sigma1, mu2, sigma2, frac``;
            shell: ``radius, width``).
        errors: their Hesse uncertainties.
        nll: negative log-likelihood at the minimum.
        valid: whether MIGRAD reported a valid minimum.
        dim: dimension of the fitted space (1 for the camel back).
    """

    kind: str
    params: dict[str, float]
    errors: dict[str, float] = field(default_factory=dict)
    nll: float = float("nan")
    valid: bool = True
    dim: int = 1

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """CDF of the fitted camel back at ``x``, or of the fitted radius at radii ``x``."""
        x = np.asarray(x, dtype=np.float64)
        p = self.params
        if self.kind == "camelback":
            return (p["frac"] * special.ndtr((x - p["mu1"]) / p["sigma1"])
                    + (1 - p["frac"]) * special.ndtr((x - p["mu2"]) / p["sigma2"]))
        return Shell(max(self.dim, 2), p["radius"], p["width"]).radius_cdf(x)

    def bin_probabilities(self, truth: ToyDensity, k: int) -> np.ndarray:
        """Exact probabilities of the fitted density in the ``k`` equal-probability bins of ``truth``.

        Returns:
            Shape ``(k,)``, ordered as :func:`flashgen.stats.quantiles.bin_index`.
        """
        grid = quantile_grid(k, pit_dims(truth))
        q = np.linspace(0.0, 1.0, grid[0] + 1)
        if self.kind == "camelback":
            if not isinstance(truth, CamelBack):
                raise FlashgenError("a camel-back fit can only be scored against the camel back")
            edges = np.concatenate([[-np.inf], truth.ppf(q[1:-1]), [np.inf]])
        else:
            if not isinstance(truth, Shell):
                raise FlashgenError("a shell fit can only be scored against a shell or ring")
            edges = np.concatenate([[0.0], truth.radius_ppf(q[1:-1]), [np.inf]])
        probs = np.diff(self.cdf(edges))
        if len(grid) == 2:  # uniform azimuth: every azimuthal bin gets 1/n_phi of each ring
            probs = np.repeat(probs, grid[1]) / grid[1]
        return probs


def _camel_nll(x: np.ndarray):  # type: ignore[no-untyped-def]
    def nll(mu1: float, sigma1: float, mu2: float, sigma2: float, frac: float) -> float:
        z1 = (x - mu1) / sigma1
        z2 = (x - mu2) / sigma2
        l1 = np.log(max(frac, 1e-300)) - np.log(sigma1) - 0.5 * z1 * z1
        l2 = np.log(max(1.0 - frac, 1e-300)) - np.log(sigma2) - 0.5 * z2 * z2
        return float(-np.sum(np.logaddexp(l1, l2)) + len(x) * _LOG_SQRT_2PI)

    return nll


def _two_means(x: np.ndarray) -> tuple[float, float]:
    """Split point of a 1D sample by 2-means (Lloyd's iterations from the quartiles)."""
    c1, c2 = np.quantile(x, [0.25, 0.75])
    for _ in range(50):
        cut = 0.5 * (c1 + c2)
        lo, hi = x[x < cut], x[x >= cut]
        if len(lo) == 0 or len(hi) == 0:
            break
        new = float(lo.mean()), float(hi.mean())
        if new == (c1, c2):
            break
        c1, c2 = new
    return float(c1), float(c2)


def fit_camelback(x: np.ndarray) -> TruthFit:
    """Unbinned 5-parameter maximum-likelihood fit of a two-Gaussian mixture.

    Several starting points (2-means split, quartiles) are tried; the lowest minimum wins.

    Arguments:
        x: sample, shape ``(n,)`` or ``(n, 1)``, ``n >= 6``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) < 6:
        raise FlashgenError(f"a 5-parameter fit needs at least 6 events, got {len(x)}")
    spread = float(np.std(x)) or 1.0
    lo_x, hi_x = float(x.min()), float(x.max())
    starts = []
    for c1, c2 in (_two_means(x), tuple(np.quantile(x, [0.25, 0.75]))):
        cut = 0.5 * (c1 + c2)
        parts = [x[x < cut], x[x >= cut]]
        widths = [float(np.std(p)) if len(p) > 1 else spread / 2 for p in parts]
        frac = min(max(len(parts[0]) / len(x), 0.05), 0.95)
        starts.append((float(c1), max(widths[0], 1e-2 * spread), float(c2), max(widths[1], 1e-2 * spread), frac))
    best: Minuit | None = None
    nll = _camel_nll(x)
    for start in starts:
        m = Minuit(nll, *start)
        m.errordef = Minuit.LIKELIHOOD
        m.limits["mu1"] = m.limits["mu2"] = (lo_x - spread, hi_x + spread)
        m.limits["sigma1"] = m.limits["sigma2"] = (1e-3 * spread, 10 * spread)
        m.limits["frac"] = (0.0, 1.0)
        m.migrad()
        if best is None or (m.valid and not best.valid) or (m.valid == best.valid and m.fval < best.fval):
            best = m
    assert best is not None
    if best.valid:
        best.hesse()
    names = ["mu1", "sigma1", "mu2", "sigma2", "frac"]
    return TruthFit("camelback", {n: float(best.values[n]) for n in names},
                    {n: float(best.errors[n]) for n in names}, float(best.fval), bool(best.valid), 1)


def fit_shell(points: np.ndarray) -> TruthFit:
    """Unbinned 2-parameter maximum-likelihood fit of a shell's radius and width.

    The radius density is ``N(radius, width)`` truncated at zero; the uniform direction carries
    no parameter. The Jacobian ``r^(dim-1)`` does not depend on the parameters and drops out.

    Arguments:
        points: sample of shape ``(n, dim)``, ``dim >= 2``, ``n >= 3``.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise FlashgenError(f"a shell fit needs points of shape (n, dim >= 2), got {points.shape}")
    if len(points) < 3:
        raise FlashgenError(f"a shell fit needs at least 3 events, got {len(points)}")
    r = np.linalg.norm(points, axis=1)

    def nll(radius: float, width: float) -> float:
        logpdf = stats.norm.logpdf(r, radius, width) - special.log_ndtr(radius / width)
        return float(-np.sum(logpdf))

    scale = float(r.mean()) or 1.0
    m = Minuit(nll, radius=float(r.mean()), width=max(float(r.std()), 1e-3 * scale))
    m.errordef = Minuit.LIKELIHOOD
    m.limits["radius"] = (0.0, None)
    m.limits["width"] = (1e-4 * scale, 10 * scale)
    m.migrad()
    if m.valid:
        m.hesse()
    names = ["radius", "width"]
    return TruthFit("shell", {n: float(m.values[n]) for n in names},
                    {n: float(m.errors[n]) for n in names}, float(m.fval), bool(m.valid), points.shape[1])


def fit_truth(truth: ToyDensity, points: np.ndarray) -> TruthFit:
    """Fit the functional form of ``truth`` (camel back or shell/ring) to ``points`` ``(n, dim)``."""
    if isinstance(truth, CamelBack):
        return fit_camelback(points)
    if isinstance(truth, Shell):
        return fit_shell(points)
    raise FlashgenError(f"no functional-form fit for {type(truth).__name__}; use the camel back or the ring")
