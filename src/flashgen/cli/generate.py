"""``flashgen generate``: sample a trained model into a table, fast and streamed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import add_common, positive_int, say, seed_int, warning

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "generate", help="generate events from a trained model into a table",
        description="Generate events from a model file written by 'flashgen train', in chunks "
        "streamed to a Parquet or ROOT table (written atomically). The same model, seed and "
        "chunk size give an identical file. Conditional models need --conditions: one event is "
        "generated per condition row and the condition columns are copied. Columns and units are "
        "those of the training table.")
    p.add_argument("--model", "-m", required=True,
                   help="model file written by 'flashgen train'; from an ensemble file (train "
                   "--ensemble M) the events are split evenly over the members and an integer "
                   "column 'member' says which made each (for 'flashgen worth')")
    p.add_argument("--events", "-n", type=positive_int,
                   help="number of events to generate (all members together for an ensemble); required "
                   "unless --conditions is given, refused with it and when the output would not "
                   "fit on the disk")
    p.add_argument("--out", "-o", required=True,
                   help="output table, .parquet or .root; with --workers or --scheduler, a dataset "
                   "folder of Parquet shards (part-00000.parquet, ...; resumable)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed gives an identical file (default 0)")
    p.add_argument("--conditions", "-c", metavar="TABLE",
                   help="table of condition columns for a conditional model (one event per row)")
    p.add_argument("--oversample", type=positive_int, metavar="K",
                   help="with --conditions: generate K rows per condition row (flash-simulation "
                   "oversampling), each with its own randomness and its own efficiency draw, and "
                   "add the columns 'event' (the condition row's index, 0-based) and 'copy' (0..K-1); "
                   "'flashgen validate' and 'flashgen worth' fold the copies of each event in their "
                   "uncertainties (default: one row per condition row, no extra columns)")
    p.add_argument("--chunk-size", type=positive_int,
                   help="events generated and written at once (default 20,000: fastest on a CPU; "
                   "use 100,000-1,000,000 on a GPU)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                   help="where to run the network (default cpu)")
    p.add_argument("--format", choices=("table", "nanoaod"), default="table",
                   help="table: the model's columns, .parquet or .root by the suffix of --out "
                   "(default); nanoaod: a ROOT file (.root) with a NanoAOD-like Events tree "
                   "(run, luminosityBlock, event, nMuon, Muon_pt, ..., float32) that a coffea "
                   "NanoAOD analysis reads, for models of a source with a NanoAOD mapping (zmumu) "
                   "and models trained with --collections (their collections back as jagged "
                   "branches, objects beyond nNAME dropped; from an ensemble also the branch "
                   "flashgen_member, which 'flashgen worth' reads as 'member')")
    p.add_argument("--precision", choices=("float32", "float64"), default="float32",
                   help="storage of floating-point columns: float32 (7 significant digits, half the "
                   "bytes; default) or float64; integer columns stay integers")
    p.add_argument("--allow-extrapolation", action="store_true",
                   help="generate even when more than 1 %% of the condition rows lie outside the "
                   "model's training domain (training ranges and where training rows were); they "
                   "are counted on stderr either way (default: refuse)")
    p.add_argument("--workers", "-j", type=positive_int,
                   help="generate into a dataset folder, shard by shard, on this many local Dask "
                   "worker processes (1 thread each; 1: in this process); the same seed and chunk "
                   "size give the same events whatever the number of workers, and the same events "
                   "as a single file; a rerun resumes an interrupted run (default: one file)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="generate into a dataset folder on the workers of a running Dask scheduler "
                   "(e.g. tcp://host:8786) instead of local ones; they must see the model, the "
                   "conditions and --out under the same paths")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output table; with --workers/--scheduler, a dataset "
                   "folder made with other settings (its shards are removed first). A file of "
                   "another kind (a model, JSON, ...) is never replaced (default: refuse an existing "
                   "table; a dataset folder of the same settings is resumed, or left as it is when "
                   "complete)")
    p.add_argument("--shard-chunks", type=positive_int,
                   help="with --workers/--scheduler: chunks per shard file (default 50, i.e. 10^6 "
                   "events at the default chunk size)")
    add_common(p)
    p.set_defaults(func=_run)


def _device(name: str) -> str:
    import torch

    from ..errors import FlashgenError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise FlashgenError("--device cuda requested but no CUDA device is available")
    return name


def _run(args: argparse.Namespace) -> None:
    from ..data import read_table
    from ..errors import FlashgenError
    from ..files import check_output_path

    sharded = args.workers is not None or args.scheduler is not None
    if args.shard_chunks is not None and not sharded:
        raise FlashgenError("--shard-chunks applies to a dataset folder: add --workers N (or --scheduler)")
    check_output_path(args.out, inputs=[args.model, args.conditions], directory=sharded,
                      overwrite=args.force)
    if args.events is None and args.conditions is None:
        raise FlashgenError("give --events N (or --conditions TABLE for a conditional model)")
    if args.oversample is not None and args.conditions is None:
        raise FlashgenError("--oversample K repeats condition rows: give --conditions TABLE")
    if args.oversample is not None and args.format == "nanoaod":
        raise FlashgenError("--format nanoaod has no place for the 'event' and 'copy' columns of "
                            "--oversample: write Parquet or ROOT")
    if args.events is not None and args.conditions is not None:
        raise FlashgenError("give --events or --conditions, not both: with --conditions one event "
                            "is generated per condition row (repeat rows in the table for more)")
    if sharded:
        if args.format == "nanoaod":
            raise FlashgenError("--workers/--scheduler write a Parquet dataset folder; drop --format nanoaod")
        _run_sharded(args)
        return
    if args.format == "nanoaod" and Path(args.out).suffix.lower() != ".root":
        raise FlashgenError(f"--format nanoaod writes a ROOT file: give --out NAME.root, not {args.out}")
    from ..generation import DEFAULT_CHUNK, Oversampled, Sampling, generate
    from ..models import EnsembleModel, load_model

    model = load_model(args.model, device=_device(args.device))
    collections = model.info.get("collections") if args.format == "nanoaod" else None
    if args.format == "nanoaod" and isinstance(model, EnsembleModel) and collections is None:
        raise FlashgenError(f"{args.model} is an ensemble; --format nanoaod writes an ensemble's events "
                            "(branch flashgen_member) only for a model trained with --collections: write "
                            "Parquet or ROOT (they keep the 'member' column)")
    conditions = read_table(args.conditions) if args.conditions else None
    if conditions is not None and not model.condition_names:
        raise FlashgenError(f"{args.model} is unconditional; drop --conditions")
    if conditions is not None and args.oversample is not None:
        conditions = Oversampled(conditions, args.oversample)
    sampling = Sampling(args.seed, args.chunk_size or DEFAULT_CHUNK, args.precision, args.allow_extrapolation)
    if collections is not None:
        result = _generate_collections(model, args, sampling, conditions, collections)
    else:
        result = generate(model, args.out, args.events or 0, sampling=sampling, conditions=conditions,
                          nanoaod=args.format == "nanoaod", quiet=args.quiet, warn=warning)
    say(args, f"generated {result.events:,} events in {result.seconds:.2f} s "
              f"({result.events_per_second:,.0f} events/s) with {model.kind}"
              + (f" (ensemble of {len(model)}, column 'member')" if isinstance(model, EnsembleModel) else "")
              + (f" ({args.oversample} per condition row, columns 'event' and 'copy')"
                 if args.oversample is not None else "")
              + f"; wrote {result.path} "
              f"({Path(result.path).stat().st_size / 1e6:.1f} MB)")


def _generate_collections(model: Any, args: argparse.Namespace, sampling: Any, conditions: Any,
                          collections: str) -> Any:
    """``--format nanoaod`` for a model trained on flattened collections (``--collections``):
    generate its table into a hidden temporary Parquet file beside --out, then write that back as
    jagged collections (:func:`flashgen.nanoaod.rewrite_as_nanoaod`); the temporary file goes
    either way."""
    import dataclasses
    import tempfile
    import time

    import numpy as np

    from ..collections import Collections
    from ..generation import generate
    from ..nanoaod import rewrite_as_nanoaod

    out = Path(args.out)
    spec = Collections.parse(collections)
    spec.nanoaod({c.name: np.zeros(0) for c in model.output_columns})  # columns it cannot write back fail here
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent) as tmp:
        table = Path(tmp) / "events.parquet"
        result = generate(model, table, args.events or 0, sampling=sampling, conditions=conditions,
                          quiet=args.quiet, warn=warning)
        rewrite_as_nanoaod(table, out, profile=spec, meta={"collections": str(spec)})
    return dataclasses.replace(result, path=out, seconds=time.perf_counter() - start)


def _run_sharded(args: argparse.Namespace) -> None:
    from ..errors import FlashgenError
    from ..generation import DEFAULT_CHUNK, Sampling
    from ..sharded import DEFAULT_SHARD_CHUNKS, Placement, generate_sharded

    if Path(args.out).suffix.lower() == ".root":
        raise FlashgenError(f"--workers/--scheduler write a folder of Parquet shards, not {args.out}: "
                            "give a folder name")
    sampling = Sampling(args.seed, args.chunk_size or DEFAULT_CHUNK, args.precision, args.allow_extrapolation)
    placement = Placement(args.workers or 1, args.scheduler, args.shard_chunks or DEFAULT_SHARD_CHUNKS,
                          _device(args.device))
    result = generate_sharded(args.model, args.out, args.events or 0, sampling=sampling,
                              conditions_path=args.conditions, oversample=args.oversample,
                              placement=placement, quiet=args.quiet, warn=warning, force=args.force)
    size = sum(f.stat().st_size for f in Path(result.path).glob("part-*.parquet"))
    if result.events == 0:
        say(args, f"dataset {result.path} is already complete ({size / 1e6:.1f} MB); nothing left to do")
        return
    say(args, f"generated {result.events:,} events in {result.seconds:.2f} s "
              f"({result.events_per_second:,.0f} events/s); dataset {result.path} ({size / 1e6:.1f} MB)")
