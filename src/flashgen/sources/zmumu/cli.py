"""``flashgen simulate zmumu``: the PYTHIA8 Drell-Yan Z→μμ reference dataset with pileup.

The source's command-line options live with the source; ``flashgen.cli.simulate`` adds the
subcommand of every registered profile."""

from __future__ import annotations

import argparse
from typing import Any

from ...arguments import add_common, positive_int, say, seed_int

__all__ = ["register"]

_DESCRIPTION = """\
Generate Drell-Yan Z/gamma* -> mu mu events at 13 TeV with PYTHIA8 (m_hat > 50 GeV), overlay
Poisson(--pileup) minimum-bias interactions from a pileup library built once per seed, run the
parametric CMS detector (tracks, ECAL, HCAL, muon ID, particle flow, anti-kT R=0.4 jets) and keep
events with two identified opposite-charge muons and 50 < m(mu mu) < 150 GeV.

--events counts GENERATED events; about 40 % pass the selection and are stored. The output is a
folder of Parquet shards (DIR/shard-00000.parquet, ...; read the whole with
flashgen.data.read_table(DIR)), each holding the selected events of --shard-size generated
events and seeded from (--seed, shard index), so the dataset does not depend on --workers.
With --format nanoaod, DIR/nanoaod.root also holds the selected events as NanoAOD-like Events
for coffea (written once the shards are complete).
Rerunning an interrupted command finishes the missing shards and gives the identical dataset;
the parameters are kept in DIR/_flashgen_run.json and a resume with other ones is refused.
Columns (GeV, radians): mu0_/mu1_ px py pz e, nvtx, met_x, met_y, iso0, iso1, jet1_pt..jet5_pt,
charges, isolation components, njet, rho (pileup pT density, GeV per unit area), and generator
truth (gen_mu*_*, gen_z_pt, gen_z_mass, n_pileup). Jets are pileup-corrected as in CMS: tracks
from pileup vertices are removed (charged-hadron subtraction) and rho*area is subtracted; MET and
isolation use all candidates, so they grow with pileup.
Every event also carries its generator-level content (no pileup, no detector): the two muons of
the Z decay (genmu0_/genmu1_ pt eta phi charge), anti-kT R=0.4 jets of the hard interaction's
stable visible particles but those muons (ngenjet, genjet1_pt/eta/phi..genjet5_*), and the
neutrinos' missing pT (genmet_x, genmet_y): the conditions of a flash simulation
(flashgen train --preset zmumu-flash).
--keep-unselected stores every generated event with a 0/1 column 'selected' (reconstructed
columns NaN where 0), so that a flash simulation can learn the selection efficiency.
--level gen runs PYTHIA alone (no pileup particles, no detector, no selection) and writes the
generator-level columns and gen_z_pt, gen_z_mass, n_pileup (drawn Poisson(--pileup)) of every
event: what a flash simulation is fed (flashgen generate --conditions DIR)."""


def _pileup(text: str) -> float:
    from .production import MAX_PILEUP

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; give the mean pileup mu >= 0") from None
    if not 0 <= value <= MAX_PILEUP:
        raise argparse.ArgumentTypeError(f"pileup mu must be in [0, {MAX_PILEUP:g}], got '{text}'")
    return value


