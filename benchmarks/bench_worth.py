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

The sparse regime (``--sparse``): where users state the worth of a sample, on samples the
estimator was not tuned on. The camel back, the preset flow ensemble of M = 10 members, n_train =
100, 1,000, 10,000 (``--n-train``), K = 10, 50, 200, 1,000 equal-probability bins of the exact
truth (every K from each repetition's same generated events), another master seed than the tuned
runs, no single model. Per case also the sparsity: expected training events per bin n_train / K
against the members, and what ``flashgen worth`` states there (G or the reason it withholds it).
Its results go to the key ``sparse`` of worth.json and the section "Sparse regime" of worth.md;
the member histograms are stored as event counts at the finest K (the coarser bins are unions of
its bins), so ``--render --rescore`` recomputes every summary without training.

    python benchmarks/bench_worth.py [--workers 2] [--repeats 20] [--resume]
    python benchmarks/bench_worth.py --sparse --workers 1 [--repeats 18] [--resume]

writes benchmarks/results/worth.{json,md} (updated after every case; --resume reuses cases; each
mode keeps the other's results).
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
SPARSE_BINS = (10, 50, 200, 1000)
SPARSE_N_TRAIN = (100, 1000, 10_000)
SPARSE_SEED = 27_2026
"""Master seed of the sparse regime: not the tuned runs' (2008_06545)."""
SPARSE_REPEATS = 18


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


def _sparse_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"truth": "camelback", "n_train": n, "columns": "x", "generator": "flow", "preset": "camelback",
             "members": args.members, "n_gen": args.n_gen, "repeats": args.repeats or SPARSE_REPEATS,
             "bins": list(SPARSE_BINS)} for n in args.n_train]


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


def _counts(fractions: np.ndarray, n_gen: int) -> list[list[str]]:
    """``(repeats, members, K)`` fractions of ``n_gen`` events as event counts, one line of
    space-separated integers per (repetition, member): the compact record of the sparse study."""
    counts = np.rint(np.asarray(fractions) * n_gen).astype(np.int64)
    return [[" ".join(map(str, row)) for row in rep] for rep in counts]


def _fractions(counts: list[list[str]], n_gen: int) -> np.ndarray:
    """The inverse of :func:`_counts`: fractions of shape ``(repeats, members, K)``."""
    return np.asarray([[np.array(row.split(), dtype=np.float64) for row in rep] for rep in counts]) / n_gen


