"""Tables and plots of an amplification study (:class:`~flashgen.studies.amplification.AmplificationResult`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .amplification import AmplificationResult
from ..stats.quantiles import expected_sampled_mse

__all__ = ["format_summary", "markdown_report", "plot_amplification", "verdicts"]

COLORS = {"sampled": "tab:blue", "train": "black", "fit": "tab:green", "kde": "tab:brown",
          "truth": "tab:gray"}
"""Colours of the methods that are not flashgen models; models take the next free colours of
:data:`MODEL_COLORS` in the order they appear."""
MODEL_COLORS = ("tab:purple", "tab:orange", "tab:red", "tab:olive", "tab:cyan", "tab:pink")


def color_of(method: str, methods: list[str]) -> str:
    """Plot colour of ``method`` among the ``methods`` of one figure."""
    if method in COLORS:
        return COLORS[method]
    others = [m for m in methods if m not in COLORS]
    return MODEL_COLORS[others.index(method) % len(MODEL_COLORS)] if method in others else "tab:gray"


def _num(value: float | None, err: float | None = None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "inf" if value == math.inf else "n/a"
    text = _sig(value, digits)
    if err is not None and math.isfinite(err):
        text += f" ± {_sig(err, 2)}"
    return text


def _sig(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10 ** (digits - 1) and abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def _rows(result: AmplificationResult, sampled: bool = False) -> list[dict[str, Any]]:
    keep = ("sampled",) if sampled else tuple(m for m in result.mse if m != "sampled")
    return [r for r in result.summary() if r["method"] in keep]


def format_summary(result: AmplificationResult) -> str:
    """A plain-text table: per ``K`` and method, ``n_equiv`` and ``G`` (mean-MSE based, median)."""
    head = f"{'K':>3} {'grid':>6} {'method':<9} {'events':>8} {'n_equiv':>18} {'G':>15} {'G median':>9} {'ok':>3}"
    lines = [f"{result.toy}: {result.n_train} training events, {result.repeats} repetitions "
             "(n_equiv from the mean quantile MSE ± standard error; G = n_equiv / n_train)", head]
    for r in _rows(result):
        grid = "x".join(str(g) for g in r["grid"])
        lines.append(f"{r['K']:>3} {grid:>6} {r['method']:<9} {r['n_events']:>8} "
                     f"{_num(r['n_equiv'], r['n_equiv_err']):>18} {_num(r['gain'], r['gain_err']):>15} "
                     f"{_num(r['gain_median']):>9} {r['repeats_ok']:>3}")
    for method, messages in result.errors.items():
        if messages:
            lines.append(f"{method}: {len(messages)} of {result.repeats} trainings failed; first: {messages[0]}")
    return "\n".join(lines)


def markdown_report(result: AmplificationResult, published: dict[str, dict[int, str]] | None = None) -> str:
    """Markdown tables of a study: headline per ``K``, every generated size, the sampled check.

    Arguments:
        result: the study.
        published: optional column name -> ``{K: text}`` of published numbers to show beside.
    """
    gens = result.generators
    rows = result.headline()
    n_gen = rows[0]["n_gen"]
    out = [f"### {result.toy}: {result.n_train} training events, {result.repeats} repetitions", ""]
    cols = ["K (grid)", "training sample", "fit"] + [f"{g} @ {n_gen:,}" for g in gens]
    cols += list(published or {})
    out += ["n_equiv (amplification G = n_equiv / n_train); mean-MSE based ± standard error. "
            f"Generators at {n_gen:,} generated events; every size is in the next table.", "",
            "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        cells = [f"{row['K']} ({'x'.join(map(str, row['grid']))})"]
        for m in ["train", "fit"] + gens:
            s = row.get(m)
            cells.append("n/a" if s is None else
                         f"{_num(s['n_equiv'], s['n_equiv_err'])} (G {_num(s['gain'], s['gain_err'], 2)})")
        cells += [p.get(row["K"], "") for p in (published or {}).values()]
        out.append("| " + " | ".join(cells) + " |")
    out += [""] + [f"- {line}" for line in verdicts(result, n_gen)]
    out += ["", "Every method and generated size (median G: median over repetitions of the "
            "per-repetition G; n_equiv(∞): generated-sample noise subtracted).", "",
            "| K | method | events | quantile MSE | n_equiv | G | median G | n_equiv(∞) | ok |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in _rows(result):
        inf = _num(r.get("n_equiv_inf"), r.get("n_equiv_inf_err")) if "n_equiv_inf" in r else ""
        out.append(f"| {r['K']} | {r['method']} | {r['n_events']:,} | {_num(r['mse'], r['mse_err'])} | "
                   f"{_num(r['n_equiv'], r['n_equiv_err'])} | {_num(r['gain'], r['gain_err'], 2)} | "
                   f"{_num(r['gain_median'], None, 2)} | {inf} | {r['repeats_ok']} |")
    out += ["", "Sampled check: simulated mean quantile MSE of truth samples vs the exact "
            "(1 − 1/K)/(K n).", "", "| K | n | simulated MSE | exact MSE | simulated/exact |",
            "|---|---|---|---|---|"]
    for r in _rows(result, sampled=True):
        out.append(f"| {r['K']} | {r['n_events']:,} | {_num(r['mse'], r['mse_err'])} | "
                   f"{_num(r['mse_expected'])} | {r['mse'] / r['mse_expected']:.2f} |")
    seconds = {m: float(np.nanmean(v)) for m, v in result.seconds.items() if np.any(np.isfinite(v))}
    if seconds:
        out += ["", "Mean training time per repetition: " +
                ", ".join(f"{m} {s:.1f} s" for m, s in seconds.items()) + "."]
    for method, messages in result.errors.items():
        if messages:
            out += ["", f"**{method}: {len(messages)} of {result.repeats} trainings failed** "
                    f"(first: `{messages[0]}`)."]
    return "\n".join(out) + "\n"


def verdicts(result: AmplificationResult, n_gen: int | None = None) -> list[str]:
    """One sentence per generator (and the fit): does it amplify, by how much, at which ``K``?

    "amplifies" means ``G - 2 sigma > 1``; "is worth less than its training sample" means
    ``G + 2 sigma < 1``; otherwise the result is compatible with ``G = 1``.
    """
    lines = []
    rows = result.headline(n_gen)
    for method in ["fit"] + result.generators:
        parts, words = [], set()
        for row in rows:
            s = row.get(method)
            if s is None or not math.isfinite(s["gain"]):
                continue
            g, e = s["gain"], s["gain_err"] if math.isfinite(s["gain_err"]) else 0.0
            word = "amplifies" if g - 2 * e > 1 else ("is worth less than its training sample"
                                                      if g + 2 * e < 1 else "is compatible with G = 1")
            words.add(word)
            parts.append(f"K = {row['K']}: G = {_num(g, e, 2)} (median {_num(s['gain_median'], None, 2)}) {word}")
        where = "" if method == "fit" else f" with {rows[0]['n_gen']:,} generated events"
        lines.append(f"{method}{where}: " + "; ".join(parts) + ".")
    return lines


def plot_amplification(result: AmplificationResult, path: str | Path) -> None:
    """Quantile MSE vs number of events, one panel per ``K``, written to ``path`` (png/pdf).

    Shows the exact sampled curve ``(1 - 1/K)/(K n)`` with its simulated points, the training
    sample, the fit level (mean ± standard error band) and every generator's mean MSE (± standard
    error) against its number of generated events. The right axis gives the equivalent number of
    sampled events.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = result.quantiles
    fig, axes = plt.subplots(1, len(ks), figsize=(4.6 * len(ks), 4.2), squeeze=False)
    rows = result.summary()
    n_lo = min(min(result.generated), result.n_train) / 2
    n_hi = max(max(result.generated), max(result.sampled)) * 2
    for ax, k in zip(axes[0], ks):
        per = {m: [r for r in rows if r["K"] == k and r["method"] == m] for m in result.mse}
        n = np.geomspace(n_lo, n_hi, 100)
        ax.plot(n, expected_sampled_mse(n, k), color=COLORS["sampled"], label="sampled (exact)")
        s = per["sampled"]
        ax.errorbar([r["n_events"] for r in s], [r["mse"] for r in s], [r["mse_err"] for r in s],
                    fmt="o", ms=3, color=COLORS["sampled"], label="sampled (simulated)")
        fit = per["fit"][0]
        ax.axhline(fit["mse"], color=COLORS["fit"], label=f"fit (≈ {fit['n_equiv']:.0f} sampled)")
        ax.axhspan(fit["mse"] - fit["mse_err"], fit["mse"] + fit["mse_err"], color=COLORS["fit"], alpha=0.2)
        train = per["train"][0]
        ax.errorbar([result.n_train], [train["mse"]], [train["mse_err"]], fmt="s", color="black",
                    label="training sample")
        for g in result.generators:
            r = per[g]
            ax.errorbar([x["n_events"] for x in r], [x["mse"] for x in r], [x["mse_err"] for x in r],
                        fmt="-o", ms=4, capsize=2, color=color_of(g, list(result.generators)), label=g)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of events (sampled or generated)")
        grid = result.grids[k]
        ax.set_title(f"{result.toy}, {k} quantiles" + (f" ({grid[0]} r x {grid[1]} φ)" if len(grid) == 2 else ""))
        c = (1 - 1 / k) / k
        sec = ax.secondary_yaxis("right", functions=(lambda m, c=c: c / np.maximum(m, 1e-300),
                                                      lambda e, c=c: c / np.maximum(e, 1e-300)))
        sec.set_ylabel("equivalent sampled events")
        ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[0][0].set_ylabel("quantile MSE  Σ(f − 1/K)² / K")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{result.toy}: {result.n_train} training events, mean of {result.repeats} repetitions")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
