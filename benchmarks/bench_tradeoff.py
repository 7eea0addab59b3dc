"""Speed vs fidelity: a few model sizes of the flow (and the GAN) on the Z→μμ dataset.

For each configuration (flow: number of transforms and hidden width; GAN: generator widths), the
model is trained with the zmumu preset and the same number of steps on the same training part of
the reference, then measured twice: generation speed (network alone and end to end to Parquet,
:func:`flashgen.speed.speed_benchmark`, FLOPs per event counted from the linear layers) and
fidelity against the held-out part (classifier AUC, worst-KS feature, m(μμ) peak and width,
``fidelity`` of ``benchmarks/common.py``). The result is the published trade-off table.

Usage::

    python benchmarks/bench_tradeoff.py --data /work/data/dy24k [--steps 2000]
        [--configs flow:4x32,flow:8x64,flow:8x128,gan:64-64,gan:128-256-256-128]
        [--gen-events 100000] [--out benchmarks/results]

Config syntax: ``flow:TxW`` = T transforms with two hidden layers of width W; ``gan:A-B-...`` =
generator hidden layers (the discriminator keeps the preset's). Writes ``tradeoff.json`` and
``tradeoff.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_fidelity import SEED, split

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_CONFIGS = "flow:4x32,flow:8x64,flow:8x128,gan:64-64,gan:128-256-256-128"


def parse_config(text: str) -> tuple[str, dict[str, Any]]:
    """``flow:6x128`` -> ``("flow", {"transforms": 6, "hidden": (128, 128)})``; ``gan:64-64`` ->
    ``("gan", {"generator_hidden": (64, 64)})``."""
    kind, _, spec = text.partition(":")
    try:
        if kind == "flow":
            t, w = spec.lower().split("x")
            return kind, {"transforms": int(t), "hidden": (int(w), int(w))}
        if kind in ("gan", "wgan-gp"):
            return kind, {"generator_hidden": tuple(int(x) for x in spec.split("-"))}
    except ValueError:
        pass
    raise SystemExit(f"bench_tradeoff: cannot read config '{text}' (flow:TxW or gan:A-B-...)")


def run_config(text: str, train_part: Any, held: Any, steps: int, gen_events: int, seed: int,
               folder: Path) -> dict[str, Any]:
    from common import fidelity
    from flashgen.speed import speed_benchmark
    from flashgen.generation import sample
    from flashgen.training import TrainSettings, train

    kind, hparams = parse_config(text)
    start = time.perf_counter()
    model = train(train_part, kind, preset="zmumu", settings=TrainSettings(steps=steps, seed=seed, device="cpu"),
                  config=hparams)
    train_seconds = time.perf_counter() - start
    path = model.save(folder / "model.pt")
    speed = speed_benchmark(path, events=gen_events, chunk_size=min(gen_events, 200_000),
                            repeats=2, seed=seed)
    generated = sample(model, gen_events, seed=seed + 1, chunk_size=200_000)
    r = model.info["result"]
    return {"config": text, "model": kind, "hparams": model.network.hparams,
            "parameters": model.n_parameters(), "file_mb": speed["model"]["file_mb"],
            "steps": steps, "best_step": r["best_step"], "train_seconds": train_seconds,
            "flops_per_event": speed["flops_per_event"], "rates": speed["rates"],
            "roofline_fraction": speed["roofline_fraction"],
            **fidelity(held, generated, seed=seed, repeats=5)}


def markdown(result: dict[str, Any]) -> str:
    from common import describe_machine

    ref = result["reference_mll"]
    lines = [
        "# Trade-off: generation speed vs fidelity for a few model sizes (Z→μμ)",
        "",
        f"`{result['command']}` — {result['wall_seconds'] / 60:.1f} min.",
        "",
        describe_machine(result["machine"]),
        "",
        f"Every configuration trained {result['steps']:,} steps (zmumu preset otherwise: "
        f"preprocessing, batch, KS-sum snapshot selection) on the same {result['train_part']:,} "
        f"events of {result['data']}; fidelity against {result['heldout']:,} held-out events with "
        f"{result['gen_events']:,} generated; speed on this CPU, best of 2 (network alone; end to "
        "end to Parquet). Flow TxW: T coupling spline transforms, MLPs of two hidden layers of "
        "width W; GAN: generator hidden widths. Held-out reference m(μμ): peak "
        f"{ref['peak']:.2f} ± {ref['peak_err']:.2f} GeV, width {ref['width']:.2f} ± "
        f"{ref['width_err']:.2f} GeV.",
        "",
        "| config | parameters | MFLOP/event | network ev/s | Parquet ev/s | AUC | m(μμ) peak "
        "[GeV] | m(μμ) width [GeV] | worst feature (KS) | train [s] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["configs"]:
        w = r["worst_feature"] or {}
        g = r["mll"]["generated"]
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f} ± {r['auc_err']:.3f}"
        lines.append(
            f"| {r['config']} | {r['parameters']:,} | {r['flops_per_event'] / 1e6:.3f} "
            f"| {r['rates']['network']['best']:,.0f} | {r['rates']['parquet']['best']:,.0f} "
            f"| {auc} | {g['peak']:.2f} | {g['width']:.2f} "
            f"| {w.get('name', 'n/a')} ({w.get('ks_stat', float('nan')):.3f}) | {r['train_seconds']:.0f} |")
    lines += ["", result["note"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Z→μμ reference folder")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"default {DEFAULT_CONFIGS}")
    parser.add_argument("--steps", type=int, default=2000,
                        help="training steps of every config, the same budget for all (default 2000)")
    parser.add_argument("--holdout", type=float, default=0.25, help="held-out fraction (default 0.25)")
    parser.add_argument("--gen-events", type=int, default=100_000,
                        help="generated events for fidelity and speed (default 100,000)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"default {SEED}")
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default benchmarks/results)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    from common import command_line, mll_peak_width, write_results
    from flashgen.speed import machine_info
    from flashgen.data import read_table

    configs = args.configs.split(",")
    for text in configs:
        parse_config(text)  # fail before any work
    start = time.perf_counter()
    table = read_table(args.data)
    train_part, held = split(table, args.holdout, args.seed)
    result: dict[str, Any] = {
        "benchmark": "tradeoff",
        "command": command_line("bench_tradeoff.py", argv),
        "machine": machine_info(), "data": args.data, "steps": args.steps,
        "train_part": len(train_part), "heldout": len(held), "gen_events": args.gen_events,
        "seed": args.seed, "reference_mll": mll_peak_width(held, bootstrap=50, seed=args.seed),
        "note": args.note or "Wall-clock timings on a machine that may be shared.",
        "configs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-tradeoff-") as tmp:
        for text in configs:
            print(f"{text}: training {args.steps} steps ...", flush=True)
            r = run_config(text, train_part, held, args.steps, args.gen_events, args.seed, Path(tmp))
            result["configs"].append(r)
            print(f"{text}: {r['parameters']:,} parameters, {r['rates']['parquet']['best']:,.0f} "
                  f"events/s to Parquet, AUC {r['auc']}, m(μμ) width "
                  f"{r['mll']['generated']['width']:.2f} GeV", flush=True)
    result["wall_seconds"] = time.perf_counter() - start
    json_path, md_path = write_results(result, markdown(result), args.out, "tradeoff")
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
