"""Are the Z→μμ reference's exact symmetries there? (issue: the flagship at the statistical floor)

pp → Z/γ* → μμ with a forward-backward symmetric detector should be invariant under z → −z
(every pz flipped); after the rotation to μ1 py = 0 (μ1 along +x) it should be invariant under
the transverse mirror y → −y of every object, up to parity-odd angular terms. A model could
then use them (canonicalise to one half-space, learn, unfold with a seeded random sign). This
script measures them on a simulated reference before anyone relies on them:

- *asymmetries*: the fraction of events with a quantity above 0 that the symmetry makes odd
  (μ0 pz, pz(μμ), rotated μ0 py, rotated MET y, sign of Δy) against 1/2, with its binomial error;
- *classifier*: the AUC of a boosted classifier separating half A of the events from half B
  transformed (z-flip, mirror, both), mean of 5 trainings, beside A against B untransformed
  (the null: what two halves of one sample give). A symmetry that holds gives the null's AUC.

Run: ``python benchmarks/bench_symmetry.py --reference DIR`` (a ``flashgen simulate zmumu``
folder; the main job's ``flashgen-run/reference`` will do). Results: ``results/symmetry.{json,md}``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import command_line, describe_machine, write_results

RESULTS = Path(__file__).resolve().parent / "results"
MUONS = ("mu0", "mu1")


def _z_flip(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(t)
    for m in MUONS:
        out[f"{m}_pz"] = -t[f"{m}_pz"]
    return out


def _mirror(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """y → −y of every transverse vector in the μ1 frame (μ1 py is 0 there)."""
    out = dict(t)
    for name in ("mu0_py", "met_y"):
        out[name] = -t[name]
    return out


def _frame(table: Any, features: list[str]) -> dict[str, np.ndarray]:
    from flashgen.sources.zmumu.quantities import rotate_to_mu1_frame

    rotated = rotate_to_mu1_frame(table.select(features))
    return {n: np.asarray(rotated[n], dtype=np.float64) for n in rotated.names}


def _fraction(x: np.ndarray) -> dict[str, float]:
    n = len(x)
    p = float(np.mean(x > 0))
    err = math.sqrt(0.25 / n)
    return {"fraction": p, "error": err, "pull": (p - 0.5) / err, "events": n}


def _auc(a: dict[str, np.ndarray], b: dict[str, np.ndarray], names: list[str], repeats: int) -> dict[str, float]:
    from flashgen.validation import classifier_two_sample_test

    xa = np.column_stack([a[n] for n in names])
    xb = np.column_stack([b[n] for n in names])
    runs = [classifier_two_sample_test(xa, xb, features=names, seed=s).auc for s in range(repeats)]
    return {"auc": float(np.mean(runs)), "spread": float(np.std(runs, ddof=1)),
            "error_of_mean": float(np.std(runs, ddof=1) / math.sqrt(repeats)), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, help="a flashgen simulate zmumu folder (selected events)")
    parser.add_argument("--repeats", type=int, default=5, help="classifier trainings per comparison (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split into halves (default 0)")
    parser.add_argument("--out", default=str(RESULTS), help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)

    from flashgen.data import read_table
    from flashgen.sources.zmumu.schema import FEATURES
    from flashgen.speed import machine_info

    start = time.perf_counter()
    table = read_table(args.reference)
    t = _frame(table, FEATURES)
    names = [n for n in t if n != "mu1_py"]
    pz_ll = t["mu0_pz"] + t["mu1_pz"]
    dy = np.arcsinh(t["mu0_pz"] / np.hypot(t["mu0_px"], t["mu0_py"])) - np.arcsinh(t["mu1_pz"] / t["mu1_px"])
    asym = {"mu0_pz": _fraction(t["mu0_pz"]), "pz_mumu": _fraction(pz_ll), "dy_mu0_mu1": _fraction(dy),
            "mu0_py_rotated": _fraction(t["mu0_py"]), "met_y_rotated": _fraction(t["met_y"])}
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(table))
    half = len(order) // 2
    a = {n: v[order[:half]] for n, v in t.items()}
    b = {n: v[order[half:2 * half]] for n, v in t.items()}
    comparisons = {"A vs B (null)": b, "A vs z-flipped B": _z_flip(b), "A vs mirrored B": _mirror(b),
                   "A vs z-flipped and mirrored B": _mirror(_z_flip(b))}
    aucs = {k: _auc(a, v, names, args.repeats) for k, v in comparisons.items()}
    result = {"command": command_line("bench_symmetry.py", argv), "machine": machine_info("cpu"),
              "date": time.strftime("%Y-%m-%d"), "reference": str(args.reference),
              "events": len(table), "features": names, "asymmetries": asym, "classifier": aucs,
              "seconds": time.perf_counter() - start}
    lines = ["# Symmetries of the Z→μμ reference", "",
             f"Command: `{result['command']}`. {describe_machine(result['machine'])}",
             f"Reference: {len(table):,} selected events (`{args.reference}`); features: the 17 of the "
             "zmumu preset in the μ1 frame (μ1 along +x).", "",
             "## Asymmetries (fraction of events above 0; a symmetry gives 1/2)", "",
             "| quantity | odd under | fraction > 0 | binomial error | pull |", "|---|---|---|---|---|"]
    odd = {"mu0_pz": "z → −z", "pz_mumu": "z → −z", "dy_mu0_mu1": "z → −z", "mu0_py_rotated": "y → −y",
           "met_y_rotated": "y → −y"}
    for k, v in asym.items():
        lines.append(f"| {k} | {odd[k]} | {v['fraction']:.4f} | {v['error']:.4f} | {v['pull']:+.2f} |")
    lines += ["", f"## Classifier: half A against half B transformed ({half:,} events each, mean of "
              f"{args.repeats} trainings)", "", "| comparison | AUC | spread | error of the mean |", "|---|---|---|---|"]
    for k, v in aucs.items():
        lines.append(f"| {k} | {v['auc']:.4f} | {v['spread']:.4f} | {v['error_of_mean']:.4f} |")
    lines += ["", "A symmetry that holds gives the null's AUC within the errors, and pulls within ±2–3."]
    write_results(result, "\n".join(lines) + "\n", args.out, "symmetry")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
