"""Flash simulation of Z→μμ (paper 002): per-event fidelity, oversampling statistics, speed.

One run, on one machine:

1. two references made with ``flashgen simulate zmumu --keep-unselected`` (pileup 20): a training
   one and an independent held-out one (cached in ``--cache``, outside the repository);
2. ``flashgen train --preset zmumu-flash`` on the training reference (or ``--model``);
3. generation from the held-out reference's generator-level columns, one copy per event, and
   :func:`flashgen.sources.zmumu.flash.flash_summary` of both: selection efficiency overall and
   per bin of generator-level pT(μμ) and m(μμ), muon pT resolution and scale per bin of true pT,
   leading-jet response per bin of generator-level jet pT, MET resolution per bin of nvtx;
4. oversampling K = 1, 2, 5, 10, 25 of the same held-out events: the folded statistical error of
   the m(μμ), pT(μμ) and MET histograms relative to one copy, against the naive 1/√K, and the
   number of fully simulated events the sample equals;
5. speed, measured here in one run: ``simulate zmumu --level gen`` (generator level only) +
   flash generation with K copies, against the full chain (PYTHIA + pileup + detector), per
   selected reconstructed event.

Writes ``results/flash.json`` and ``results/flash.md``.

Usage::

    python benchmarks/bench_flash.py [--train-events 24000] [--test-events 8000]
        [--cache /tmp/flashgen-bench-flash] [--model FILE] [--speed-events 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import command_line, describe_machine, write_results

KS = (1, 2, 5, 10, 25)
EDGES = {"mll": np.linspace(60.0, 120.0, 31), "ptll": np.array([0, 2, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 70, 100.0]),
         "met": np.array([0, 5, 10, 15, 20, 25, 30, 40, 50, 70, 100.0])}


def _flashgen(*args: object) -> float:
    """Run ``flashgen *args`` quietly; the wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("flashgen")), *map(str, args), "-q"], check=True)
    return time.perf_counter() - start


def _reference(folder: Path, events: int, seed: int, workers: int) -> Path:
    if not (folder / "_flashgen_run.json").exists() or len(list(folder.glob("shard-*.parquet"))) * 500 < events:
        _flashgen("simulate", "zmumu", "--keep-unselected", "--events", events, "--seed", seed,
                  "--workers", workers, "--out", folder)
    return folder


def _compare(ref: dict[str, Any], gen: dict[str, Any]) -> dict[str, Any]:
    """Generated vs reference numbers of :func:`flash_summary`: differences, pulls, ratios."""
    out: dict[str, Any] = {}
    e_r, e_g = ref["efficiency"], gen["efficiency"]
    out["efficiency"] = {"reference": e_r["value"], "generated": e_g["value"],
                         "difference": e_g["value"] - e_r["value"],
                         "error": float(np.hypot(e_r["error"], e_g["error"]))}
    for key in ("efficiency_vs_gen_ptll", "efficiency_vs_gen_mll"):
        r, g = ref[key], gen[key]
        err = np.hypot(r["error"], g["error"])
        out[key] = {"edges": r["edges"], "reference": r["value"], "generated": g["value"],
                    "pull": list((np.array(g["value"]) - np.array(r["value"])) / err)}
    for key in ("mu_resolution", "mu_resolution_vs_eta", "mu_scale", "jet_response", "met_resolution"):
        r, g = np.array(ref[key]["value"]), np.array(gen[key]["value"])
        out[key] = {"edges": ref[key]["edges"], "reference": list(r), "generated": list(g),
                    "ratio": list(g / r)}
        if "error" in ref[key]:
            out[key]["reference_error"] = ref[key]["error"]
    return out


def _paired_pulls(reference: Any, generated: Any) -> dict[str, Any]:
    """Efficiency differences per bin with the error of PAIRED outcomes: generated row i comes
    from reference event i's generator level, and most events get the same decision in both
    (acceptance), so the independent-sample error overstates the noise of the difference. With
    b and c the discordant counts of n events, Var(p_gen − p_ref) = (b + c)/n² − (b − c)²/n³."""
    from flashgen.sources.zmumu.flash import GEN_MLL_EDGES, GEN_PTLL_EDGES, gen_mll, gen_ptll

    r = np.asarray(reference["selected"]) > 0.5
    g = np.asarray(generated["selected"]) > 0.5
    out: dict[str, Any] = {"agreement": float(np.mean(r == g))}
    for name, f, edges in (("gen_ptll", gen_ptll, GEN_PTLL_EDGES), ("gen_mll", gen_mll, GEN_MLL_EDGES)):
        where = np.searchsorted(np.asarray(edges), f(reference), side="right")
        pulls, errors = [], []
        for k in range(len(edges) + 1):
            m = where == k
            n, b, c = m.sum(), np.sum(g[m] & ~r[m]), np.sum(r[m] & ~g[m])
            var = (b + c) / n**2 - (b - c) ** 2 / n**3 if n else float("nan")
            errors.append(float(np.sqrt(var)))
            pulls.append(float((b - c) / n / np.sqrt(var)) if var > 0 else 0.0)
        out[name] = {"edges": list(edges), "error": errors, "pull": pulls}
    return out