def register(srcs: Any) -> None:
    """Add ``zmumu`` to the ``flashgen simulate`` subparsers ``srcs``."""
    from .production import (DEFAULT_LIBRARY_EVENTS, DEFAULT_PILEUP,
                                            DEFAULT_SHARD_SIZE)

    p = srcs.add_parser("zmumu", help="PYTHIA8 Drell-Yan Z->mumu with pileup and a parametric "
                        "CMS detector (a folder of Parquet shards)",
                        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", "-n", type=positive_int, default=10_000,
                   help="number of GENERATED hard events; the ~40 %% that pass the selection are "
                   "stored (default 10,000)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed and options give an identical dataset (default 0)")
    p.add_argument("--out", "-o", required=True, metavar="DIR",
                   help="output folder of Parquet shards: new, empty, or an interrupted run of the "
                   "same command to resume")
    p.add_argument("--pileup", type=_pileup, default=DEFAULT_PILEUP, metavar="MU",
                   help=f"mean number of pileup (minimum-bias) interactions per event, Poisson "
                   f"distributed; 0 for none (default {DEFAULT_PILEUP:g})")
    p.add_argument("--workers", "-j", type=positive_int, default=1, metavar="K",
                   help="parallel worker processes (a local Dask cluster when K > 1; default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (e.g. tcp://host:8786) to run the "
                   "shards on instead of local workers; its workers must see DIR (default: none)")
    p.add_argument("--shard-size", type=positive_int, default=DEFAULT_SHARD_SIZE, metavar="M",
                   help=f"generated events per shard file (default {DEFAULT_SHARD_SIZE})")
    p.add_argument("--pileup-library", type=positive_int, default=DEFAULT_LIBRARY_EVENTS,
                   metavar="N", help="minimum-bias events in the pileup library, built once per "
                   f"seed in DIR/_pileup (default {DEFAULT_LIBRARY_EVENTS:,})")
    p.add_argument("--format", choices=("table", "nanoaod"), default="table",
                   help="table: the folder of Parquet shards (default); nanoaod: the shards and, "
                   "once they are complete, DIR/nanoaod.root: the selected events as a "
                   "NanoAOD-like Events tree (run, luminosityBlock, event = 1..N in shard order, "
                   "nMuon, Muon_pt/eta/phi/mass/charge/pfRelIso03_all, nJet, Jet_pt (eta, phi, "
                   "mass 0: not simulated), MET_pt/phi, PV_npvs; float32) that a coffea NanoAOD "
                   "analysis reads")
    p.add_argument("--level", choices=("reco", "gen"), default="reco",
                   help="reco: the full chain (default); gen: generator-level columns only, every "
                   "event, no pileup simulated (n_pileup still drawn), no detector, no selection")
    p.add_argument("--keep-unselected", action="store_true",
                   help="store every generated event with a 0/1 column 'selected'; reconstructed "
                   "columns are NaN where it is 0 (default: only selected events)")
    add_common(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    from ...errors import FlashgenError
    from ...extras import require
    from ...executor import Workers
    from .production import ZmumuOptions, simulate_zmumu

    if args.format == "nanoaod" and (args.level == "gen" or args.keep_unselected):
        raise FlashgenError("--format nanoaod writes selected reconstructed events: drop it with "
                            "--level gen or --keep-unselected")

    # the optional packages (pip install 'flashgen[zmumu]'), checked before anything is written
    for module in ("pythia8mc", "fastjet", "awkward"):
        require(module, "zmumu")
    if args.workers > 1 or args.scheduler is not None:
        require("dask.distributed", "zmumu")
    options = ZmumuOptions(args.pileup, args.shard_size, args.pileup_library, args.level, args.keep_unselected)
    summary = simulate_zmumu(args.events, args.seed, args.out, options=options,
                             workers=Workers(args.workers, args.scheduler), quiet=args.quiet)
    rate = summary["events_per_second"]
    timing = (f"in {summary['seconds']:.1f} s ({rate:,.1f} generated events/s)"
              if summary["shards_written"] else "(nothing left to do: the dataset was complete)")
    if args.level == "gen":
        say(args, f"generated {summary['events_generated']:,} events at generator level, "
                  f"{summary['shards']} shard(s) in {args.out} {timing}")
    else:
        kept = " (all kept, column 'selected')" if args.keep_unselected else ""
        say(args, f"generated {summary['events_generated']:,} events, selected "
                  f"{summary['events_selected']:,} (efficiency {summary['selection_efficiency']:.1%})"
                  f"{kept}, {summary['shards']} shard(s) in {args.out} {timing}")
    if args.format == "nanoaod":
        from pathlib import Path

        from ...data import read_table
        from ...nanoaod import write_nanoaod

        from ..registry import PROFILES

        path = write_nanoaod(read_table(args.out, allow_empty=True), Path(args.out) / "nanoaod.root",
                             profile=PROFILES["zmumu"])
        say(args, f"wrote {path} (NanoAOD-like Events, {summary['events_selected']:,} events)")
