"""The Z→μμ reference in the main job (``flashgen run``): what the generic job asks of the source.

The job simulates ``events`` hard Drell-Yan events with pileup into its folder ``reference/``
(:func:`~flashgen.sources.zmumu.production.simulate_zmumu`), trains with the ``zmumu`` preset and
states the worth of the generated sample in m(μμ).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..registry import ReferenceJob

__all__ = ["JOB"]


def _simulate(events: int, seed: int, folder: Path, options: Mapping[str, Any], workers: int,
              quiet: bool) -> dict[str, Any]:
    from ...executor import Workers
    from .production import ZmumuOptions, simulate_zmumu

    return simulate_zmumu(events, seed, folder, quiet=quiet, workers=Workers(workers),
                          options=ZmumuOptions(pileup=options["pileup"], library_events=options["library_events"]))


def _complete(folder: Path, events: int) -> bool:
    from .production import DEFAULT_SHARD_SIZE, RUN_FILE, shard_sizes
    from .shard import shard_path

    n_shards = len(shard_sizes(events, DEFAULT_SHARD_SIZE))
    return (folder / RUN_FILE).exists() and all(shard_path(folder, i).exists() for i in range(n_shards))


def _describe(events: int, options: Mapping[str, Any]) -> str:
    return f"{events:,} Z→μμ events with pileup {options['pileup']:g}"


JOB = ReferenceJob(label="Z→μμ", preset="zmumu", worth_observable="mll", simulate=_simulate,
                   complete=_complete, describe=_describe, options=("pileup", "library_events"))