GROUPS = 20
"""Independent groups of generator-level events whose spread measures the real error."""


def _group_spread(values: np.ndarray, event: np.ndarray, edges: np.ndarray, k: int,
                  n_events: int) -> tuple[float, float]:
    """Measured vs estimated variance of the per-event histogram H_b = counts_b / K, summed over
    bins: the spread of H over :data:`GROUPS` disjoint groups of generator-level events (the
    truth of the error, noisy), and the mean folded estimate of one group."""
    from flashgen.stats.oversampling import folded_histogram

    group = event * GROUPS // n_events
    hists, folded = [], []
    for g in range(GROUPS):
        m = group == g
        h = folded_histogram(values[m], event[m], edges)
        hists.append(h.counts / k)
        folded.append(h.variance / k**2)
    return float(np.var(hists, axis=0, ddof=1).sum()), float(np.mean(folded, axis=0).sum())


def _oversampling(model: Path, conditions: Path, work: Path, seed: int) -> dict[str, Any]:
    from flashgen.data import read_table
    from flashgen.sources.registry import quantity
    from flashgen.stats.oversampling import oversampling_gain

    rows: dict[str, Any] = {}
    n_events = len(read_table(conditions, columns=["n_pileup"]))
    spread: dict[str, dict[int, tuple[float, float]]] = {name: {} for name in EDGES}
    for k in KS:
        out = work / f"over{k}.parquet"
        seconds = _flashgen("generate", "--model", model, "--conditions", conditions, "--oversample", k,
                            "--seed", seed, "--out", out, "--force")
        table = read_table(out)
        rows[k] = {"seconds": seconds, "rows": len(table)}
        event = np.asarray(table["event"])
        for name, edges in EDGES.items():
            values = np.asarray(quantity(name, table), dtype=np.float64)
            rows[k][name] = oversampling_gain(values, event, edges).to_json()
            spread[name][k] = _group_spread(values, event, edges, k, n_events)
        out.unlink()
    for name in EDGES:  # error relative to one copy: measured from the groups, and estimated
        measured1, folded1 = spread[name][1]
        for k in KS:
            measured, folded = spread[name][k]
            rows[k][name]["group_measured_error_ratio"] = float(np.sqrt(measured / measured1))
            rows[k][name]["group_folded_error_ratio"] = float(np.sqrt(folded / folded1))
    return rows


