"""``flashgen bench``: how fast a model generates events; a JSON result."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from ..arguments import add_common, positive_int, say, seed_int

__all__ = ["register"]


def register(sub: Any) -> None:
    from ..speed import QUICK_EVENTS, QUICK_STEPS
    from ..generation import DEFAULT_CHUNK
    from ..models import MODELS

    p = sub.add_parser(
        "bench", help="speed benchmark of generation; JSON result",
        description="Measure the generation speed of a model file (or of a quick built-in model: "
        f"the zmumu preset's architecture trained {QUICK_STEPS} steps on {QUICK_EVENTS:,} "
        "simulated Z→μμ events without pileup, as fast as a fully trained one). Three rates, "
        "each the best of --repeats timed runs after a warm-up: the network alone, network plus "
        "inverse preprocessing (physical columns in memory), and end to end to a Parquet file. "
        "Also the FLOPs per event of the network's linear layers, counted while sampling, and "
        "their rate as a fraction of the machine's float32 matrix-product rate (roofline).")
    p.add_argument("--model", "-m", help="model file (default: train the quick built-in model)")
    p.add_argument("--kind", choices=sorted(MODELS), default="flow",
                   help="family of the quick built-in model, without --model (default flow)")
    p.add_argument("--events", "-n", type=positive_int, default=1_000_000,
                   help="events per timed run (default 1,000,000)")
    p.add_argument("--chunk-size", type=positive_int, default=DEFAULT_CHUNK,
                   help="events per chunk: network batch and Parquet row group, as 'flashgen "
                   f"generate --chunk-size' (default {DEFAULT_CHUNK:,}, that of flashgen generate)")
    p.add_argument("--repeats", type=positive_int, default=3,
                   help="timed runs per rate after one warm-up; best and median kept (default 3)")
    p.add_argument("--conditions", "-c", metavar="TABLE",
                   help="conditions table for a conditional model (rows reused cyclically)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where the network runs (default cpu)")
    p.add_argument("--seed", type=seed_int, default=0, help="generation seed (default 0)")
    p.add_argument("--out", "-o", default="flashgen-bench.json",
                   help="JSON result file (default ./flashgen-bench.json)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing result file at --out; a file of another kind (a model, a table, ...) "
                   "is never replaced (default: refuse it)")
    add_common(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    import torch

    from ..speed import machine_info, quick_model, speed_benchmark
    from ..data import read_table
    from ..errors import FlashgenError
    from ..files import check_disk, check_output_path, write_json
    from ..models import load_model

    out = check_output_path(args.out, suffixes=(".json",), overwrite=args.force)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise FlashgenError("--device cuda requested but no CUDA device is available")
    conditions = read_table(args.conditions) if args.conditions else None
    with tempfile.TemporaryDirectory(prefix="flashgen-bench-") as tmp:
        # each timed run writes --events events to a Parquet file here: refuse what cannot fit
        check_disk(Path(tmp) / "bench.parquet", args.events, 1, 4)
        model_path = args.model
        if model_path is None:
            say(args, f"training the quick built-in {args.kind} model ({_quick_text()}) ...")
            model_path = quick_model(args.kind, tmp, seed=args.seed, quiet=args.quiet)
        check_disk(Path(tmp) / "bench.parquet", args.events, len(load_model(model_path).output_columns), 4)
        result = speed_benchmark(model_path, events=args.events, chunk_size=args.chunk_size,
                                 repeats=args.repeats, device=args.device, seed=args.seed,
                                 conditions=conditions)
    if args.model is None:
        result["model"]["path"] = f"quick built-in ({_quick_text()})"
    result["machine"] = machine_info(args.device)
    write_json(result, out)
    m, r = result["model"], result["rates"]
    say(args, f"{m['kind']} model, {m['parameters']:,} parameters, {m['file_mb']:.2f} MB, "
              f"{args.events:,} events per run on {args.device}:")
    say(args, f"  network alone     {r['network']['best']:>14,.0f} events/s")
    say(args, f"  physical columns  {r['columns']['best']:>14,.0f} events/s")
    say(args, f"  to Parquet        {r['parquet']['best']:>14,.0f} events/s")
    say(args, f"  {result['flops_per_event'] / 1e6:.2f} MFLOP per event; the network reaches "
              f"{result['roofline_fraction']:.1%} of the {result['roofline_flops'] / 1e9:.0f} "
              "GFLOP/s float32 matrix-product roofline")
    say(args, f"wrote {out}")


def _quick_text() -> str:
    from ..speed import QUICK_EVENTS, QUICK_STEPS

    return f"zmumu preset, {QUICK_STEPS} steps on {QUICK_EVENTS:,} Z→μμ events without pileup"
