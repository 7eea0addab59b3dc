"""The ``flashgen simulate NAME`` subcommand of a source that writes one table.

A source's profile adds its own subcommand (``Profile.cli``); a source that writes one table
uses :func:`add_table_source`, which gives it the common options and the atomic writing. The
subcommand ``flashgen simulate`` itself is built by :mod:`flashgen.cli.simulate` from the
registered profiles.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..arguments import Timer, add_common, positive_int, say, seed_int

__all__ = ["add_table_source"]


def add_table_source(srcs: Any, name: str, make: Callable[[argparse.Namespace], Any], *,
                     help: str, description: str, default_events: int) -> argparse.ArgumentParser:
    """Add ``flashgen simulate NAME`` for a source that writes one table.

    The subcommand has ``--events``, ``--seed``, ``--out`` and ``--quiet``; it calls
    ``make(args)`` (which returns an :class:`~flashgen.data.EventTable`) and writes the table
    atomically. Returns the parser, for the source's own options.
    """
    p = srcs.add_parser(name, help=help, description=description)
    p.add_argument("--events", "-n", type=positive_int, default=default_events,
                   help=f"number of events to simulate (default {default_events:,})")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed writes an identical table (default 0)")
    p.add_argument("--out", "-o", required=True,
                   help="output table, .parquet or .root (a ROOT TTree named 'Events'); required, "
                   "no default; an existing file is replaced only once the new one is complete")
    add_common(p)
    p.set_defaults(func=lambda args: _write(args, make))
    return p


def _write(args: argparse.Namespace, make: Callable[[argparse.Namespace], Any]) -> None:
    from ..data import write_table
    from ..files import check_output_path

    check_output_path(args.out)
    with Timer() as t:
        table = make(args)
        table.meta["command"] = "flashgen simulate " + args.source
        write_table(table, args.out)
    say(args, f"wrote {len(table):,} events to {args.out} in {t.seconds:.1f} s "
              f"({len(table) / max(t.seconds, 1e-9):,.0f} events/s)")
