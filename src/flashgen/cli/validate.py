"""``flashgen validate``: compare a generated table with a reference table; write a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..arguments import Timer, add_common, csv_list, positive_int, say, seed_int

__all__ = ["register"]


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
    parser.add_argument("--out", "-o", required=True,
                        help="output folder for report.html, metrics.json and PNGs (created; "
                        "its parent must exist; files of an earlier report are replaced)")
    parser.add_argument("--features", type=csv_list, metavar="A,B,...",
                        help="compare only these columns, and the derived observables computable "
                        "from them (default: every column common to both tables except 'member')")
    parser.add_argument("--max-events", type=positive_int, metavar="N",
                        help="use at most N events of each table, a seeded random subsample "
                        "(default: all events)")
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
    from ..validation.summary import headline

    check_output_path(args.out, directory=True, inputs=[args.reference, args.generated])
    if args.repeats > MAX_REPEATS:
        raise FlashgenError(f"--repeats {args.repeats:,} is more than {MAX_REPEATS:,}: each repeat "
                            "recomputes every metric; 10-100 resolve the noise to a few per cent")
    with Timer() as t:
        reference = read_table(args.reference)
        generated = read_table(args.generated)
        settings = ValidationSettings(features=args.features, max_events=args.max_events,
                                      seed=args.seed, repeats=args.repeats)
        result = validate(reference, generated, args.out, settings, quiet=args.quiet)
    summary = result["summary"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items())
    line = headline(result)
    n_ref = result["samples"]["reference"]["n_used"]
    n_gen = result["samples"]["generated"]["n_used"]
    for note in result["settings"]["notes"]:
        say(args, f"note: {note}")
    say(args, f"compared {n_gen:,} generated with {n_ref:,} reference events in {t.seconds:.1f} s: "
              f"{counts}")
    if line:
        say(args, line)
    say(args, f"{summary['verdict']}; report: {Path(args.out) / 'report.html'}")
    return 1 if args.fail_on == "fail" and summary["counts"].get("fail", 0) > 0 else 0
