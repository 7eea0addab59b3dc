"""``flashgen worth``: what a generated sample is worth in one observable, bin by bin."""

from __future__ import annotations

import argparse
from typing import Any

from ..arguments import add_common, csv_list, positive_int, say, warning

__all__ = ["register"]


def _edges(text: str) -> list[float]:
    try:
        return [float(x) for x in csv_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"edges must be numbers separated by commas, got '{text}'") from None


def _bins(text: str) -> list[int]:
    """``K`` or ``K1,K2,...``: numbers of equal-population bins (a curve of G over resolutions)."""
    try:
        items = csv_list(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"bins must be positive integers separated by commas, got '{text}'") from None
    return [positive_int(item) for item in items]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worth", help="inherited uncertainty, effective events and amplification of a generated histogram",
        description="For a sample generated from an ensemble model (train --ensemble M; column "
        "'member'), histogram one observable and state per bin the generated fraction, the "
        "uncertainty it inherits from the finite training sample (bootstrap resamples; the "
        "optimisation noise of members sharing a resample is separated out, as pooling averages "
        "it away), a 68 % band, and the effective number of simulated events n_eff = p(1-p)/σ²; "
        "overall, n_eff of the whole histogram and the amplification G = n_eff / N_train. "
        "Fractions are of all generated events (those outside the edges or undetected count in "
        "the denominator). For an oversampled sample (generate --oversample K; column 'event'), "
        "also what its copies are worth after folding the copies of each generator-level event "
        "(key 'oversampling'); without 'member' that is all it reports. The forecast sees no "
        "bias the members share; benchmarks/results/worth.md shows its calibration where the "
        "truth is exact. G holds at the binning it was computed in (named in the output): "
        "finer bins give a larger G. G and the histogram's n_eff are stated at up to 50 bins, the "
        "calibrated range; at finer binnings the line says 'G not stated' with the reason, and the "
        "JSON has amplification and n_eff null and the reason in 'withheld' (the per-bin band is "
        "kept). Where the bins hold few training events (fewer than 5 on average, or fewer than the "
        "ensemble's members in a bin) a warning says G is not reliable. --bins K1,K2,... states G "
        "at several resolutions (key 'curve').")
    p.add_argument("--generated", "-g", required=True,
                   help="generated table (.parquet, .root or a Parquet dataset folder) with column 'member' "
                   "and/or 'event'")
    p.add_argument("--observable", required=True, metavar="NAME",
                   help="a column, or a derived quantity the table supports (e.g. mll for Z->mumu)")
    binning = p.add_mutually_exclusive_group()
    binning.add_argument("--edges", type=_edges, metavar="E1,E2,...",
                         help="bin edges in the observable's unit, strictly increasing (write "
                         "--edges=-6,-4,... when the first edge is negative)")
    binning.add_argument("--bins", type=_bins, metavar="K[,K2,...]",
                         help="K equal-population bins of the generated sample (default 20); several, "
                         "comma-separated (e.g. 10,20,50,100), give G as a curve over resolutions: one "
                         "line each and the JSON list 'curve' (the other keys are the first binning's); "
                         "G is stated up to 50 bins")
    p.add_argument("--train-events", type=positive_int, metavar="N",
                   help="training events of the model (default: recorded in the generated table "
                   "by flashgen generate)")
    p.add_argument("--out", "-o", required=True, help="JSON file to write (.json; required, no default)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing JSON file at --out; a file of another kind (a model, a table, ...) "
                   "is never replaced (default: refuse it)")
    p.add_argument("--format", choices=("json", "pyhf"), default="json",
                   help="json: edges, fraction, sigma, band_low, band_high, n_eff_bins, n_eff, "
                   "amplification (default); pyhf: a pyhf sample (counts, normfactor and a "
                   "per-bin modifier of the inherited uncertainty) to put into a HistFactory channel")
    p.add_argument("--pyhf", dest="format", action="store_const", const="pyhf", help="same as --format pyhf")
    p.add_argument("--pyhf-events", type=float, metavar="EVENTS",
                   help="with pyhf: expected events of the sample (default: the generated events)")
    p.add_argument("--pyhf-modifier", choices=("shapesys", "staterror"), default="shapesys",
                   help="with pyhf: the modifier carrying the inherited uncertainty (default shapesys)")
    p.add_argument("--name", default="generated", help="with pyhf: the sample's name (default generated)")
    add_common(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    import numpy as np

    from ..data import read_table
    from ..errors import FlashgenError
    from ..files import check_output_path, write_json
    from ..stats.histogram_worth import (describe, equal_population_edges, member_ids, observable_values,
                                         pyhf_sample, recorded_ensemble, resolution, worth_of_sample)

    check_output_path(args.out, suffixes=(".json",), inputs=[args.generated], overwrite=args.force)
    if args.pyhf_events is not None and (not np.isfinite(args.pyhf_events) or args.pyhf_events <= 0):
        raise FlashgenError(f"--pyhf-events must be a positive number, got {args.pyhf_events}")
    several = args.bins is not None and len(args.bins) > 1
    if several and args.format == "pyhf":
        raise FlashgenError(f"--pyhf writes one histogram; give one number of bins, not --bins "
                            f"{','.join(str(k) for k in args.bins)}")
    table = read_table(args.generated)
    ensemble, oversampled = "member" in table.names, "event" in table.names
    if not ensemble and not oversampled:
        raise FlashgenError(f"{args.generated} has no 'member' column: it was not generated from an "
                            "ensemble, and the inherited uncertainty needs one (flashgen train --ensemble M)")
    if not ensemble and args.format == "pyhf":
        raise FlashgenError("--pyhf needs the inherited uncertainty, which needs an ensemble "
                            "(flashgen train --ensemble M); this sample has 'event' but no 'member'")
    if not ensemble and several:
        raise FlashgenError("a curve of G over several --bins needs an ensemble (flashgen train --ensemble M); "
                            "this sample has 'event' but no 'member': give one number of bins")
    if ensemble:
        member = member_ids(table["member"])
        if len(np.unique(member)) < 2:
            raise FlashgenError(f"{args.generated} was generated by a single model (one member): an ensemble "
                                "is needed for the inherited uncertainty (flashgen train --ensemble M)")
    values, unit = observable_values(table, args.observable)
    if args.edges is not None:
        binnings, chosen = [np.asarray(args.edges, dtype=np.float64)], "edges"
    else:
        binnings, chosen = [equal_population_edges(values, k) for k in (args.bins or [20])], "equal-population"
    edges = binnings[0]
    over = _oversampling(table, values, edges) if oversampled else None
    if not ensemble:
        _write_oversampling_only(args, unit, edges, chosen, over)
        return
    recorded_events, groups = recorded_ensemble(table.meta)
    train_events = args.train_events or recorded_events
    results = []
    for e in binnings:
        w = worth_of_sample(values, member, e, train_events=train_events, observable=args.observable,
                            groups=groups)
        results.append((w, resolution(w, unit=unit, chosen=chosen)))
    worth, res = results[0]
    if args.format == "pyhf":
        write_json(pyhf_sample(worth, name=args.name, events=args.pyhf_events, modifier=args.pyhf_modifier),
                   args.out)
    else:
        write_json({**worth.to_json(), "unit": unit, "generated": str(args.generated),
                    "binning": res.to_json(), **res.sparsity(),
                    "curve": [_curve_entry(w, r) for w, r in results],
                    **({"oversampling": over.to_json()} if over is not None else {})}, args.out)
    for w, r in results:
        line = describe(w, unit, at=r.text) + f" [{w.members} members]" + (f": {w.withheld}" if w.withheld else "")
        say(args, line + ("" if several else f"; wrote {args.out}"))
    if several:
        say(args, f"wrote {args.out} (G at {len(results)} resolutions, key 'curve')")
    for w, r in results:
        message = r.warning(w.amplification)
        if message and not w.withheld:  # a withheld G says why on its own line
            warning(message)
    if over is not None:
        say(args, _describe_oversampling(over, args.observable))
    if train_events is None:
        say(args, "no amplification: the training size is unknown (give --train-events N)")


def _curve_entry(worth: Any, res: Any) -> dict[str, Any]:
    """One resolution of the curve: the binning, n_eff, G (both ``None`` where withheld, with the
    reason in ``withheld``) and how sparse its bins are."""
    import numpy as np

    stated = worth.withheld is None and np.isfinite(worth.n_eff)
    return {**res.to_json(), "n_eff": float(worth.n_eff) if stated else None,
            "amplification": worth.amplification, **res.sparsity()}


def _oversampling(table: Any, values: Any, edges: Any) -> Any:
    """:func:`~flashgen.stats.oversampling.oversampling_gain` of the table's ``event`` column."""
    import numpy as np

    from ..errors import FlashgenError
    from ..stats.oversampling import oversampling_gain

    event = np.asarray(table["event"])
    if event.dtype.kind not in "iu":
        raise FlashgenError("the 'event' column must hold integers (written by flashgen generate --oversample)")
    return oversampling_gain(values, event, edges)


def _describe_oversampling(over: Any, observable: str) -> str:
    """One line: what the copies of the generator-level events are worth in ``observable``."""
    import numpy as np

    from ..stats.histogram_worth import round_count

    if not np.isfinite(over.gain):
        return (f"the {over.rows:,} rows are {over.events:,} generator-level events × {over.copies} copies; "
                f"their worth in {observable} is undefined (no bin has any spread)")
    return (f"the {over.rows:,} rows are {over.events:,} generator-level events × {over.copies} copies: "
            f"statistically worth ≈ {round_count(over.equivalent_events):,} fully simulated events in "
            f"{observable} (error ×{over.error_ratio:.2f} of one copy, not 1/√{over.copies} = "
            f"{over.naive_error_ratio:.2f})")


def _write_oversampling_only(args: argparse.Namespace, unit: str, edges: Any, chosen: str, over: Any) -> None:
    """Worth of an oversampled sample from one model: its statistics only."""
    import numpy as np

    from ..files import write_json
    from ..stats.histogram_worth import binning as binning_of

    binning = binning_of(edges, args.observable, unit=unit, chosen=chosen)
    text = binning["text"]
    write_json({"observable": args.observable, "unit": unit, "generated": str(args.generated),
                "edges": np.asarray(edges, dtype=float).tolist(), "binning": binning, "oversampling": over.to_json(),
                "inherited": None,
                "note": "one model, no ensemble: the uncertainty inherited from the training sample "
                        "is not included (flashgen train --ensemble M)"}, args.out)
    say(args, _describe_oversampling(over, args.observable) + f" at {text}; wrote {args.out}")
    say(args, "no inherited uncertainty: the uncertainty a generated sample inherits from the training "
              "sample needs an ensemble (flashgen train --ensemble M)")
