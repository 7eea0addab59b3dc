"""PNG figures of a comparison: histograms with ratio panels, efficiencies, correlations, 2D.

Figures are drawn with the object-oriented matplotlib API on the Agg canvas (no pyplot, no
global backend change) and mplhep's ``histplot``. Reference: black points with statistical error
bars; generated: blue line, with a shaded 68 % band when an ensemble of generators is given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["HistPanel", "plot_2d", "plot_correlations", "plot_efficiency", "plot_hists"]

REF_COLOR = "black"
GEN_COLOR = "#1f5fbf"
BAND_COLOR = "#9ec3f0"
DPI = 100
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
}


@dataclass
class HistPanel:
    """One histogram comparison.

    Attributes:
        reference, generated: values, shapes ``(n_ref,)`` and ``(n_gen,)`` (NaN ignored).
        edges: bin edges, shape ``(n_bins + 1,)``.
        xlabel: axis label with unit.
        title: panel title (e.g. the slice).
        member: ensemble member index per generated value, shape ``(n_gen,)``, or ``None``.
        text: a short line printed under the title (e.g. the KS p-value).
    """

    reference: np.ndarray
    generated: np.ndarray
    edges: np.ndarray
    xlabel: str
    title: str = ""
    member: np.ndarray | None = None
    text: str = ""


def _figure(width: float, height: float) -> object:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _density(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts, _ = np.histogram(values, bins=edges)
    widths = np.diff(edges)
    n = max(values.size, 1)
    return counts / (n * widths), np.sqrt(counts) / (n * widths), counts


def _draw(ax: object, rax: object, panel: HistPanel, legend: bool) -> None:
    import mplhep
    from matplotlib.ticker import MaxNLocator

    ref = np.asarray(panel.reference, dtype=np.float64)
    gen = np.asarray(panel.generated, dtype=np.float64)
    fr, fg = np.isfinite(ref), np.isfinite(gen)
    member = panel.member[fg] if panel.member is not None else None
    ref, gen = ref[fr], gen[fg]
    edges = np.asarray(panel.edges, dtype=np.float64)
    d_ref, e_ref, c_ref = _density(ref, edges)
    d_gen, e_gen, c_gen = _density(gen, edges)
    widths = np.diff(edges)
    centers = 0.5 * (edges[1:] + edges[:-1])

    band = None
    if member is not None and gen.size:
        from ..errors import FlashgenError
        from ..stats.histogram_worth import worth_of_sample

        # the pooled histogram's 68 % band of the uncertainty inherited from the training sample
        try:
            w = worth_of_sample(gen, member, edges)
            band = (w.band_low, w.band_high)  # fractions of all finite values, as _density
        except FlashgenError:
            band = None
    if band is not None:
        lo, hi = band[0] / widths, band[1] / widths
        ax.stairs(hi, edges, baseline=lo, fill=True, color=BAND_COLOR, alpha=0.7,
                  label="inherited 68 % band")
    mplhep.histplot(d_gen, edges, ax=ax, color=GEN_COLOR, label="generated", flow="none")
    mplhep.histplot(d_ref, edges, yerr=e_ref, ax=ax, histtype="errorbar", color=REF_COLOR,
                    markersize=3, label="reference", flow="none")
    positive = np.concatenate([d_ref[d_ref > 0], d_gen[d_gen > 0]])
    if positive.size and positive.max() / positive.min() > 1e3:
        ax.set_yscale("log")
    ax.set_ylabel("density")
    title = "\n".join(t for t in (panel.title, panel.text) if t)
    if title:
        ax.set_title(title, fontsize=8)
    if legend:
        ax.legend(loc="best", frameon=False)
    ax.tick_params(labelbottom=False)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_ref > 0, d_gen / d_ref, np.nan)
        rel = np.sqrt(np.where(c_gen > 0, 1.0 / c_gen, 0.0) + np.where(c_ref > 0, 1.0 / c_ref, 0.0))
        if band is not None:
            rax.stairs(np.where(d_ref > 0, hi / d_ref, np.nan), edges,
                       baseline=np.where(d_ref > 0, lo / d_ref, np.nan),
                       fill=True, color=BAND_COLOR, alpha=0.7)
    rax.axhline(1.0, color="grey", lw=0.8)
    rax.errorbar(centers, ratio, yerr=ratio * rel, fmt="o", ms=2.5, color=GEN_COLOR, lw=0.8)
    rax.set_ylim(0.5, 1.5)
    rax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    rax.set_xlim(edges[0], edges[-1])
    ax.set_xlim(edges[0], edges[-1])
    rax.set_ylabel("gen / ref")
    rax.set_xlabel(panel.xlabel)


def plot_hists(path: str | os.PathLike[str], panels: Sequence[HistPanel], *,
               ncols: int | None = None) -> None:
    """Histograms (normalised to unit area) with a ratio panel below each, in a grid.

    Arguments:
        path: PNG file to write.
        panels: one :class:`HistPanel` per comparison.
        ncols: panels per row (default: all in one row, at most 4).
    """
    import matplotlib

    n = len(panels)
    ncols = ncols or min(n, 4)
    nrows = int(np.ceil(n / ncols))
    with matplotlib.rc_context(STYLE):
        fig = _figure(3.6 * ncols, 3.4 * nrows)
        grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[3, 1] * nrows)
        for k, panel in enumerate(panels):
            row, col = divmod(k, ncols)
            ax = fig.add_subplot(grid[2 * row, col])
            rax = fig.add_subplot(grid[2 * row + 1, col], sharex=ax)
            _draw(ax, rax, panel, legend=(k == 0))
        fig.savefig(path, dpi=DPI)


def plot_efficiency(path: str | os.PathLike[str], labels: Sequence[str],
                    eff_ref: np.ndarray, err_ref: np.ndarray,
                    eff_gen: np.ndarray, err_gen: np.ndarray, *, title: str = "",
                    ylabel: str = "efficiency") -> None:
    """Efficiency per slice for both samples with binomial error bars; labels on the x axis."""
    import matplotlib

    x = np.arange(len(labels), dtype=np.float64)
    with matplotlib.rc_context(STYLE):
        fig = _figure(max(3.6, 1.3 * len(labels) + 1.0), 3.2)
        ax = fig.add_subplot()
        ax.errorbar(x - 0.08, eff_ref, yerr=err_ref, fmt="o", color=REF_COLOR, ms=4,
                    label="reference")
        ax.errorbar(x + 0.08, eff_gen, yerr=err_gen, fmt="s", color=GEN_COLOR, ms=4,
                    label="generated")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=20, ha="right")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        ax.legend(frameon=False)
        fig.savefig(path, dpi=DPI)


def plot_correlations(path: str | os.PathLike[str], names: Sequence[str],
                      corr_ref: np.ndarray, corr_gen: np.ndarray) -> None:
    """Reference and generated correlation matrices side by side, and their difference."""
    import matplotlib

    n = len(names)
    size = max(3.2, 0.22 * n + 1.6)
    with matplotlib.rc_context(STYLE):
        fig = _figure(3 * size, size)
        axes = fig.subplots(1, 3)
        diff = np.asarray(corr_gen) - np.asarray(corr_ref)
        lim = max(float(np.max(np.abs(diff))), 1e-3)
        for ax, mat, title, vmax, cmap in [
            (axes[0], corr_ref, "reference", 1.0, "RdBu_r"),
            (axes[1], corr_gen, "generated", 1.0, "RdBu_r"),
            (axes[2], diff, "generated - reference", lim, "PuOr_r"),
        ]:
            im = ax.imshow(mat, vmin=-vmax, vmax=vmax, cmap=cmap)
            ax.set_title(title)
            ax.set_xticks(range(n))
            ax.set_yticks(range(n))
            ax.set_xticklabels(names, rotation=90, fontsize=6)
            ax.set_yticklabels(names, fontsize=6)
            fig.colorbar(im, ax=ax, shrink=0.8)
        fig.savefig(path, dpi=DPI)


def _median_line(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.digitize(x, edges) - 1
    centers = 0.5 * (edges[1:] + edges[:-1])
    med = np.full(len(centers), np.nan)
    for k in range(len(centers)):
        sel = y[idx == k]
        if sel.size >= 10:
            med[k] = np.median(sel)
    return centers, med


def plot_2d(path: str | os.PathLike[str], ref_x: np.ndarray, ref_y: np.ndarray,
            gen_x: np.ndarray, gen_y: np.ndarray, edges_x: np.ndarray, edges_y: np.ndarray, *,
            xlabel: str, ylabel: str) -> None:
    """2D histograms of (x, y) for reference and generated side by side, same colour scale,
    with the median of y per x bin of both samples drawn on each."""
    import matplotlib
    from matplotlib.colors import LogNorm

    with matplotlib.rc_context(STYLE):
        fig = _figure(8.0, 3.6)
        axes = fig.subplots(1, 2, sharey=True)
        h_ref, _, _ = np.histogram2d(ref_x, ref_y, bins=[edges_x, edges_y], density=True)
        h_gen, _, _ = np.histogram2d(gen_x, gen_y, bins=[edges_x, edges_y], density=True)
        positive = np.concatenate([h_ref[h_ref > 0], h_gen[h_gen > 0]])
        norm = LogNorm(positive.min(), positive.max()) if positive.size else None
        med_ref = _median_line(ref_x, ref_y, edges_x)
        med_gen = _median_line(gen_x, gen_y, edges_x)
        for ax, h, title in [(axes[0], h_ref, "reference"), (axes[1], h_gen, "generated")]:
            mesh = ax.pcolormesh(edges_x, edges_y, np.where(h > 0, h, np.nan).T, norm=norm,
                                 cmap="viridis")
            ax.plot(*med_ref, color="white", lw=1.5, label="median, reference")
            ax.plot(*med_gen, color="orange", lw=1.5, ls="--", label="median, generated")
            ax.set_title(title)
            ax.set_xlabel(xlabel)
        axes[0].set_ylabel(ylabel)
        axes[0].legend(loc="upper left", frameon=True, facecolor="#808080", framealpha=0.9,
                       labelcolor="white", fontsize=7)
        fig.colorbar(mesh, ax=axes, shrink=0.9, label="density")
        fig.savefig(path, dpi=DPI)
