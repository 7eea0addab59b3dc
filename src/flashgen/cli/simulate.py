"""``flashgen simulate``: write a reference table from one of the sources."""

from __future__ import annotations

import argparse
from typing import Any

from .common import Timer, add_common, positive_float, positive_int, say, seed_int

__all__ = ["register"]


def _fixed(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"'{text}' must be three numbers PT,ETA,PHI (GeV, -, rad)")
    return values  # type: ignore[return-value]


def _table_args(p: argparse.ArgumentParser, default_events: int) -> None:
    p.add_argument("--events", "-n", type=positive_int, default=default_events,
                   help=f"number of events to simulate (default {default_events:,})")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed writes an identical table (default 0)")
    p.add_argument("--out", "-o", required=True,
                   help="output table, .parquet or .root (a ROOT TTree named 'Events'); required, "
                   "no default; an existing file is replaced only once the new one is complete")
    add_common(p)


def register(sub: Any) -> None:
    parser = sub.add_parser("simulate", help="run a reference simulator and write its events",
                            description="Run a reference simulator (the slow or exact truth) and "
                            "write its events as a table. Energies and momenta in GeV, angles in rad.")
    srcs = parser.add_subparsers(dest="source", metavar="SOURCE", parser_class=type(parser))
    srcs.required = True

    p = srcs.add_parser("camelback", help="1D camel back: 0.5 N(-4,1) + 0.5 N(4,1); column x",
                        description="Sample the 1D camel back, an equal mixture of two unit-width "
                        "Gaussians at -4 and +4. Writes column x (dimensionless).")
    _table_args(p, 100_000)
    p.set_defaults(func=_run_toy, toy="camelback")

    p = srcs.add_parser("ring", help="2D ring of radius 1 smeared by N(0, 0.1); columns x, y",
                        description="Sample the 2D ring: uniform azimuth, radius Gaussian with mean "
                        "1 and width --width. Writes columns x, y (dimensionless).")
    _table_args(p, 100_000)
    p.add_argument("--width", type=positive_float, default=0.1,
                   help="Gaussian width of the radius, in units of the mean radius 1 "
                   "(default 0.1)")
    p.set_defaults(func=_run_toy, toy="ring")

    p = srcs.add_parser(
        "electron", help="single-electron detector response (dataset B, or --fixed input)",
        description="Simulate electrons through the Delphes CMS electron efficiency and log-normal "
        "pT smearing. Inputs: dataset B (p ~ U[0,20] GeV, eta ~ U[-2.5,2.5], phi ~ U[0,2pi)) or "
        "one --fixed input (dataset A is --fixed 4.25,2.5,1.5). Columns: gen_pt [GeV], gen_eta, "
        "gen_phi [rad], detected (0/1), pt [GeV], eta, phi [rad] (NaN when not detected).")
    _table_args(p, 1_000_000)
    p.add_argument("--fixed", type=_fixed, metavar="PT,ETA,PHI",
                   help="repeat one input pT [GeV], eta, phi [rad] instead of dataset B's random "
                   "inputs (default: none, i.e. dataset B)")
    p.set_defaults(func=_run_electron)

    try:
        from .simulate_zmumu import register as register_zmumu
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.simulate_zmumu":
            raise
    else:
        register_zmumu(srcs)


def _write(args: argparse.Namespace, make: Any) -> None:
    from ..data import write_table
    from ..files import check_output_path

    check_output_path(args.out)
    with Timer() as t:
        table = make()
        table.meta["command"] = "flashgen simulate " + args.source
        write_table(table, args.out)
    say(args, f"wrote {len(table):,} events to {args.out} in {t.seconds:.1f} s "
              f"({len(table) / max(t.seconds, 1e-9):,.0f} events/s)")


def _run_toy(args: argparse.Namespace) -> None:
    from ..sources.toys import simulate_toy

    params = {"width": args.width} if args.toy == "ring" else {}
    _write(args, lambda: simulate_toy(args.toy, args.events, args.seed, **params))


def _run_electron(args: argparse.Namespace) -> None:
    from ..sources.electron import simulate_electrons

    _write(args, lambda: simulate_electrons(args.events, args.seed, args.fixed))
