"""No generated Z→μμ event outside the physical support (issue: the flagship at the statistical floor).

Generates 10⁶ events from a main job's model (``flashgen run``'s ``model.pt``) and counts, over
every object: |pz| and E above the 6.5 TeV beam energy; every feature beyond its training range
widened by the stated margin (:data:`flashgen.models.flashmodel.SUPPORT_MARGIN`); muons outside
the acceptance (|eta| <= 2.4, pT > 10 GeV). Beside them, the tails the issue quoted: the 99th
percentile and maximum of |μ0 pz| and μ0 energy against the held-out reference, and how many
events the generator redrew (the model's own mass outside the support).

Run: ``python benchmarks/bench_support.py --run DIR`` (a ``flashgen run`` folder). Results:
``results/support.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import command_line, describe_machine, write_results

RESULTS = Path(__file__).resolve().parent / "results"
BEAM_ENERGY = 6500.0
"""GeV, per beam at 13 TeV."""


def check(run: Path, events: int, seed: int) -> dict[str, Any]:
    """The counts above for ``events`` generated from ``run/model.pt``."""
    from flashgen.data import read_table
    from flashgen.generation import Sampling, generate
    from flashgen.models import load_model
    from flashgen.models.flashmodel import SUPPORT_MARGIN
    from flashgen.sources.zmumu.profile import ACCEPTANCE

    model = load_model(run / "model.pt")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        res = generate(model, Path(tmp) / "g.parquet", events, sampling=Sampling(seed=seed), quiet=True)
        seconds = time.perf_counter() - start
        gen = read_table(Path(tmp) / "g.parquet")
    held = read_table(run / "reference-heldout.parquet")
    g = {n: np.asarray(gen[n], dtype=np.float64) for n in gen.names}
    h = {n: np.asarray(held[n], dtype=np.float64) for n in held.names}
    beyond_beam = {c: int(np.count_nonzero(np.abs(g[c]) > BEAM_ENERGY))
                   for c in ("mu0_pz", "mu0_e", "mu1_pz", "mu1_e")}
    support = model.support
    beyond_range = {c: int(np.count_nonzero((g[c] < lo) | (g[c] > hi))) for c, (lo, hi) in support.items()}
    outside = int(np.count_nonzero(~ACCEPTANCE.inside(g)))
    tails = {c: {"generated_q99": float(np.quantile(np.abs(g[c]), 0.99)), "generated_max": float(np.abs(g[c]).max()),
                 "heldout_q99": float(np.quantile(np.abs(h[c]), 0.99)), "heldout_max": float(np.abs(h[c]).max())}
             for c in ("mu0_pz", "mu0_e", "mu1_pz", "mu1_e")}
    return {"events": events, "seed": seed, "generation_seconds": seconds, "redrawn": res.redrawn,
            "margin": SUPPORT_MARGIN, "beyond_beam_energy": beyond_beam, "beyond_training_range": beyond_range,
            "outside_acceptance": outside, "acceptance": ACCEPTANCE.description, "tails": tails,
            "heldout_events": len(held), "model": {k: model.info.get(k) for k in ("kind", "preset", "train_events")}}


def main(argv: list[str] | None = None) -> None:
    from flashgen.speed import machine_info

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a flashgen run folder (model.pt, reference-heldout.parquet)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events generated (default 10^6)")
    parser.add_argument("--seed", type=int, default=7, help="generation seed (default 7)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    r = check(args.run, args.events, args.seed)
    result = {"command": command_line("bench_support.py", argv), "machine": machine_info("cpu"), **r}
    lines = ["# Physical support of generated Z→μμ events", "",
             f"Command: `{result['command']}`. {describe_machine(result['machine'])}", "",
             f"{r['events']:,} events from `{args.run}/model.pt` ({r['model']}), seed {r['seed']}, "
             f"{r['generation_seconds']:.1f} s; the generator redrew {r['redrawn']:,} events that fell beyond the "
             f"training range (+{r['margin']:.0%}) or the acceptance ({r['acceptance']}).", "",
             "| check | events |", "|---|---:|"]
    lines += [f"| \\|{c}\\| > {BEAM_ENERGY:g} GeV | {n:,} |" for c, n in r["beyond_beam_energy"].items()]
    lines += [f"| outside the acceptance ({r['acceptance'].replace('|', chr(92) + '|')}) | {r['outside_acceptance']:,} |",
              f"| any feature beyond its training range + {r['margin']:.0%} | "
              f"{sum(r['beyond_training_range'].values()):,} |", "",
              "| quantity | generated q99 | held-out q99 | generated max | held-out max |", "|---|---:|---:|---:|---:|"]
    lines += [f"| \\|{c}\\| [GeV] | {t['generated_q99']:.0f} | {t['heldout_q99']:.0f} | {t['generated_max']:.0f} | "
              f"{t['heldout_max']:.0f} |" for c, t in r["tails"].items()]
    write_results(result, "\n".join(lines) + "\n", args.out, "support")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
