"""Speed of the Z→μμ reference simulation (PYTHIA8 + pileup + parametric detector + jets).

Runs ``simulate_zmumu`` end to end for pileup 20 and 0 with 1 and 2 worker processes, each in a
fresh temporary folder (so the pileup library is built every time), and writes
``benchmarks/results/reference.json`` and ``reference.md`` with the machine description.

Usage::

    python benchmarks/bench_reference.py [--events-pileup 2000] [--events-no-pileup 4000]
                                         [--workers 1,2] [--out benchmarks/results]

Timings are wall-clock on a machine that may be shared: the load average before and after each
run is recorded so that contention is visible. Each run also records the jet multiplicities and
the mean pileup density rho of its dataset (jets are pileup-corrected, see
``flashgen.sources.zmumu.jets``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from common import command_line, write_results
from flashgen.data import read_table
from flashgen.executor import Workers
from flashgen.sources.zmumu import ZmumuOptions, simulate_zmumu
from flashgen.sources.zmumu.production import DEFAULT_LIBRARY_EVENTS, DEFAULT_SHARD_SIZE

SEED = 2024


def machine() -> dict[str, Any]:
    """CPU model, core count, memory and software versions of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for package in ("flashgen", "pythia8mc", "fastjet", "awkward", "numpy", "dask", "distributed"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpu_model": model, "cores": os.cpu_count(), "memory_gb": memory_gb,
            "platform": platform.platform(), "python": platform.python_version(),
            "versions": versions}


def run_one(n_events: int, pileup: float, workers: int) -> dict[str, Any]:
    """One end-to-end run in a fresh folder; returns its summary with load averages."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-zmumu-") as tmp:
        summary = simulate_zmumu(n_events, SEED, Path(tmp) / "dy", options=ZmumuOptions(pileup=pileup),
                                 workers=Workers(workers), quiet=True)
        load_after = os.getloadavg()
        table = read_table(Path(tmp) / "dy", columns=["jet1_pt", "njet", "rho"])
    shards_seconds = summary["seconds"] - summary["library_seconds"]
    return {
        "pileup": pileup, "workers": workers, "events_generated": summary["events_generated"],
        "events_selected": summary["events_selected"],
        "selection_efficiency": round(summary["selection_efficiency"], 4),
        "seconds": round(summary["seconds"], 2),
        "library_seconds": round(summary["library_seconds"], 2),
        "events_per_second": round(summary["events_per_second"], 2),
        "events_per_second_without_library": round(n_events / shards_seconds, 2),
        "jets_above_10_gev_per_event": round(float(np.mean(table["njet"])), 3),
        "fraction_with_jet_above_15_gev": round(float(np.mean(table["jet1_pt"] > 15)), 4),
        "mean_rho": round(float(np.mean(table["rho"])), 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown report."""
    m = result["machine"]
    lines = [
        "# Z→μμ reference simulation speed",
        "",
        f"Measured {result['date']} with `{result['command']}`.",
        "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GiB, {m['platform']}, "
        f"Python {m['python']}; pythia8mc {m['versions']['pythia8mc']}, fastjet "
        f"{m['versions']['fastjet']}, dask {m['versions']['dask']}.",
        "",
        f"Each run starts from an empty folder: PYTHIA initialisation, the pileup library "
        f"({result['library_events']} minimum-bias events, built in parallel chunks) and Dask "
        f"start-up are included in the end-to-end rate; the last column leaves out the library. "
        f"Shards of {result['shard_size']} generated events; seed {SEED}.",
        "",
        "| pileup mu | workers | generated | selected | efficiency | wall [s] | library [s] "
        "| events/s end to end | events/s without library | load avg before -> after (1 min) "
        "| jets > 10 GeV / event | fraction with jet > 15 GeV | mean rho [GeV] |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['pileup']:g} | {r['workers']} | {r['events_generated']} | {r['events_selected']} "
            f"| {r['selection_efficiency']:.1%} | {r['seconds']:.1f} | {r['library_seconds']:.1f} "
            f"| {r['events_per_second']:.1f} | {r['events_per_second_without_library']:.1f} "
            f"| {r['load_average_before'][0]:.2f} -> {r['load_average_after'][0]:.2f} "
            f"| {r['jets_above_10_gev_per_event']:.2f} | {r['fraction_with_jet_above_15_gev']:.3f} "
            f"| {r['mean_rho']:.2f} |")
    lines += ["", result["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-pileup", type=int, default=2000,
                        help="generated events per run with pileup 20 (default 2000)")
    parser.add_argument("--events-no-pileup", type=int, default=4000,
                        help="generated events per run without pileup (default 4000)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"),
                        help="folder for reference.json and reference.md (default benchmarks/results)")
    parser.add_argument("--note", default="", help="free text stored with the results (default none)")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    runs = []
    for pileup, n_events in ((20.0, args.events_pileup), (0.0, args.events_no_pileup)):
        for k in workers:
            print(f"pileup {pileup:g}, {k} worker(s), {n_events} events ...", flush=True)
            runs.append(run_one(n_events, pileup, k))
            print(f"  {runs[-1]['events_per_second']:.1f} events/s end to end, "
                  f"{runs[-1]['events_per_second_without_library']:.1f} without the library "
                  f"({runs[-1]['seconds']:.1f} s)", flush=True)
    result = {
        "benchmark": "reference", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command_line("bench_reference.py", argv),
        "machine": machine(), "seed": SEED, "shard_size": DEFAULT_SHARD_SIZE,
        "library_events": DEFAULT_LIBRARY_EVENTS, "runs": runs,
        "note": args.note or "Wall-clock timings; see the load averages for other work on the machine.",
    }
    json_path, md_path = write_results(result, markdown(result), args.out, "reference")
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
