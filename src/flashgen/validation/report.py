"""Write a validation report: ``report.html`` (self-contained), ``metrics.json`` and PNG figures.

Everything is built in a hidden temporary folder beside the target and then moved into place:
a new folder is renamed onto the target in one step; into an existing folder each file is moved
atomically, ``report.html`` last, and figures that an earlier report listed but this one does
not are removed. An interrupted run leaves the previous report untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..files import remove_temporaries
from .html_page import render_html
from .plots import HistPanel, plot_2d, plot_correlations, plot_efficiency, plot_hists

__all__ = ["make_figures", "write_report"]

REPORT = "report.html"
METRICS = "metrics.json"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@contextlib.contextmanager
def _staging(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    target = Path(out_dir)
    parent = target.parent if str(target.parent) else Path(".")
    remove_temporaries(parent, target.name)  # left by a killed run of the same report
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the report is an ordinary folder
    try:
        yield tmp
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, target: Path) -> None:
    if not target.exists():
        try:
            os.rename(tmp, target)
            return
        except OSError:  # created meanwhile: fall through to a file-by-file move
            pass
    old_files: list[str] = []
    with contextlib.suppress(OSError, ValueError, AttributeError):
        old_files = list(json.loads((target / METRICS).read_text()).get("files", []))
    names = sorted(p.name for p in tmp.iterdir())
    for name in sorted(names, key=lambda n: n == REPORT):
        os.replace(tmp / name, target / name)
    for name in old_files:
        if isinstance(name, str) and name not in names and name == Path(name).name:
            with contextlib.suppress(OSError):
                (target / name).unlink()


def _ks_text(metrics: dict[str, Any]) -> str:
    if "ks_stat" not in metrics or metrics.get("ks_stat") is None:
        return ""
    p = metrics.get("ks_pvalue")
    w = metrics.get("w1_norm")
    parts = [f"KS {metrics['ks_stat']:.3g} (p={p:.2g})" if p is not None else ""]
    if w is not None:
        parts.append(f"W1/σ {w:.3g}")
    return ", ".join(x for x in parts if x)


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=np.float64)


def make_figures(folder: Path, result: dict[str, Any], comp: Any) -> list[dict[str, str]]:
    """Draw every figure into ``folder``; return ``[{section, file, caption}]`` in order."""
    figures: list[dict[str, str]] = []
    plan = comp.plan
    member = comp.member
    for q in plan.quantities.values():
        file = f"hist_{_safe(q.name)}.png"
        m = result["metrics"].get(f"{q.kind}/{q.name}", {})
        panel = HistPanel(comp.ref[q.name], comp.gen[q.name], q.edges, q.label,
                          title=q.name, member=member, text=_ks_text(m))
        plot_hists(folder / file, [panel])
        section = "features" if q.kind == "feature" else "observables"
        caption = f"{q.name}: {q.description}" if q.description else q.name
        figures.append({"section": section, "file": file, "caption": caption})

    for s in plan.slicings:
        labels = s.labels()
        vr, vg = comp.ref[f"slice:{s.name}"], comp.gen[f"slice:{s.name}"]
        for t in s.targets:
            q = plan.quantities[t]
            panels = []
            for k, label in enumerate(labels):
                mr, mg = s.mask(vr, k), s.mask(vg, k)
                m = result["metrics"].get(f"conditional/{s.name}/{k}/{t}", {})
                edges = s.target_edges.get((k, t), q.edges)
                panels.append(HistPanel(comp.ref[t][mr], comp.gen[t][mg], edges, q.label,
                                        title=label, member=member[mg] if member is not None else None,
                                        text=_ks_text(m)))
            file = f"slice_{_safe(s.name)}_{_safe(t)}.png"
            plot_hists(folder / file, panels)
            figures.append({"section": "conditional", "file": file,
                            "caption": f"{t} in slices of {s.spec.label}"})
        if s.efficiency is not None:
            effs = [result["metrics"].get(f"conditional/{s.name}/{k}/efficiency", {})
                    for k in range(len(labels))]
            file = f"eff_{_safe(s.name)}.png"
            columns = [_column(effs, key) for key in ("eff_ref", "eff_ref_err", "eff_gen", "eff_gen_err")]
            plot_efficiency(folder / file, labels, *columns,
                            title=f"{s.efficiency} fraction per {s.spec.label} slice",
                            ylabel=f"{s.efficiency} fraction")
            figures.append({"section": "conditional", "file": file,
                            "caption": f"{s.efficiency} fraction with binomial (Clopper-Pearson 68 %) errors per slice "
                                       f"of {s.spec.label}"})

    if "correlation" in result:
        corr = result["correlation"]
        plot_correlations(folder / "correlation.png", corr["columns"],
                          np.asarray(corr["reference"], dtype=np.float64),
                          np.asarray(corr["generated"], dtype=np.float64))
        figures.append({"section": "correlations", "file": "correlation.png",
                        "caption": "Pearson correlation matrices of the features (rows with NaN "
                                   "dropped) and their difference"})

    from ..sources.observables import COMPARISON_PAIRS

    for x, y in COMPARISON_PAIRS:
        if x in plan.quantities and y in plan.quantities:
            qx, qy = plan.quantities[x], plan.quantities[y]
            rx, ry, gx, gy = comp.ref[x], comp.ref[y], comp.gen[x], comp.gen[y]
            fr = np.isfinite(rx) & np.isfinite(ry)
            fg = np.isfinite(gx) & np.isfinite(gy)
            ex = np.linspace(qx.edges[0], qx.edges[-1], 41)
            ey = np.linspace(qy.edges[0], qy.edges[-1], 41)
            file = f"2d_{_safe(x)}_{_safe(y)}.png"
            plot_2d(folder / file, rx[fr], ry[fr], gx[fg], gy[fg], ex, ey,
                    xlabel=qx.label, ylabel=qy.label)
            figures.append({"section": "2d", "file": file,
                            "caption": f"{y} against {x}; lines: median of {y} per {x} bin"})
    return figures


def write_report(out_dir: str | os.PathLike[str], result: dict[str, Any], comp: Any) -> Path:
    """Write ``report.html``, ``metrics.json`` and the figures into ``out_dir`` atomically.

    Arguments:
        out_dir: target folder (created if missing; its parent must exist).
        result: the metrics from :func:`~flashgen.validation.validate` (JSON-ready).
        comp: the prepared comparison (samples and plan) the figures are drawn from.

    Returns:
        The path of ``report.html``.
    """
    with _staging(out_dir) as tmp:
        figures = make_figures(tmp, result, comp)
        result["files"] = [f["file"] for f in figures] + [METRICS, REPORT]
        (tmp / METRICS).write_text(json.dumps(result, indent=1, allow_nan=False))
        (tmp / REPORT).write_text(render_html(result, figures), encoding="utf-8")
    return Path(out_dir) / REPORT
