"""Speed of every stage on this machine, in one run, as ratios to the reference simulation.

Measures, each in a fresh process (so that its peak memory is its own):
- the Z→μμ reference simulation with pileup 20 on 1 and 2 workers (PYTHIA8 + pileup library +
  detector + jets + selection), from an empty folder: generated and selected events/s;
- training samples/s of each model (flow, gan, wgan-gp; zmumu preset architecture);
- generation events/s of each model: network alone, physical columns, end to end to Parquet;
- peak resident memory of each measurement, model file sizes;
- Parquet bytes per generated event (float32 columns, the default);
- sharded generation into a Parquet dataset on 1 and 2 local Dask workers (``flashgen generate
  --workers``), Dask start-up included;
- the float32 matrix-product rate of torch with 2 threads (the arithmetic roofline) and the
  FLOPs per generated event of each network (multiply-adds of the linear layers evaluated while
  sampling, counted with hooks), hence generation as a fraction of the machine's limit.

Usage::

    python benchmarks/bench_speed.py [--sim-events 1000] [--workers 1,2] [--train-steps 300]
        [--gen-events 400000] [--models flow,gan,wgan-gp] [--dask-workers 1,2]
        [--dask-events 2000000] [--out benchmarks/results] [--note TEXT]

writes ``speed.json`` and ``speed.md``. Wall-clock timings on a machine that may be shared: the
load averages are recorded. Training speed does not depend on how long a model trains, and
generation speed not on how well, so short trainings are enough here.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 2024
KINDS = ("flow", "gan", "wgan-gp")


def _in_child(func: Any, *args: Any) -> Any:
    """``func(*args)`` in a fresh spawned process (its own peak memory)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def simulate(n_events: int, workers: int, folder: str) -> dict[str, Any]:
    """Reference simulation from an empty folder; rates and this process's peak memory."""
    import os

    from flashgen.speed import peak_rss_mb
    from flashgen.executor import Workers
    from flashgen.sources.zmumu import ZmumuOptions, simulate_zmumu

    load = os.getloadavg()[0]
    r = simulate_zmumu(n_events, SEED, folder, options=ZmumuOptions(pileup=20.0), workers=Workers(workers), quiet=True)
    shards = r["seconds"] - r["library_seconds"]
    return {"workers": workers, "events_generated": r["events_generated"],
            "events_selected": r["events_selected"], "seconds": r["seconds"],
            "library_seconds": r["library_seconds"],
            "generated_per_second": r["events_generated"] / r["seconds"],
            "selected_per_second": r["events_selected"] / r["seconds"],
            "selected_per_second_without_library": r["events_selected"] / shards,
            "peak_rss_mb": peak_rss_mb(), "load_before": load, "load_after": os.getloadavg()[0]}


def train_one(kind: str, data: str, steps: int, out: str) -> dict[str, Any]:
    """Train ``kind`` for ``steps`` steps (one snapshot, at the end); save the model file."""
    from flashgen.speed import peak_rss_mb
    from flashgen.data import read_table
    from flashgen.training import TrainSettings, train

    model = train(read_table(data), kind, preset="zmumu", settings=TrainSettings(
        steps=steps, snapshot_every=steps, seed=SEED, device="cpu"))
    model.save(out)
    r = model.info["result"]
    return {"steps": steps, "batch_size": model.info["config"]["batch_size"],
            "seconds": r["seconds"], "samples_per_second": r["samples_per_second"],
            "parameters": model.n_parameters(), "file_mb": Path(out).stat().st_size / 1e6,
            "hparams": model.network.hparams, "peak_rss_mb": peak_rss_mb()}


def generate_one(path: str, events: int, chunk_size: int, repeats: int, roofline: float) -> dict[str, Any]:
    """Generation rates of one model file (``flashgen.speed.speed_benchmark``)."""
    from flashgen.speed import speed_benchmark

    return speed_benchmark(path, events=events, chunk_size=chunk_size, repeats=repeats,
                           device="cpu", seed=SEED, roofline=roofline)


def sharded_one(path: str, events: int, chunk_size: int, workers: int, folder: str) -> dict[str, Any]:
    """``flashgen generate --workers`` into a fresh dataset folder: events/s, start-up included."""
    from flashgen.generation import Sampling
    from flashgen.sharded import Placement, generate_sharded

    start = time.perf_counter()
    result = generate_sharded(path, folder, events, sampling=Sampling(SEED, chunk_size),
                              placement=Placement(workers, shard_chunks=5), quiet=True)
    seconds = time.perf_counter() - start
    return {"workers": workers, "events": result.events, "seconds": seconds,
            "events_per_second": result.events / seconds}


