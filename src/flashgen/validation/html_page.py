"""The HTML page of a validation report: one self-contained file (inline CSS, no scripts, no
external resources) that references its PNG figures by relative path."""

from __future__ import annotations

import html
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .metric_registry import Value, by_scope, judged_values, registered

__all__ = ["render_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em 2em;
       color: #222; max-width: 1500px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.0em; margin-bottom: 0.3em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.4em 0 1em 0; }
th, td { border: 1px solid #d0d0d0; padding: 0.2em 0.5em; text-align: right; vertical-align: top; }
th { background: #f2f2f2; }
td.name, th.name { text-align: left; }
td small { color: #555; }
.pass { background: #d9f2d9; } .warn { background: #fff0b3; }
.limited { background: #e6e6e6; } .fail { background: #f7c6c6; }
.unavailable { background: #e4d9f2; }
#unavailable { border-left: 4px solid #8a6bb8; padding: 0.2em 0.8em; background: #f6f2fb; }
.verdict { font-size: 1.05em; padding: 0.5em 0.8em; border-radius: 4px; display: inline-block; }
.grid { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; border: 1px solid #e2e2e2; padding: 0.3em; background: #fff; flex: 0 1 auto;
         max-width: 100%; box-sizing: border-box; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.78em; color: #444; max-width: 360px; }
.legend span { padding: 0.1em 0.5em; margin-right: 0.4em; border: 1px solid #ccc; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""

def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Any, fmt: str = ".3g") -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return format(value, fmt)
    return _e(value)


def _checks_by(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Checks by ``(key, metric)``; an unavailable one carries its reason as ``"why"``."""
    reasons = result.get("unavailable") or {}
    return {(c["key"], c["metric"]): {**c, "why": reasons.get(c["key"], "")}
            if c["status"] == "unavailable" else c for c in result.get("checks", [])}


def _cell(checks: dict[tuple[str, str], dict[str, Any]], key: str, metric: str,
          value: Any, fmt: str = ".3g") -> str:
    c = checks.get((key, metric))
    if c is None:
        return f"<td>{_num(value, fmt)}</td>"
    if c["status"] == "unavailable":
        return (f'<td class="unavailable" title="{_e(c.get("why") or "not computed")}">'
                f"{_num(value, fmt)}<br><small>not computed</small></td>")
    tip = (f"perfect generator: {_num(c['null_mean'])} ± {_num(c['null_std'])}; "
           f"noise limit {_num(c['noise'])}; tolerance {_num(c['limit'])}; {c['status']}")
    return (f'<td class="{_e(c["status"])}" title="{_e(tip)}">{_num(value, fmt)}<br>'
            f"<small>perfect ≤ {_num(c['noise'])}</small></td>")


def _unavailable(result: dict[str, Any]) -> str:
    """The metrics that could not be computed, with the reasons (nothing when there are none)."""
    reasons = result.get("unavailable") or {}
    if not reasons:
        return ""
    items = "".join(f"<li><code>{_e(k)}</code>: {_e(why)}</li>" for k, why in reasons.items())
    return (f'<div id="unavailable"><p><strong>Not computed</strong> ({len(reasons)}; '
            "kept in metrics.json with null values under the same key, reasons under "
            f'<code>unavailable</code>):</p><ul>{items}</ul></div>')


COUNT_KEY = re.compile(r"(^|_)(n|events?|members|shards|rows|entries|count|chunk_size)(_|$)")
MAX_META_LINES = 30


def _meta_scalar(value: Any, key: str) -> str:
    """One metadata value as text; integer counts (by their key, e.g. ``train_events``) get
    thousands separators, identifiers such as seeds do not."""
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}" if COUNT_KEY.search(key) else str(int(value))
    if isinstance(value, numbers.Real):
        return format(float(value), ",.6g" if COUNT_KEY.search(key) else ".6g")
    return str(value)


def _meta_lines(value: Any, key: str, path: str = "") -> list[str]:
    """Readable lines for one metadata value: nested mappings as ``a.b: value`` (paths relative to
    the row's key), lists of scalars joined by commas, other lists item by item (``[i]``)."""
    prefix = f"{path}: " if path else ""
    if isinstance(value, Mapping):
        if not value:
            return [prefix + "–"]
        return [line for k, v in value.items()
                for line in _meta_lines(v, str(k), f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return [prefix + (", ".join(_meta_scalar(v, key) for v in value) or "–")]
        return [line for i, v in enumerate(value) for line in _meta_lines(v, key, f"{path}[{i}]")]
    return [prefix + _meta_scalar(value, key)]


def _meta_cell(value: Any, key: str) -> str:
    """HTML of one Samples cell: escaped lines, each at most 200 characters, at most 30 lines."""
    lines = [t if len(t) <= 200 else t[:197] + "..." for t in _meta_lines(value, key)]
    if len(lines) > MAX_META_LINES:
        lines = lines[:MAX_META_LINES - 1] + [f"... ({len(lines) - MAX_META_LINES + 1} more)"]
    return "<br>".join(_e(t) for t in lines)


def _samples(result: dict[str, Any]) -> str:
    """The Samples table: event counts and the metadata of both tables, nested values readable."""
    samples = result["samples"]
    keys: list[str] = []
    for s in samples.values():
        keys += [k for k in s["meta"] if k not in keys]
    rows = [(_e("events in table"), *(f"{s['n_events']:,}" for s in samples.values())),
            (_e("events compared"), *(f"{s['n_used']:,}" for s in samples.values()))]
    rows += [(_e(k), *(_meta_cell(s["meta"].get(k), k) for s in samples.values())) for k in keys]
    body = "".join("<tr>" + "".join(f'<td class="name">{cell}</td>' for cell in r) + "</tr>"
                   for r in rows)
    return (f'<table id="samples-table"><tr><th class="name"></th><th class="name">reference</th>'
            f'<th class="name">generated</th></tr>{body}</table>')


def _label(name: str) -> str:
    """The registered label of the value ``name`` (the name itself when unknown)."""
    return next((v.label for x in registered().values() for v in x.values if v.name == name), name)


def _global_table(result: dict[str, Any]) -> str:
    rows = []
    reasons = result.get("unavailable") or {}
    specs = {v.name: v for v in judged_values()}
    for c in result.get("checks", []):
        if not c["key"].startswith("global/"):
            continue
        spec = specs.get(c["metric"])
        extra = ""
        if c["status"] == "unavailable":
            extra = _e(reasons.get(c["key"], "not computed"))
        elif spec is not None and spec.details is not None:
            extra = _e(spec.details(result, c["key"]))
        rows.append(
            f'<tr><td class="name">{_e(spec.label if spec else c["metric"])}</td>'
            f'<td class="{_e(c["status"])}">{_num(c["value"], spec.fmt if spec else ".4g")}</td>'
            f"<td>{_num(c['null_mean'], '.3g')} ± {_num(c['null_std'], '.2g')}</td>"
            f"<td>{_num(c['noise'], '.3g')}</td><td>{_num(c['limit'])}</td>"
            f'<td class="name">{_e(c["status"])}</td><td class="name">{extra}</td></tr>')
    for metric in by_scope("global"):  # reported beside their floor, not judged
        values = result.get("metrics", {}).get(metric.result_key)
        if values is None:
            continue
        for v in (v for v in metric.values if v.limit is None and v.column):
            floor = result.get("resolution", {}).get(metric.result_key, {}).get(v.name, {})
            details = _e(reasons.get(metric.result_key, "")) or (
                _e(v.details(result, metric.result_key)) if v.details is not None else "")
            rows.append(
                f'<tr><td class="name">{_e(v.label)}</td><td>{_num(values.get(v.name), v.fmt)}</td>'
                f"<td>{_num(floor.get('mean'), '.3g')} ± {_num(floor.get('std'), '.2g')}</td>"
                f'<td>—</td><td>—</td><td class="name">reported</td><td class="name">{details}</td></tr>')
    head = ('<tr><th class="name">metric</th><th>value</th><th>perfect generator</th>'
            '<th>noise limit</th><th>tolerance</th><th class="name">status</th>'
            '<th class="name">details</th></tr>')
    return f'<table id="global-table">{head}{"".join(rows)}</table>'


def _columns(scope: str) -> list[Value]:
    """The values of one scope shown as columns of the per-quantity tables."""
    return [v for x in by_scope(scope) for v in x.values if v.column]


def _value_cell(checks: dict[tuple[str, str], dict[str, Any]], key: str, v: Value,
                values: Mapping[str, Any], unit: str = "") -> str:
    if v.limit is not None:
        return _cell(checks, key, v.name, values.get(v.name), v.fmt)
    return f"<td>{_num(values.get(v.name), v.fmt)}{_e(unit) if v.unit else ''}</td>"


def _quantity_table(result: dict[str, Any], kind: str, table_id: str) -> str:
    checks = _checks_by(result)
    columns, defined = _columns("quantity"), _columns("defined")
    rows = []
    for name, q in result["quantities"].items():
        if q["kind"] != kind:
            continue
        key = f"{kind}/{name}"
        m = result["metrics"].get(key, {})
        unit = f" {q['unit']}" if q["unit"] else ""
        cells = "".join(_value_cell(checks, key, v, m, unit) for v in columns)
        cells += "".join(_value_cell(checks, key, v, m) if q["nullable"] else "<td>–</td>"
                         for v in defined)
        rows.append(
            f'<tr><td class="name">{_e(name)}</td><td>{_num(m.get("n_ref"), ",.0f")} / '
            f'{_num(m.get("n_gen"), ",.0f")}</td>{cells}</tr>')
    head = ('<tr><th class="name">quantity</th><th>events ref / gen</th>'
            + "".join(f"<th>{_e(v.label)}</th>" for v in columns + defined) + "</tr>")
    return f'<table id="{table_id}">{head}{"".join(rows)}</table>'


def _per_quantity_table(entries: dict[str, Any], columns: list[tuple[str, str, str]], title: str,
                        text: str, table_id: str) -> str:
    """A titled table with one row per quantity of ``entries`` (``name -> dict``); ``columns``
    are ``(header, key, format)``. Empty when there are no entries."""
    if not entries:
        return ""
    rows = "".join(f'<tr><td class="name">{_e(name)}</td>'
                   + "".join(f"<td>{_num(e.get(key), fmt)}</td>" for _, key, fmt in columns) + "</tr>"
                   for name, e in entries.items())
    head = '<tr><th class="name">quantity</th>' + "".join(f"<th>{h}</th>" for h, _, _ in columns) + "</tr>"
    return f'<h3>{title}</h3><p>{text}</p><table id="{table_id}">{head}{rows}</table>'


def _worth_table(result: dict[str, Any]) -> str:
    """Effective events per quantity of an ensemble's generated sample (empty otherwise)."""
    return _per_quantity_table(
        result.get("worth") or {},
        [("generated events used", "generated_events", ",.0f"), ("worth n_eff", "n_eff", ",.3g"),
         ("training events", "train_events", ",.0f"), ("amplification G", "amplification", ".2g")],
        "What the generated events are worth",
        "Effective number of simulated events with the same precision in each quantity's "
        "histogram (the bins of the figures), from the spread of the ensemble's bootstrap members "
        "with their optimisation noise separated; G = n_eff / training events. It sees no bias the "
        "members share.", "worth-table")


def _oversampling_table(result: dict[str, Any]) -> str:
    """What the copies of an oversampled sample are worth per quantity (empty otherwise)."""
    return _per_quantity_table(
        result.get("oversampling") or {},
        [("generator-level events", "events", ",.0f"), ("copies", "copies", ",.0f"),
         ("worth (fully simulated events)", "equivalent_events", ",.3g"),
         ("error vs one copy", "error_ratio", ".2f"), ("1/√K", "naive_error_ratio", ".2f")],
        "What the oversampled copies are worth",
        "Copies of one generator-level event are correlated: folding them per event, the histogram "
        "of each quantity (the bins of the figures) has the statistical precision of this many "
        "fully simulated events (flashgen.stats.oversampling).", "oversampling-table")


def _details(values: list[Value], result: dict[str, Any], key: str) -> str:
    """The details of ``values`` (those that have some) of one key, joined."""
    return "; ".join(_e(v.details(result, key)) for v in values if v.details is not None)


def _conditional_table(result: dict[str, Any]) -> str:
    checks = _checks_by(result)
    judged = list(judged_values("quantity"))
    efficiency = list(judged_values("efficiency"))
    rows = []
    for sname, s in result.get("slicings", {}).items():
        for k, label in enumerate(s["labels"]):
            for t in s["targets"]:
                key = f"conditional/{sname}/{k}/{t}"
                m = result["metrics"].get(key, {})
                rows.append(
                    f'<tr><td class="name">{_e(label)}</td><td class="name">{_e(t)}</td>'
                    f'<td>{_num(m.get("n_ref"), ",.0f")} / {_num(m.get("n_gen"), ",.0f")}</td>'
                    + "".join(_cell(checks, key, v.name, m.get(v.name), v.fmt) for v in judged)
                    + "<td>–</td>" * len(efficiency) + "</tr>")
            if s["efficiency"]:
                key = f"conditional/{sname}/{k}/efficiency"
                m = result["metrics"].get(key, {})
                rows.append(
                    f'<tr><td class="name">{_e(label)}</td><td class="name">{_e(s["efficiency"])} '
                    f'fraction</td><td>{_num(m.get("n_ref"), ",.0f")} / {_num(m.get("n_gen"), ",.0f")}'
                    f'</td><td colspan="{len(judged)}" class="name">{_details(efficiency, result, key)}</td>'
                    + "".join(_cell(checks, key, v.name, m.get(v.name), v.fmt) for v in efficiency)
                    + "</tr>")
    if not rows:
        return "<p>No condition variables in these tables.</p>"
    head = ('<tr><th class="name">slice</th><th class="name">quantity</th><th>events ref / gen</th>'
            + "".join(f"<th>{_e(v.label)}</th>" for v in judged + efficiency) + "</tr>")
    return f'<table id="conditional-table">{head}{"".join(rows)}</table>'


def _thresholds(result: dict[str, Any]) -> str:
    rows = "".join(f'<tr><td class="name">{_e(k)}</td><td>{_num(t["limit"])}</td>'
                   f'<td class="name">{_e(t["description"])}</td></tr>'
                   for k, t in result["thresholds"].items())
    sig = result["settings"]["noise_sigmas"]
    return (
        "<p>Each metric is compared with its tolerance and with its <em>statistical resolution</em>: "
        "what a perfect generator would score at these sample sizes, from "
        f"{result['settings']['repeats']} comparisons of two bootstrap resamples of the reference "
        "with the sizes used here (the classifier AUC: its exact null distribution). The "
        f"<em>noise limit</em> is the largest of mean + {sig:g} std, "
        f"{result['settings']['noise_mean_factor']:g} × mean and the largest of those values.</p>"
        '<p class="legend"><span class="pass">pass: within tolerance and noise</span>'
        '<span class="warn">warn: beyond noise, within tolerance</span>'
        '<span class="limited">limited: beyond tolerance but within noise (samples too small)</span>'
        '<span class="fail">fail: beyond tolerance and noise</span>'
        '<span class="unavailable">unavailable: could not be computed (reason given)</span></p>'
        f'<table id="thresholds-table"><tr><th class="name">metric</th><th>tolerance</th>'
        f'<th class="name">meaning</th></tr>{rows}</table>')


def _figures(figures: Sequence[dict[str, str]], section: str) -> str:
    items = [f for f in figures if f["section"] == section]
    if not items:
        return ""
    body = "".join(f'<figure><img src="{_e(f["file"])}" alt="{_e(f["caption"])}">'
                   f'<figcaption>{_e(f["caption"])}</figcaption></figure>' for f in items)
    return f'<div class="grid">{body}</div>'


def render_html(result: dict[str, Any], figures: Sequence[dict[str, str]]) -> str:
    """The report page for ``result`` (the validation metrics) and its ``figures``."""
    summary = result["summary"]
    counts = summary["counts"]
    worst = "fail" if counts["fail"] else "warn" if counts["warn"] else \
        "limited" if counts["limited"] else "unavailable" if counts.get("unavailable") else "pass"
    notes = "".join(f"<li>{_e(n)}</li>" for n in result["settings"]["notes"])
    failed = ", ".join(summary["failed"][:30]) + (" ..." if len(summary["failed"]) > 30 else "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>flashgen validation report</title><style>{CSS}</style></head><body>",
        "<h1>flashgen validation report</h1>",
        f'<p class="verdict {worst}" id="verdict">{_e(summary["verdict"])}</p>',
        f"<p>{' · '.join(f'{_e(k)}: {v}' for k, v in counts.items())}"
        f"{' — failing: ' + _e(failed) if failed else ''}</p>",
        _unavailable(result),
        '<h2 id="samples">Samples</h2>', _samples(result),
        f"<ul>{notes}</ul>" if notes else "",
        '<h2 id="metrics">Metrics</h2>',
        "<h3>Whole events</h3>", _global_table(result),
        "<h3>Features</h3>", _quantity_table(result, "feature", "metrics-table"),
        "<h3>Derived observables</h3>", _quantity_table(result, "observable", "observables-table"),
        _worth_table(result), _oversampling_table(result),
        "<h3>Conditional checks</h3>", _conditional_table(result),
        "<h3>Thresholds</h3>", _thresholds(result),
        '<h2 id="features">Feature distributions</h2>', _figures(figures, "features"),
        '<h2 id="observables">Derived observables</h2>', _figures(figures, "observables"),
        '<h2 id="conditional">Conditional distributions</h2>', _figures(figures, "conditional"),
        '<h2 id="correlations">Correlations</h2>', _figures(figures, "correlations"),
    ]
    if any(f["section"] == "2d" for f in figures):
        parts += ['<h2 id="2d">2D comparison</h2>', _figures(figures, "2d")]
    parts += [f"<p><small>flashgen {_e(result['flashgen_version'])}; seed "
              f"{_e(result['settings']['seed'])}; every number is in metrics.json.</small></p>",
              "</body></html>"]
    return "\n".join(p for p in parts if p)
