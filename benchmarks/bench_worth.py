"""Worth calibration benchmark: is the inherited uncertainty of a pooled ensemble histogram right?

For truths with exact CDF (camel back with 100 and 1,000 training events, the 2D ring, and the
electron response of dataset A at fixed inputs: pT' of detected electrons at pT = 4.25 GeV,
eta = 2.5), each repetition trains an ensemble the way ``flashgen train --ensemble M`` does
(pairs of members per bootstrap resample), pools its generated events and histograms them in
K = 10, 20, 50 equal-probability bins of the truth (flashgen.studies.calibration). Reported per
truth, model and K: coverage of the 68 % band p ± t σ of flashgen.stats.histogram_worth (target 0.68 ± 0.05),
the coverage the raw member spread would give, the forecast amplification (from the ensemble
alone) against the measured one (quantile MSE against the exact truth; target within 25 %), and
the measured amplification of a single model trained on the unresampled sample.

    python benchmarks/bench_worth.py [--workers 2] [--repeats 20] [--resume]

writes benchmarks/results/worth.{json,md} (updated after every case; --resume reuses cases).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import command_line, describe_machine, write_results

RESULTS = Path(__file__).resolve().parent / "results"
BINS = (10, 20, 50)


def _cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    flow = {"generator": "flow", "preset": "camelback"}
    cases = []
    for truth, n_train, column in (("camelback", 100, "x"), ("camelback", 1000, "x"),
                                   ("ring", 1000, "x,y"), ("electron-A", 1000, "pt")):
        for gen in (flow, {"generator": "empirical"}, {"generator": "kde"},
                    {"generator": "flow-nll", "preset": "camelback"}):
            if gen["generator"] in ("kde", "flow-nll") and not (truth == "camelback" and n_train == 100):
                continue
            cases.append({"truth": truth, "n_train": n_train, "columns": column, **gen,
                          "members": args.members, "n_gen": args.n_gen, "repeats": args.repeats})
    return cases


def _truth(name: str) -> Any:
    from flashgen.sources.electron import ElectronResponse
    from flashgen.sources.toys import CamelBack, Ring

    return {"camelback": CamelBack, "ring": Ring, "electron-A": ElectronResponse}[name]()


def _trainer(case: dict[str, Any]) -> Any:
    from flashgen.studies.trainers import EmpiricalTrainer, FlashgenTrainer, KDETrainer

    if case["generator"] == "empirical":
        return EmpiricalTrainer()
    if case["generator"] == "kde":
        return KDETrainer()
    from flashgen.training import TrainSettings

    config: dict[str, Any] = {"transforms": 3} if case["truth"] == "ring" else {}
    settings = TrainSettings()
    if case["generator"] == "flow-nll":  # early stopping by the likelihood of 25 % held out
        settings = TrainSettings(val_fraction=0.25, selection=("loss",), snapshot_every=100, steps=4000)
    return FlashgenTrainer("flow", tuple(case["columns"].split(",")), preset=case["preset"], settings=settings,
                           config=config)


def _key(case: dict[str, Any]) -> str:
    return f"{case['truth']}/{case['n_train']}/{case['generator']}"


def markdown(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = ["# Worth of a generated histogram: calibration where the truth is exact\n",
             f"`{payload['command']}` — {m['wall_s'] / 60:.1f} min wall, {m['workers']} workers. "
             f"{describe_machine(m['info'])}\n",
             "Each repetition: a training sample of n_train events from the truth; an ensemble of M "
             "members in pairs per bootstrap resample (as `flashgen train --ensemble M`); the pooled "
             "histogram of all members' events in K equal-probability bins of the truth. coverage: "
             "fraction of (repetition, bin) pairs whose exact probability 1/K lies in the 68 % band "
             "p ± t σ of `flashgen worth` (target 0.68 ± 0.05); 'member spread': the same with the "
             "raw member standard deviation as σ. forecast G: Σ p(1−p) / (n_train ⟨Σ σ²⟩) from the "
             "ensemble alone; measured G: Σ p(1−p) / (n_train ⟨Σ (p̂ − 1/K)²⟩) against the exact "
             "truth (target: forecast/measured within 1 ± 0.25). single G: one model trained on the "
             "unresampled sample, generating as many events as the ensemble. optimisation share: "
             "fraction of a member's variance that is optimisation noise (within-pair).\n",
             "| truth | n_train | model | M | generated | reps | K | coverage | member spread | "
             "forecast G | measured G | forecast / measured | single G | optimisation share |",
             "|" + "---|" * 14]
    for case in payload["cases"].values():
        for s in case["by_bins"]:
            ok_cov = "" if abs(s["coverage"] - 0.68) <= 0.05 else " ✗"
            ok_g = "" if abs(s["forecast_over_measured"] - 1) <= 0.25 else " ✗"
            lines.append(
                f"| {case['truth']} | {s['n_train']:,} | {case['generator']} | {s['members']} | "
                f"{s['n_gen_total']:,} | {s['repeats']} | {s['bins']} | {s['coverage']:.3f} ± "
                f"{s['coverage_err']:.3f}{ok_cov} | {s['coverage_member_spread']:.3f} | "
                f"{s['forecast_G']:.2f} ± {s['forecast_G_err']:.2f} | {s['measured_G']:.2f} ± "
                f"{s['measured_G_err']:.2f} | {s['forecast_over_measured']:.2f}{ok_g} | "
                f"{s['single_G']:.2f} ± {s['single_G_err']:.2f} | {s['optimisation_share']:.2f} |")
    lines += ["", "✗: outside the target (coverage 0.68 ± 0.05; forecast/measured 1 ± 0.25).", ""]
    if payload.get("findings"):
        lines += ["## Findings", "", payload["findings"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=10, help="ensemble members, in pairs (default 10)")
    p.add_argument("--n-gen", type=int, default=10_000, help="generated events per member (default 1e4)")
    p.add_argument("--repeats", type=int, default=20, help="independent training samples (default 20)")
    p.add_argument("--only", default="", help="comma-separated case keys to run (default: all)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    p.add_argument("--seed", type=int, default=2008_06545, help="master seed")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--resume", action="store_true", help="reuse finished cases of an existing worth.json")
    p.add_argument("--findings", default="", help="text of the Findings section")
    p.add_argument("--render", action="store_true", help="only rewrite worth.md from worth.json")
    p.add_argument("--rescore", action="store_true",
                   help="with --render: recompute every summary from the stored member histograms")
    args = p.parse_args(argv)
    from flashgen.speed import machine_info
    from flashgen.studies.calibration import CalibrationDesign, calibration_study

    path = args.out_dir / "worth.json"
    if args.render:
        payload = json.loads(path.read_text())
        payload["findings"] = args.findings or payload.get("findings", "")
        if args.rescore:
            from flashgen.studies.calibration import CalibrationResult

            for case in payload["cases"].values():
                result = CalibrationResult(_key(case), {k: np.asarray(case["fractions"][str(k)]) for k in BINS},
                                           {k: np.asarray(case["single"][str(k)]) for k in BINS},
                                           case["n_train"], case["n_gen"], 2,
                                           case["by_bins"][0]["train_seconds"],
                                           {"wall_s": case["by_bins"][0]["wall_s"],
                                            "workers": case["by_bins"][0]["workers"]})
                case["by_bins"] = [result.summary(k) for k in BINS]
        write_results(payload, markdown(payload), args.out_dir, "worth")
        return 0
    old = json.loads(path.read_text()).get("cases", {}) if args.resume and path.exists() else {}
    payload: dict[str, Any] = {"benchmark": "worth", "command": command_line("bench_worth.py", argv),
                               "cases": {}, "findings": args.findings}
    start = time.perf_counter()
    only = set(filter(None, args.only.split(",")))
    for case in _cases(args):
        key = _key(case)
        if key in old and all(old[key].get(k) == v for k, v in case.items()):
            payload["cases"][key] = old[key]
            continue
        if only and key not in only:
            continue
        t0 = time.perf_counter()
        result = calibration_study(_truth(case["truth"]), _trainer(case), CalibrationDesign(
            n_train=case["n_train"], members=case["members"], n_gen=case["n_gen"], bins=BINS,
            repeats=case["repeats"], seed=args.seed), name=key, workers=args.workers)
        payload["cases"][key] = {**case, "by_bins": [result.summary(k) for k in BINS],
                                 "fractions": {k: v.tolist() for k, v in result.fractions.items()},
                                 "single": {k: v.tolist() for k, v in result.single.items()}}
        for s in payload["cases"][key]["by_bins"]:
            print(f"{key} K={s['bins']}: coverage {s['coverage']:.3f} ± {s['coverage_err']:.3f} "
                  f"(member spread {s['coverage_member_spread']:.3f}), G forecast {s['forecast_G']:.2f} "
                  f"measured {s['measured_G']:.2f} single {s['single_G']:.2f}", file=sys.stderr, flush=True)
        print(f"{key}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        payload["machine"] = {"info": machine_info(), "workers": args.workers,
                              "wall_s": round(time.perf_counter() - start, 1)}
        write_results(payload, markdown(payload), args.out_dir, "worth")
    payload["machine"] = {"info": machine_info(), "workers": args.workers,
                          "wall_s": round(time.perf_counter() - start, 1)}
    write_results(payload, markdown(payload), args.out_dir, "worth")
    print(f"wrote {path} and worth.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
