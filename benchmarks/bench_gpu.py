"""Generation speed on a GPU: batch sizes swept, the network alone and end to end to Parquet.

One short script (a few minutes at most), because GPU time is scarce: it trains tiny models on
the device (``--data``, zmumu preset architectures, ``--steps`` steps; speed does not depend on
how well a model is trained) or takes model files (``--model KIND=FILE``), then for each model
and batch size measures

- the network alone (``network.sample`` on the device, synchronised), events/s;
- end to end to Parquet (``flashgen.generation.generate`` with the network on the device and
  chunks of the batch size: inverse preprocessing on the device, copy to the host, Parquet
  writing on the CPU), events/s;
- peak device memory, and the network's FLOP/s as a fraction of the device's float32
  matrix-product rate (FLOPs per event counted from the linear layers run while sampling).

Usage (on the GPU machine)::

    python benchmarks/bench_gpu.py --data reference.parquet [--kinds flow,gan,wgan-gp]
        [--batch-sizes 10000,100000,1000000] [--events 2000000] [--out benchmarks/results]

Without CUDA it says so and exits 0 without writing anything; ``--device cpu`` runs the same
measurements on the CPU (to check the script; small sizes advised).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 2024


def _models(args: argparse.Namespace, folder: Path, device: str) -> dict[str, dict[str, Any]]:
    """Model files to measure: given ones, or tiny trainings on the device."""
    from flashgen.data import read_table
    from flashgen.training import TrainSettings, train

    models: dict[str, dict[str, Any]] = {}
    for spec in args.model:
        kind, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"bench_gpu: --model wants KIND=FILE, got '{spec}'")
        models[kind] = {"path": path, "trained_here": False}
    if models:
        return models
    if not args.data:
        raise SystemExit("bench_gpu: give --data TABLE (a Z→μμ reference) or --model KIND=FILE")
    table = read_table(args.data)
    for kind in args.kinds.split(","):
        start = time.perf_counter()
        model = train(table, kind, preset="zmumu", settings=TrainSettings(
            steps=args.steps, snapshot_every=args.steps, seed=SEED, device=device))
        path = model.save(folder / f"{kind}.pt")
        r = model.info["result"]
        models[kind] = {"path": str(path), "trained_here": True, "train_steps": args.steps,
                        "train_samples_per_second": r["samples_per_second"],
                        "train_seconds": time.perf_counter() - start}
        print(f"{kind}: trained {args.steps} steps on {device} at "
              f"{r['samples_per_second']:,.0f} samples/s", flush=True)
    return models


def measure(path: str, device: str, batches: list[int], events: int, repeats: int,
            roofline: float, folder: Path) -> dict[str, Any]:
    """Rates of one model file for each batch size."""
    import torch

    from flashgen.speed import network_job, parquet_job, linear_macs_per_event, time_rate
    from flashgen.models.flashmodel import FlashModel

    model = FlashModel.load(path, device=device)
    flops = 2.0 * linear_macs_per_event(model)
    out: dict[str, Any] = {"kind": model.kind, "parameters": model.n_parameters(),
                           "file_mb": Path(path).stat().st_size / 1e6,
                           "flops_per_event": flops, "batches": []}
    for b in batches:
        n = max(b, -(-events // b) * b)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        net = time_rate(network_job(model, n, b, SEED), repeats=repeats, device=device)
        memory = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
        e2e = time_rate(parquet_job(model, n, b, SEED, None, folder), repeats=max(1, repeats - 1),
                        device=device)
        row = {"batch": b, "events": n, "network": net, "parquet": e2e,
               "network_fraction_of_roofline": flops * net["best"] / roofline,
               "peak_device_memory_gib": memory}
        out["batches"].append(row)
        print(f"{model.kind} batch {b:>9,}: network {net['best']:>14,.0f} ev/s "
              f"({row['network_fraction_of_roofline']:.1%} of roofline), to Parquet "
              f"{e2e['best']:>12,.0f} ev/s", flush=True)
    return out


def markdown(result: dict[str, Any]) -> str:
    from common import describe_machine

    lines = [
        f"# Generation speed on {result['device'].upper()}: batch sizes swept",
        "",
        f"`{result['command']}` — {result['wall_seconds']:.0f} s.",
        "",
        describe_machine(result["machine"]),
        "",
        f"Roofline: float32 {result['roofline_size']}² matrix product with torch on the device = "
        f"{result['roofline_flops'] / 1e12:.2f} TFLOP/s (torch's default float32 precision). Network = `network.sample` "
        "alone, synchronised; Parquet = `flashgen.generation.generate` end to end (inverse "
        "preprocessing on the device, copy to the host, Parquet on the CPU). Best of "
        f"{result['repeats']} timed runs after a warm-up (Parquet: best of "
        f"{max(1, result['repeats'] - 1)}). Models: {result['models_note']}.",
        "",
        "| model | parameters | MFLOP/event | batch | events | network ev/s | fraction of roofline "
        "| to Parquet ev/s | peak device memory [GiB] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, m in result["models"].items():
        for row in m["batches"]:
            mem = row["peak_device_memory_gib"]
            lines.append(
                f"| {kind} | {m['parameters']:,} | {m['flops_per_event'] / 1e6:.3f} | {row['batch']:,} "
                f"| {row['events']:,} | {row['network']['best']:,.0f} "
                f"| {row['network_fraction_of_roofline']:.1%} | {row['parquet']['best']:,.0f} "
                f"| {'n/a' if mem is None else f'{mem:.2f}'} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="default cuda")
    parser.add_argument("--model", action="append", default=[], metavar="KIND=FILE",
                        help="model file to measure (repeatable; default: tiny trainings on --data)")
    parser.add_argument("--data", help="Z→μμ reference table for the tiny trainings")
    parser.add_argument("--kinds", default="flow,gan,wgan-gp", help="models to train (default all)")
    parser.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    parser.add_argument("--batch-sizes", default="10000,100000,1000000",
                        help="comma-separated batch sizes (default 10000,100000,1000000)")
    parser.add_argument("--events", type=int, default=2_000_000,
                        help="events per timed run at least (default 2,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device available; nothing measured, nothing written. Run it on "
              "a GPU machine, or with --device cpu to check the script here.")
        return 0
    from common import command_line, write_results
    from flashgen.speed import machine_info, matmul_roofline

    start = time.perf_counter()
    batches = [int(float(b)) for b in args.batch_sizes.split(",")]
    size = 8192 if args.device == "cuda" else 1024
    roofline = matmul_roofline(args.device, threads=None, size=size, repeats=10)
    print(f"roofline: {roofline / 1e12:.2f} TFLOP/s float32 on {args.device}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        folder = Path(tmp)
        models = _models(args, folder, args.device)
        results = {}
        for kind, spec in models.items():
            results[kind] = {**spec, **measure(spec["path"], args.device, batches, args.events,
                                               args.repeats, roofline, folder)}
    trained = any(m.get("trained_here") for m in models.values())
    result = {
        "benchmark": "gpu", "device": args.device,
        "command": command_line("bench_gpu.py", argv),
        "machine": machine_info(args.device), "roofline_flops": roofline, "roofline_size": size,
        "repeats": args.repeats, "models": results, "wall_seconds": time.perf_counter() - start,
        "models_note": (f"zmumu preset architectures trained {args.steps} steps on the device "
                        "(speed does not depend on training length)") if trained else "given files",
    }
    json_path, md_path = write_results(result, markdown(result), args.out, "gpu")
    print(f"wrote {json_path} and {md_path} in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
