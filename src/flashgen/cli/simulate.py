"""``flashgen simulate SOURCE``: write a reference table from one of the registered sources.

Each source's profile (:class:`flashgen.sources.registry.Profile`) adds its own subcommand
(``Profile.cli``); sources that write one table use
:func:`flashgen.sources.command.add_table_source`, which gives them the common options and the
atomic writing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    from ..sources import PROFILES

    parser = sub.add_parser("simulate", help="run a reference simulator and write its events",
                            description="Run a reference simulator (the slow or exact truth) and "
                            "write its events as a table. Energies and momenta in GeV, angles in rad.")
    srcs = parser.add_subparsers(dest="source", metavar="SOURCE", parser_class=type(parser))
    srcs.required = True
    for profile in PROFILES.values():
        if profile.cli is not None:
            profile.cli(srcs)