def _all_bins(case: dict[str, Any]) -> dict[int, np.ndarray]:
    """Fractions at every K of a sparse case from its counts at the finest K: each coarser
    equal-probability bin is the union of K_max / K consecutive finest bins (K divides K_max)."""
    finest = max(case["bins"])
    fine = _fractions(case["counts"][str(finest)], 1)  # event counts, summed exactly
    return {k: fine.reshape(*fine.shape[:2], k, finest // k).sum(axis=-1) / case["n_gen"] for k in case["bins"]}


def _sparse_summary(result: Any, k: int) -> dict[str, Any]:
    """:meth:`CalibrationResult.summary` at ``k`` bins, with the sparsity (expected training events
    per bin, n_train / K, against the members), the share of the measured squared error that every
    repetition shares (a bias of the model) and what ``flashgen worth`` states there: the share
    of repetitions whose G it states (:func:`flashgen.stats.histogram_worth.worth_from_fractions`
    with the training size; the bins are those of the truth's probability integral transform, u in
    [0, 1]) and its reason where it withholds G."""
    from flashgen.stats.histogram_worth import worth_from_fractions

    summary = result.summary(k)
    edges = np.linspace(0.0, 1.0, k + 1)
    groups = np.arange(result.members) // result.copies
    reasons = [worth_from_fractions(f, edges, groups=groups, train_events=result.n_train, observable="u").withheld
               for f in result.fractions[k]]
    withheld = [r for r in reasons if r]
    # the part of the measured squared error that is the same in every repetition (the members'
    # shared bias, which no ensemble sees): |mean p_hat - p|^2 less its sampling part
    pooled = result.fractions[k].mean(axis=1)
    total = np.mean(np.sum((pooled - 1.0 / k) ** 2, axis=1))
    shared = np.sum((pooled.mean(axis=0) - 1.0 / k) ** 2) - np.sum(pooled.var(axis=0, ddof=1)) / len(pooled)
    return {**summary, "training_per_bin": result.n_train / k, "shared_error_share": float(shared / total),
            "stated": 1.0 - len(withheld) / len(reasons), "withheld": withheld[0] if withheld else None}


def _sparse_result(case: dict[str, Any], fractions: dict[int, np.ndarray], meta: dict[str, Any]) -> Any:
    from flashgen.studies.calibration import CalibrationResult

    return CalibrationResult(_key(case), fractions, {}, case["n_train"], case["n_gen"], 2, meta["train_seconds"],
                             {"wall_s": meta["wall_s"], "workers": meta["workers"]})


def _mark(s: dict[str, Any]) -> tuple[str, str]:
    ok_cov = "" if abs(s["coverage"] - 0.68) <= 0.05 else " ✗"
    ok_g = "" if abs(s["forecast_over_measured"] - 1) <= 0.25 else " ✗"
    return ok_cov, ok_g


def _per_bin(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def sparse_markdown(sparse: dict[str, Any]) -> list[str]:
    """The section "Sparse regime" of worth.md."""
    m = sparse["machine"]
    cases = list(sparse["cases"].values())
    sizes = ", ".join(f"n_train = {c['n_train']:,}: {c['repeats']} repetitions" for c in cases)
    lines = ["## Sparse regime\n",
             f"`{sparse['command']}` — {m['wall_s'] / 60:.1f} min wall, {m['cpu_s'] / 60:.1f} min CPU, "
             f"{m['workers']} worker{'' if m['workers'] == 1 else 's (CPU: this process only)'} beside the main job. "
             f"{describe_machine(m['info'])}\n",
             f"Where users state the worth, on samples it was not tuned on: the camel back, the preset "
             f"flow ensemble of M = {cases[0]['members'] if cases else 10} members (pairs per bootstrap resample, "
             f"as `flashgen train --ensemble`), {cases[0]['n_gen'] if cases else 0:,} generated events per "
             f"member, K = {', '.join(f'{k:,}' for k in sparse['bins'])} equal-probability bins of the exact "
             f"truth histogrammed from the same generated events of each repetition, master seed "
             f"{sparse['seed']} (the tuned runs above: 2008_06545); {sizes}; each training with one torch "
             "thread; no single model (it would cost one training more per repetition). Columns as above; "
             "'training / bin': expected training events per bin, n_train / K (against the M members); "
             "forecast / measured with the two errors added in quadrature; 'shared error': the share of the "
             "measured ⟨Σ (p̂ − 1/K)²⟩ that is the same in every repetition, |⟨p̂⟩ − 1/K|² less its sampling "
             "part (a bias of the model, which no ensemble sees); 'G stated': share of the repetitions in "
             "which `flashgen worth` states G at that resolution (— where it withholds it: the reason below "
             "the table).\n",
             "| n_train | K | training / bin | reps | coverage | member spread | forecast G | measured G | "
             "forecast / measured | optimisation share | shared error | G stated |",
             "|" + "---|" * 12]
    reasons = {}
    for case in cases:
        for s in case["by_bins"]:
            ok_cov, ok_g = _mark(s)
            stated = s.get("stated")
            ratio_err = s["forecast_over_measured"] * np.hypot(s["forecast_G_err"] / s["forecast_G"],
                                                                s["measured_G_err"] / s["measured_G"])
            lines.append(
                f"| {s['n_train']:,} | {s['bins']:,} | {_per_bin(s['training_per_bin'])} | {s['repeats']} | "
                f"{s['coverage']:.3f} ± {s['coverage_err']:.3f}{ok_cov} | {s['coverage_member_spread']:.3f} | "
                f"{s['forecast_G']:.3g} ± {s['forecast_G_err']:.2g} | {s['measured_G']:.3g} ± "
                f"{s['measured_G_err']:.2g} | {s['forecast_over_measured']:.2f} ± {ratio_err:.2f}{ok_g} | "
                f"{s['optimisation_share']:.2f} | {s['shared_error_share']:.2f} | "
                + ("—" if stated == 0 else "?" if stated is None else f"{stated:.0%}") + " |")
            if s.get("withheld"):
                reasons.setdefault(s["bins"], s["withheld"])
    lines += ["", "✗: outside the target (coverage 0.68 ± 0.05; forecast/measured 1 ± 0.25)."]
    if reasons:
        k = min(reasons)
        lines += ["", f"Where G is withheld, `flashgen worth` says why, at K = {k:,} for instance: "
                  f"\"G not stated at … : {reasons[k]}\"."]
    lines.append("")
    if sparse.get("findings"):
        lines += ["### Findings", "", sparse["findings"], ""]
    return lines


def markdown(payload: dict[str, Any]) -> str:
    """worth.md: the tuned runs' table and findings, then the section "Sparse regime"."""
    lines = ["# Worth of a generated histogram: calibration where the truth is exact\n"]
    if payload.get("cases"):
        lines += _tuned_markdown(payload)
    if payload.get("sparse", {}).get("cases"):
        lines += sparse_markdown(payload["sparse"])
    return "\n".join(lines)


def _tuned_markdown(payload: dict[str, Any]) -> list[str]:
    m = payload["machine"]
    lines = [f"`{payload['command']}` — {m['wall_s'] / 60:.1f} min wall, {m['workers']} workers. "
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
            ok_cov, ok_g = _mark(s)
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
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=10, help="ensemble members, in pairs (default 10)")
    p.add_argument("--n-gen", type=int, default=10_000, help="generated events per member (default 1e4)")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"independent training samples (default 20; --sparse: {SPARSE_REPEATS})")
    p.add_argument("--only", default="", help="comma-separated case keys to run (default: all)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"master seed (default 2008_06545; --sparse: {SPARSE_SEED})")
    p.add_argument("--sparse", action="store_true",
                   help="the sparse regime: camel back, flow ensemble, K = 10, 50, 200, 1,000 (key 'sparse')")
    p.add_argument("--n-train", type=lambda t: tuple(int(x) for x in t.split(",")), default=SPARSE_N_TRAIN,
                   help="with --sparse: training sizes, comma-separated (default 100,1000,10000)")
    p.add_argument("--out-dir", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--resume", action="store_true", help="reuse finished cases of an existing worth.json")
    p.add_argument("--findings", default="", help="text of the Findings section (with --sparse: of its own)")
    p.add_argument("--render", action="store_true", help="only rewrite worth.md from worth.json")
    p.add_argument("--rescore", action="store_true",
                   help="with --render: recompute every summary from the stored member histograms")
    args = p.parse_args(argv)
    path = args.out_dir / "worth.json"
    existing: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if args.render:
        _render(args, existing)
        return 0
    if args.sparse:
        _run_sparse(args, argv, existing)
        return 0
    from flashgen.speed import machine_info
    from flashgen.studies.calibration import CalibrationDesign, calibration_study

    args.repeats = args.repeats or 20
    seed = 2008_06545 if args.seed is None else args.seed
    old = existing.get("cases", {}) if args.resume else {}
    payload: dict[str, Any] = {"benchmark": "worth", "command": command_line("bench_worth.py", argv),
                               "cases": {}, "findings": args.findings,
                               **({"sparse": existing["sparse"]} if "sparse" in existing else {})}
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
            repeats=case["repeats"], seed=seed), name=key, workers=args.workers)
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


def _render(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    """Rewrite worth.md (and with --rescore every summary of worth.json) from worth.json."""
    if not payload:
        raise SystemExit(f"no {args.out_dir / 'worth.json'} to render")
    sparse = payload.get("sparse")
    if args.sparse and sparse is not None:
        sparse["findings"] = args.findings or sparse.get("findings", "")
    elif not args.sparse:
        payload["findings"] = args.findings or payload.get("findings", "")
    if args.rescore:
        from flashgen.studies.calibration import CalibrationResult

        for case in payload.get("cases", {}).values():
            result = CalibrationResult(_key(case), {k: np.asarray(case["fractions"][str(k)]) for k in BINS},
                                       {k: np.asarray(case["single"][str(k)]) for k in BINS},
                                       case["n_train"], case["n_gen"], 2,
                                       case["by_bins"][0]["train_seconds"],
                                       {"wall_s": case["by_bins"][0]["wall_s"],
                                        "workers": case["by_bins"][0]["workers"]})
            case["by_bins"] = [result.summary(k) for k in BINS]
        for case in (sparse or {}).get("cases", {}).values():
            result = _sparse_result(case, _all_bins(case), case["meta"])
            case["by_bins"] = [_sparse_summary(result, k) for k in case["bins"]]
    write_results(payload, markdown(payload), args.out_dir, "worth")


def _run_sparse(args: argparse.Namespace, argv: list[str] | None, payload: dict[str, Any]) -> None:
    """The sparse regime: its cases into ``payload['sparse']``, the rest of worth.json kept."""
    from flashgen.speed import machine_info
    from flashgen.studies.calibration import CalibrationDesign, calibration_study

    seed = SPARSE_SEED if args.seed is None else args.seed
    old = payload.get("sparse", {}).get("cases", {}) if args.resume else {}
    sparse: dict[str, Any] = {"command": command_line("bench_worth.py", argv), "seed": seed,
                              "bins": list(SPARSE_BINS), "cases": {}, "findings": args.findings}
    payload = {"benchmark": "worth", **payload, "sparse": sparse}
    start, cpu = time.perf_counter(), time.process_time()
    only = set(filter(None, args.only.split(",")))

    def record() -> None:
        sparse["machine"] = {"info": machine_info(), "workers": args.workers,
                             "wall_s": round(time.perf_counter() - start, 1),
                             "cpu_s": round(time.process_time() - cpu, 1)}
        write_results(payload, markdown(payload), args.out_dir, "worth")

    for case in _sparse_cases(args):
        case["seed"] = seed
        key = _key(case)
        if key in old and all(old[key].get(k) == v for k, v in case.items()):
            sparse["cases"][key] = old[key]
            continue
        if only and key not in only:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        result = calibration_study(_truth(case["truth"]), _trainer(case), CalibrationDesign(
            n_train=case["n_train"], members=case["members"], n_gen=case["n_gen"], bins=SPARSE_BINS,
            repeats=case["repeats"], seed=seed, single=False), name=key, workers=args.workers)
        meta = {"train_seconds": result.seconds, "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - c0, "workers": args.workers}
        finest = max(SPARSE_BINS)
        stored = {**case, "meta": meta,
                  "counts": {str(finest): _counts(result.fractions[finest], case["n_gen"])}}
        # the summaries from the stored counts, as --render --rescore recomputes them
        result = _sparse_result(case, _all_bins(stored), meta)
        sparse["cases"][key] = {**stored, "by_bins": [_sparse_summary(result, k) for k in SPARSE_BINS]}
        for s in sparse["cases"][key]["by_bins"]:
            print(f"{key} K={s['bins']}: coverage {s['coverage']:.3f} ± {s['coverage_err']:.3f} "
                  f"(member spread {s['coverage_member_spread']:.3f}), G forecast {s['forecast_G']:.3g} "
                  f"measured {s['measured_G']:.3g}", file=sys.stderr, flush=True)
        print(f"{key}: {meta['wall_s']:.0f} s wall, {meta['cpu_s']:.0f} s CPU", file=sys.stderr, flush=True)
        record()
    record()
    print(f"wrote {args.out_dir / 'worth.json'} (key 'sparse') and worth.md")


if __name__ == "__main__":
    sys.exit(main())
