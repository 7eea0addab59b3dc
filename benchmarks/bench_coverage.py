"""Coverage benchmark: does the 68 % bootstrap-ensemble band contain the exact truth 68 % of the time?

For truths with exact CDF (the camel back, and the electron response of dataset A: reconstructed
pT' of detected electrons at pT = 4.25 GeV, eta = 2.5, from the reference simulator, scored with
the exact log-normal CDF), each repetition draws a training sample, trains M generators on
bootstrap resamples, generates n_gen events per member and histograms them in K equal-probability
bins of the truth. The coverage is the fraction of (repetition, bin) pairs whose true probability
1/K lies inside the band (also against a 10^6-event held-out truth sample). Three band
constructions from flashgen.studies.bands are measured (quantile = the default of histogram_band,
prediction, std) and compared with what an ideal unbiased generator would give for that M.
Generators: the empirical distribution (no model: the bootstrap itself), a Gaussian KDE with
cross-validated width, and flashgen's flow (camelback preset).

    python benchmarks/bench_coverage.py [--workers 2] [--flow-repeats 15] [--resume]

writes benchmarks/results/coverage.{json,md} (updated after every case; --resume reuses cases).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from flashgen.sources.toys import CamelBack
from flashgen.sources.electron import ElectronResponse
from flashgen.studies.coverage import CoverageDesign, coverage_study
from flashgen.studies.trainers import EmpiricalTrainer, FlashgenTrainer, KDETrainer
from flashgen.training import TrainSettings

RESULTS = Path(__file__).resolve().parent / "results"
TRUTHS = {"camelback": CamelBack(), "electron-A": ElectronResponse()}


def _cases(args: argparse.Namespace) -> list[dict]:
    cases = []
    for truth, column in (("camelback", "x"), ("electron-A", "pt")):
        common = {"truth": truth, "n_train": args.n_train, "bins": args.bins, "n_gen": args.n_gen}
        cases.append({**common, "generator": "empirical", "members": 20, "repeats": args.repeats})
        cases.append({**common, "generator": "empirical", "members": 50, "repeats": args.repeats})
        cases.append({**common, "generator": "kde", "members": 20, "repeats": args.repeats})
        if args.flow_repeats > 0:
            cases.append({**common, "generator": "flow", "members": args.flow_members,
                          "repeats": args.flow_repeats, "column": column, "steps": args.flow_steps})
    return cases


def _trainer(case: dict):  # type: ignore[no-untyped-def]
    if case["generator"] == "empirical":
        return EmpiricalTrainer()
    if case["generator"] == "kde":
        return KDETrainer()
    return FlashgenTrainer(case["generator"], (case["column"],), preset="camelback",
                           settings=TrainSettings(steps=case.get("steps")))


def _key(case: dict) -> str:
    return f"{case['truth']}/{case['generator']}/M{case['members']}"


def _fmt(entry: dict) -> str:
    return f"{entry['coverage']:.3f} ± {entry['coverage_err']:.3f}"


def markdown(payload: dict) -> str:
    lines = ["# Coverage of bootstrap-ensemble bands\n",
             f"`{payload['command']}` — {payload['machine']['wall_s'] / 60:.1f} min wall on "
             f"{payload['machine']['cores']} cores ({payload['machine']['workers']} workers). "
             f"{payload['machine']['note']}\n",
             "Coverage = fraction of (repetition, bin) pairs whose exact bin probability 1/K lies "
             "inside the 68 % band of the M bootstrap members (± standard error over repetitions). "
             "Target 0.68 ± 0.05. 'ideal' = what an unbiased generator with Gaussian bootstrap "
             "spread gives for that M and band. Bands: quantile = 16–84 % sample quantiles "
             "(histogram_band default), prediction = the same with Weibull positions q(M+1), "
             "std = mean ± 1 standard deviation.\n",
             "| truth | generator | n_train | M | n_gen | reps | quantile (ideal) | prediction (ideal) "
             "| std (ideal) | vs held-out (prediction) | bias/spread (noise floor) | spread ratio (ideal) "
             "| spread / sampled | train s |",
             "|" + "---|" * 14]
    for key, s in payload["cases"].items():
        lines.append(
            f"| {s['truth']} | {s['generator']} | {s['n_train']} | {s['members']} | {s['n_gen']:,} | "
            f"{s['repeats']} | {_fmt(s['quantile'])} ({s['quantile']['ideal']:.3f}) | "
            f"{_fmt(s['prediction'])} ({s['prediction']['ideal']:.3f}) | {_fmt(s['std'])} "
            f"({s['std']['ideal']:.3f}) | {s['prediction']['coverage_holdout']:.3f} | "
            f"{s['bias_over_spread']:.2f} ({s['bias_noise_floor']:.2f}) | {s['spread_ratio']:.2f} "
            f"({s['spread_ratio_ideal']:.2f}) | {s['sampled_spread_ratio']:.2f} | {s['train_seconds']:.1f} |")
    lines += ["", "bias/spread: RMS over bins of the ensemble-mean error averaged over repetitions, in "
              "units of the member spread (an unbiased generator gives only the noise floor). "
              "spread ratio: member spread over the RMS error of the ensemble mean. spread / sampled: "
              "member spread over the binomial spread of n_train sampled events.", ""]
    if payload.get("findings"):
        lines += ["## Findings", "", payload["findings"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=1000, help="training events (default 1000)")
    p.add_argument("--bins", type=int, default=20, help="equal-probability bins (default 20)")
    p.add_argument("--n-gen", type=int, default=100_000, help="generated events per member (default 1e5)")
    p.add_argument("--repeats", type=int, default=20, help="repetitions, cheap generators (default 20)")
    p.add_argument("--flow-repeats", type=int, default=15, help="repetitions with the flow (default 15; 0: skip)")
    p.add_argument("--flow-members", type=int, default=10, help="bootstrap members of the flow (default 10)")
    p.add_argument("--flow-steps", type=int, default=None, help="flow training steps (default: preset)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    p.add_argument("--seed", type=int, default=2002_06307, help="master seed")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--resume", action="store_true", help="reuse finished cases of an existing coverage.json")
    p.add_argument("--note", default="", help="free text stored with the results")
    p.add_argument("--findings", default="", help="text of the Findings section of the Markdown")
    p.add_argument("--render", action="store_true",
                   help="only rewrite coverage.md from coverage.json (with --findings if given)")
    args = p.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / "coverage.json"
    if args.render:
        payload = json.loads(path.read_text())
        if args.findings:
            payload["findings"] = args.findings
            path.write_text(json.dumps(payload, indent=1))
        (args.out_dir / "coverage.md").write_text(markdown(payload))
        return 0
    old = json.loads(path.read_text()).get("cases", {}) if args.resume and path.exists() else {}
    payload = {"benchmark": "coverage", "command": "python benchmarks/bench_coverage.py "
               + shlex.join(argv if argv is not None else sys.argv[1:]), "cases": {}, "findings": args.findings}
    start = time.perf_counter()
    for case in _cases(args):
        key = _key(case)
        config = {k: case[k] for k in ("truth", "generator", "n_train", "members", "n_gen", "bins", "repeats")}
        if key in old and all(old[key].get(k) == v for k, v in config.items() if k != "truth"):
            payload["cases"][key] = old[key]
            continue
        t0 = time.perf_counter()
        result = coverage_study(TRUTHS[case["truth"]], _trainer(case), CoverageDesign(
            n_train=case["n_train"], members=case["members"], n_gen=case["n_gen"], bins=case["bins"],
            repeats=case["repeats"], seed=args.seed), name=key, workers=args.workers)
        payload["cases"][key] = {**result.summary(), "truth": case["truth"], "generator": case["generator"],
                                 "fractions": result.fractions.tolist(), "holdout": result.holdout.tolist()}
        s = payload["cases"][key]
        print(f"{key}: coverage quantile {_fmt(s['quantile'])}, prediction {_fmt(s['prediction'])}, "
              f"std {_fmt(s['std'])} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        payload["machine"] = {"platform": platform.platform(), "cores": os.cpu_count(), "workers": args.workers,
                              "wall_s": round(time.perf_counter() - start, 1), "note": args.note}
        path.write_text(json.dumps(payload, indent=1))
    payload["machine"] = {"platform": platform.platform(), "cores": os.cpu_count(), "workers": args.workers,
                          "wall_s": round(time.perf_counter() - start, 1), "note": args.note}
    path.write_text(json.dumps(payload, indent=1))
    (args.out_dir / "coverage.md").write_text(markdown(payload))
    print(f"wrote {path} and coverage.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
