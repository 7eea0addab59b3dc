"""``flashgen validate``: compare a generated table with a reference table; write a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import Timer, add_common, csv_list, positive_int, say, seed_int
from .train import collections_spec

__all__ = ["DEFAULT_MAX_EVENTS", "register"]

DEFAULT_MAX_EVENTS = 100_000
"""Events of each table compared by default (a seeded subsample above): it bounds the time (every
metric is recomputed in each of --repeats reference-vs-reference comparisons; 200,000 generated
against 780 reference events took 226 s uncapped) and the output says when it applied."""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "validate", help="compare generated events with reference events; HTML report",
        description="Compare a generated table with a reference table: per-feature and "
        "derived-observable KS tests, Wasserstein distances and histogram chi2, correlation "
        "matrices, Fréchet distance, a classifier two-sample test and conditional checks; each "
        "number next to what a perfect generator would score at these sample sizes. Writes "
        "DIR/report.html (self-contained, opens offline), DIR/metrics.json and DIR/*.png. "
        "Energies and momenta in GeV, angles in rad.")
    parser.add_argument("--reference", "-r", required=True,
                        help="reference table (.parquet, .root or a folder of Parquet shards)")
    parser.add_argument("--generated", "-g", required=True,
                        help="generated table (same formats); from an ensemble model (integer "
                        "column 'member', not compared) the histograms draw the 68 %% band "
                        "inherited from the training sample, the χ² checks include it and the "
                        "report gives each quantity's n_eff")
    parser.add_argument("--collections", type=collections_spec, metavar="NAME:N[,NAME:N...]",
                        help="flatten the reference's jagged collections as 'flashgen train "
                        "--collections' does (give the model's, so that the columns match); a "
                        "generated NanoAOD file of such a model is flattened by itself (default: none)")
    parser.add_argument("--out", "-o", required=True,
                        help="output folder for report.html, metrics.json and PNGs (created; "
                        "its parent must exist; an earlier report there is replaced only with --force)")
    parser.add_argument("--force", action="store_true",
                        help="replace an earlier report in --out (default: refuse a folder that "
                        "holds report.html or metrics.json)")
    parser.add_argument("--features", type=csv_list, metavar="A,B,...",
                        help="compare only these columns, and the derived observables computable "
                        "from them (default: every column common to both tables except 'member')")
    parser.add_argument("--max-events", type=positive_int, metavar="N", default=DEFAULT_MAX_EVENTS,
                        help="use at most N events of each table, a seeded random subsample; the "
                        f"output says when it applied (default {DEFAULT_MAX_EVENTS:,}; give a larger N, "
                        "e.g. 1e9, to compare every event)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of subsampling, bootstrap and classifier; the same seed gives "
                        "the same numbers (default 0)")
    parser.add_argument("--repeats", type=positive_int, default=10,
                        help="reference-vs-reference bootstrap comparisons that estimate what a "
                        "perfect generator scores, 2 to 1,000 (default 10)")
    parser.add_argument("--fail-on", choices=("fail", "never"), default="never",
                        help="exit status for scripts: 'fail' exits with 1 when any check fails "
                        "(the report is written all the same); 'never' exits with 0 whatever the "
                        "verdict (default never)")
    add_common(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..data import read_table
    from ..files import check_output_path
    from ..validation import ValidationSettings, validate

    from ..errors import FlashgenError
    from ..validation.validate_samples import MAX_REPEATS
    from ..validation.report import METRICS, REPORT
    from ..validation.summary import headline

    out = check_output_path(args.out, directory=True, inputs=[args.reference, args.generated])
    earlier = [name for name in (REPORT, METRICS) if (out / name).exists()]
    if earlier and not args.force:
        raise FlashgenError(f"{out} holds an earlier report ({', '.join(earlier)}); pass --force to replace it")
    if args.repeats > MAX_REPEATS:
        raise FlashgenError(f"--repeats {args.repeats:,} is more than {MAX_REPEATS:,}: each repeat "
                            "recomputes every metric; 10-100 resolve the noise to a few per cent")
    with Timer() as t:
        reference = read_table(args.reference, collections=args.collections)
        generated = read_table(args.generated)
        settings = ValidationSettings(features=args.features, max_events=args.max_events,
                                      seed=args.seed, repeats=args.repeats)
        result = validate(reference, generated, args.out, settings, quiet=args.quiet)
    summary = result["summary"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items())
    line = headline(result)
    for note in result["settings"]["notes"]:
        say(args, f"note: {note}")
    say(args, f"compared {_used(result, 'generated', args.max_events)} with "
              f"{_used(result, 'reference', args.max_events)} events in {t.seconds:.1f} s: {counts}")
    if line:
        say(args, line)
    say(args, f"{summary['verdict']}; report: {Path(args.out) / 'report.html'}")
    return 1 if args.fail_on == "fail" and summary["counts"].get("fail", 0) > 0 else 0


def _used(result: dict[str, Any], sample: str, cap: int) -> str:
    """``"3,000 generated"``, or ``"100,000 of 762,500 generated (--max-events 100,000)"`` where
    the cap left events out."""
    info = result["samples"][sample]
    used, total = info["n_used"], info["n_events"]
    if used >= total:
        return f"{used:,} {sample}"
    return f"{used:,} of {total:,} {sample}" + (f" (--max-events {cap:,})" if total > cap >= used else "")