def _speed(model: Path, work: Path, events: int, workers: int) -> dict[str, Any]:
    from flashgen.data import read_table

    full = work / "speed-full"
    gen = work / "speed-gen"
    for folder in (full, gen):
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    t_full = _flashgen("simulate", "zmumu", "--events", events, "--seed", 77, "--workers", workers, "--out", full)
    selected = len(read_table(full, columns=["nvtx"]))
    t_gen = _flashgen("simulate", "zmumu", "--level", "gen", "--events", events, "--seed", 77,
                      "--workers", workers, "--out", gen)
    out: dict[str, Any] = {"events": events, "workers": workers, "full_seconds": t_full,
                           "full_selected": selected, "gen_seconds": t_gen,
                           "full_per_selected_ms": 1e3 * t_full / selected, "flash": {}}
    for k in (1, 25):
        f = work / f"speed{k}.parquet"
        t_flash = _flashgen("generate", "--model", model, "--conditions", gen, "--oversample", k, "--out", f)
        kept = int(np.sum(read_table(f, columns=["selected"])["selected"]))
        f.unlink()
        per = (t_gen + t_flash) / kept
        out["flash"][k] = {"flash_seconds": t_flash, "selected_rows": kept,
                           "per_selected_ms": 1e3 * per, "speedup": (t_full / selected) / per}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-events", type=int, default=24000)
    p.add_argument("--test-events", type=int, default=8000)
    p.add_argument("--speed-events", type=int, default=6000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path, default=Path("/tmp/flashgen-bench-flash"))
    p.add_argument("--model", type=Path, help="a trained zmumu-flash model (default: train one)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args(argv)

    from flashgen.speed import machine_info
    from flashgen.data import read_table, write_table
    from flashgen.sources.zmumu.schema import GEN_ONLY_COLUMNS
    from flashgen.sources.zmumu.flash import flash_summary

    args.cache.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train = _reference(args.cache / "train", args.train_events, 5, args.workers)
    test = _reference(args.cache / "test", args.test_events, 6, args.workers)
    model = args.model
    train_seconds = None
    if model is None:
        model = args.cache / "flash.pt"
        if not model.exists():
            train_seconds = _flashgen("train", "--data", train, "--model", "flow", "--preset", "zmumu-flash",
                                      "--seed", 1, "--out", model)
    reference = read_table(test)
    conditions = args.cache / "test-gen.parquet"
    write_table(reference.select([c.name for c in GEN_ONLY_COLUMNS]), conditions)
    generated_file = args.cache / "generated.parquet"
    gen_seconds = _flashgen("generate", "--model", model, "--conditions", conditions, "--seed", 3,
                            "--out", generated_file, "--force")
    generated = read_table(generated_file)
    ref_summary, gen_summary = flash_summary(reference), flash_summary(generated)
    comparison = _compare(ref_summary, gen_summary)
    comparison["paired"] = _paired_pulls(reference, generated)
    oversampling = _oversampling(model, conditions, args.cache, 4)
    speed = _speed(model, args.cache, args.speed_events, args.workers)
    from flashgen.models import load_model

    info = load_model(model).info
    trained = {"file": str(model), "preset": info.get("preset"), "train_events": info.get("train_events"),
               "val_events": info.get("val_events"), "steps": info["result"]["steps"],
               "best_step": info["result"]["best_step"], "seconds": info.get("seconds")}
    result = {"command": command_line("bench_flash.py", argv), "machine": machine_info(), "model": trained,
              "date": time.strftime("%Y-%m-%d"), "train_reference_events": len(read_table(train, columns=["selected"])),
              "test_events": len(reference), "train_seconds": train_seconds, "generate_seconds": gen_seconds,
              "reference": ref_summary, "generated": gen_summary, "comparison": comparison,
              "oversampling": oversampling, "speed": speed, "seconds": time.perf_counter() - start}
    write_results(result, markdown(result), args.out, "flash")


def _row(values: list[float], fmt: str = "{:.3f}") -> str:
    return " | ".join(fmt.format(v) if np.isfinite(v) else "–" for v in values)


def _bins(edges: list[float], unit: str) -> list[str]:
    e = [f"{x:g}" for x in edges]
    return [f"< {e[0]} {unit}"] + [f"{a}–{b}" for a, b in zip(e[:-1], e[1:])] + [f"≥ {e[-1]} {unit}"]


def markdown(r: dict[str, Any]) -> str:
    c = r["comparison"]
    lines = [
        "# Flash simulation of Z→μμ: generator level → reconstructed",
        "",
        f"Command: `{r['command']}`  ",
        f"{describe_machine(r['machine'])}  ",
        f"Date: {r['date']}; {r['seconds'] / 60:.1f} min in all.",
        "",
        f"Trained (`flashgen train --preset zmumu-flash`) on a `--keep-unselected` reference of "
        f"{r['train_reference_events']:,} generated events (pileup 20); judged at the "
        f"{r['test_events']:,} generator-level events of an independent reference (seed 6), "
        "one generated copy each. Widths are half the 16–84 % interquantile range.",
        "",
        f"Model: `flashgen train --data TRAIN --preset zmumu-flash --model flow --seed 1` "
        f"({r['model']['train_events']:,} selected training events, {r['model']['val_events']:,} held out "
        f"for the snapshot selection, {r['model']['steps']:,} steps, kept step {r['model']['best_step']:,}, "
        f"{(r['model']['seconds'] or 0) / 60:.1f} min).",
        "",
        "## Selection efficiency",
        "",
        f"Overall: reference {c['efficiency']['reference']:.4f}, generated {c['efficiency']['generated']:.4f}, "
        f"difference {c['efficiency']['difference']:+.4f} ± {c['efficiency']['error']:.4f}. "
        f"The generated and reference decisions at the same generator-level events agree for "
        f"{c['paired']['agreement']:.1%} of the events (the acceptance decides most): the paired pull "
        "below uses the error of that paired difference, the other treats the samples as independent.",
        "",
    ]
    for key, label in (("efficiency_vs_gen_ptll", "generator-level pT(μμ) [GeV]"),
                       ("efficiency_vs_gen_mll", "generator-level m(μμ) [GeV]")):
        e = c[key]
        lines += [f"Per bin of {label}:", "", "| | " + " | ".join(_bins(e["edges"], "")) + " |",
                  "|---|" + "---|" * (len(e["edges"]) + 1),
                  "| reference | " + _row(e["reference"]) + " |", "| generated | " + _row(e["generated"]) + " |",
                  "| pull (independent samples) | " + _row(e["pull"], "{:+.2f}") + " |",
                  "| pull (paired: same events) | " + _row(c["paired"][key.replace("efficiency_vs_", "")]["pull"], "{:+.2f}")
                  + " |", ""]
    lines += ["## Per-event response", ""]
    for key, label in (("mu_resolution", "muon pT resolution, per bin of true muon pT [GeV]"),
                       ("mu_resolution_vs_eta", "muon pT resolution, per bin of true muon |η|"),
                       ("mu_scale", "muon pT scale (median pT/pT_true − 1)"),
                       ("jet_response", "leading-jet response (median pT of the leading reconstructed jet / "
                        "pT of the leading generator-level jet, leading to leading: reconstructed jet "
                        "directions are not stored), per bin of generator-level jet pT [GeV]"),
                       ("met_resolution", "MET x resolution [GeV], per bin of nvtx")):
        e = c[key]
        rows = ["| reference | " + _row(e["reference"], "{:.4f}") + " |",
                "| generated | " + _row(e["generated"], "{:.4f}") + " |"]
        if key != "mu_scale":
            rows.append("| ratio | " + _row(e["ratio"]) + " |")
        lines += [f"{label}:", "", "| | " + " | ".join(_bins(e["edges"], "")) + " |",
                  "|---|" + "---|" * (len(e["edges"]) + 1), *rows, ""]
    lines += ["## Oversampling", "",
              "The same held-out generator-level events passed K times through the flash simulation; "
              "statistical error of the histogram (folding the copies of each event) relative to one "
              "copy, the naive 1/√K, and the fully simulated events the sample is worth "
              "(`flashgen.stats.oversampling`).", "",
              "| K | rows | " + " | ".join(f"{n} error ratio | {n} N_eq" for n in EDGES) + " | 1/√K |",
              "|---|---|" + "---|---|" * len(EDGES) + "---|"]
    for k, row in r["oversampling"].items():
        cells = " | ".join(f"{row[n]['error_ratio']:.3f} | {row[n]['equivalent_events']:,.0f}" for n in EDGES)
        lines.append(f"| {k} | {row['rows']:,} | {cells} | {1 / np.sqrt(int(k)):.3f} |")
    lines += ["", f"Check of the folded estimate against the real error: the events split into {GROUPS} "
              "disjoint groups; the spread of the groups' histograms (measured, itself uncertain by "
              "~10-20 %) against the groups' folded estimate, as the error relative to one copy:", "",
              "| K | " + " | ".join(f"{n} measured | {n} folded" for n in EDGES) + " |",
              "|---|" + "---|---|" * len(EDGES)]
    for k, row in r["oversampling"].items():
        cells = " | ".join(f"{row[n]['group_measured_error_ratio']:.2f} | {row[n]['group_folded_error_ratio']:.2f}"
                           for n in EDGES)
        lines.append(f"| {k} | {cells} |")
    s = r["speed"]
    lines += ["", "## Speed (one run, this machine)", "",
              f"Full chain (PYTHIA + pileup 20 + detector, {s['workers']} workers): {s['events']:,} events in "
              f"{s['full_seconds']:.1f} s, {s['full_selected']:,} selected: {s['full_per_selected_ms']:.1f} ms "
              "per selected event.  ",
              f"Generator level only (`--level gen`, same events and workers): {s['gen_seconds']:.1f} s "
              f"({s['events'] / s['gen_seconds']:,.0f} events/s against {s['events'] / s['full_seconds']:,.0f} "
              "for the full chain). Both include starting the workers and PYTHIA; the full chain also "
              "builds its pileup library.", "",
              "| K | flash generation [s] | selected rows | ms per selected event | speed-up vs full chain |",
              "|---|---|---|---|---|"]
    for k, f in s["flash"].items():
        lines.append(f"| {k} | {f['flash_seconds']:.1f} | {f['selected_rows']:,} | {f['per_selected_ms']:.2f} | "
                     f"{f['speedup']:.1f}× |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