def roofline_2_threads() -> dict[str, Any]:
    from flashgen.speed import matmul_roofline

    return {"threads": 2, "size": 2048, "flops": matmul_roofline("cpu", threads=2, size=2048)}


def markdown(result: dict[str, Any]) -> str:
    """speed.md: the machine and three tables."""
    from common import describe_machine

    ref = {r["workers"]: r for r in result["reference"]}
    base = ref[max(ref)]
    lines = [
        "# Speed: reference simulation, training and generation (CPU)",
        "",
        f"`{result['command']}` — {result['wall_seconds'] / 60:.1f} min.",
        "",
        describe_machine(result["machine"]),
        "",
        result["note"],
        "",
        "## Reference simulation (Z→μμ, pileup 20, from an empty folder)",
        "",
        "Cost of one analysis-level event = simulation wall time / selected events (PYTHIA8 + "
        f"pileup library of {result['library_events']:,} minimum-bias events + detector + jets + "
        "selection; PYTHIA and Dask start-up included).",
        "",
        "| workers | generated | selected | wall [s] | library [s] | generated ev/s | selected ev/s "
        "| selected ev/s without library | peak RSS main process [MB] | load 1 min before -> after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["reference"]:
        lines.append(f"| {r['workers']} | {r['events_generated']:,} | {r['events_selected']:,} "
                     f"| {r['seconds']:.1f} | {r['library_seconds']:.1f} | {r['generated_per_second']:.1f} "
                     f"| {r['selected_per_second']:.2f} | {r['selected_per_second_without_library']:.2f} "
                     f"| {r['peak_rss_mb']:.0f} | {r['load_before']:.1f} -> {r['load_after']:.1f} |")
    lines += [
        "",
        "## Training (zmumu preset architectures)",
        "",
        "| model | parameters | file [MB] | steps x batch | samples/s | peak RSS [MB] |",
        "|---|---|---|---|---|---|",
    ]
    for kind, m in result["models"].items():
        t = m["train"]
        lines.append(f"| {kind} | {t['parameters']:,} | {t['file_mb']:.2f} | {t['steps']} x "
                     f"{t['batch_size']} | {t['samples_per_second']:,.0f} | {t['peak_rss_mb']:.0f} |")
    roof = result["roofline"]["flops"]
    lines += [
        "",
        f"## Generation ({result['gen_events']:,} events per timed run, chunks of "
        f"{result['chunk_size']:,}, best of {result['repeats']})",
        "",
        f"Speed-up = generation events/s to Parquet / reference selected events/s "
        f"({base['workers']} workers, {base['selected_per_second']:.2f} selected ev/s, "
        f"{base['generated_per_second']:.1f} generated ev/s). Roofline: float32 2048² matrix "
        f"product with torch, 2 threads = {roof / 1e9:.1f} GFLOP/s; FLOPs per event = 2 x "
        "multiply-adds of the linear layers evaluated while sampling.",
        "",
        "| model | network ev/s | columns ev/s | Parquet ev/s | speed-up per selected event "
        "| per generated event | MFLOP/event | network GFLOP/s | fraction of roofline "
        "| Parquet bytes/event | peak RSS [MB] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, m in result["models"].items():
        g = m["generation"]
        r = g["rates"]
        lines.append(
            f"| {kind} | {r['network']['best']:,.0f} | {r['columns']['best']:,.0f} "
            f"| {r['parquet']['best']:,.0f} | {m['speedup_per_selected_event']:,.0f}x "
            f"| {m['speedup_per_generated_event']:,.0f}x | {g['flops_per_event'] / 1e6:.3f} "
            f"| {g['flops_per_event'] * r['network']['best'] / 1e9:.2f} "
            f"| {g['roofline_fraction']:.1%} | {g['parquet_bytes_per_event']:.1f} | {g['peak_rss_mb']:.0f} |")
    if result.get("sharded"):
        lines += [
            "",
            f"## Sharded generation on local Dask workers ({result['sharded_model']}, "
            f"`flashgen generate --workers K`, {result['sharded'][0]['events']:,} events, "
            "shards of 5 chunks, Dask start-up included)",
            "",
            "| workers | seconds | events/s |",
            "|---|---|---|",
        ]
        for r in result["sharded"]:
            lines.append(f"| {r['workers']} | {r['seconds']:.1f} | {r['events_per_second']:,.0f} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-events", type=int, default=1000,
                        help="generated reference events per simulation run (default 1000)")
    parser.add_argument("--workers", default="1,2", help="simulation worker counts (default 1,2)")
    parser.add_argument("--train-steps", type=int, default=300,
                        help="training steps per model for the samples/s (default 300)")
    parser.add_argument("--data", help="Z→μμ reference to train on (default: the 1-worker "
                        "simulation of this run)")
    parser.add_argument("--gen-events", type=int, default=400_000,
                        help="generated events per timed run (default 400,000)")
    parser.add_argument("--chunk-size", type=int, default=20_000,
                        help="events per chunk, as flashgen run uses (default 20,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per rate (default 3)")
    parser.add_argument("--models", default=",".join(KINDS), help="default flow,gan,wgan-gp")
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default benchmarks/results)")
    parser.add_argument("--dask-workers", default="1,2",
                        help="local Dask worker counts for sharded flow generation ('' to skip; default 1,2)")
    parser.add_argument("--dask-events", type=int, default=2_000_000,
                        help="events per sharded generation run (default 2,000,000)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    from common import command_line, write_results
    from flashgen.speed import machine_info
    from flashgen.sources.zmumu.production import DEFAULT_LIBRARY_EVENTS

    start = time.perf_counter()
    workers = [int(w) for w in args.workers.split(",")]
    kinds = [k.strip() for k in args.models.split(",")]
    result: dict[str, Any] = {
        "benchmark": "speed",
        "command": command_line("bench_speed.py", argv),
        "machine": machine_info(), "seed": SEED, "library_events": DEFAULT_LIBRARY_EVENTS,
        "gen_events": args.gen_events, "chunk_size": args.chunk_size, "repeats": args.repeats,
        "note": args.note or "Wall-clock timings; the load averages show other work on the machine.",
    }
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        result["roofline"] = _in_child(roofline_2_threads)
        print(f"roofline: {result['roofline']['flops'] / 1e9:.1f} GFLOP/s (float32, 2 threads)", flush=True)
        result["reference"] = []
        for k in workers:
            folder = str(Path(tmp) / f"dy-{k}")
            r = _in_child(simulate, args.sim_events, k, folder)
            result["reference"].append(r)
            print(f"reference, {k} worker(s): {r['generated_per_second']:.1f} generated ev/s, "
                  f"{r['selected_per_second']:.2f} selected ev/s ({r['seconds']:.1f} s)", flush=True)
        data = args.data or str(Path(tmp) / f"dy-{workers[0]}")
        base = max(result["reference"], key=lambda r: r["workers"])
        result["models"] = {}
        for kind in kinds:
            path = str(Path(tmp) / f"{kind}.pt")
            t = _in_child(train_one, kind, data, args.train_steps, path)
            print(f"{kind}: training {t['samples_per_second']:,.0f} samples/s", flush=True)
            g = _in_child(generate_one, path, args.gen_events, args.chunk_size, args.repeats,
                          result["roofline"]["flops"])
            rate = g["rates"]["parquet"]["best"]
            result["models"][kind] = {
                "train": t, "generation": g,
                "speedup_per_selected_event": rate / base["selected_per_second"],
                "speedup_per_generated_event": rate / base["generated_per_second"],
            }
            print(f"{kind}: generation {rate:,.0f} events/s to Parquet "
                  f"({rate / base['selected_per_second']:,.0f}x per selected reference event), "
                  f"{g['roofline_fraction']:.1%} of the roofline", flush=True)
        if args.dask_workers and "flow" in kinds:
            result["sharded_model"] = "flow"
            result["sharded"] = []
            for k in (int(w) for w in args.dask_workers.split(",")):
                r = _in_child(sharded_one, str(Path(tmp) / "flow.pt"), args.dask_events, args.chunk_size,
                              k, str(Path(tmp) / f"sharded-{k}"))
                result["sharded"].append(r)
                print(f"flow on {k} Dask worker(s): {r['events_per_second']:,.0f} events/s", flush=True)
    result["wall_seconds"] = time.perf_counter() - start
    result["machine"]["load_average_end"] = machine_info()["load_average"]
    json_path, md_path = write_results(result, markdown(result), args.out, "speed")
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
