"""Training without a preset (the automatic per-column plan) against the hand-written presets.

Issue 26: a user's own table, with no preset, should train as well as a table with one. Three
parts, each selectable with ``--parts``:

- ``zmumu``: on a main job's training split (``--run DIR``, a finished ``flashgen run`` folder
  with ``reference-train.parquet`` and ``reference-heldout.parquet``), one flow with the
  ``zmumu`` preset and one without preset on the preset's 18 feature columns (the automatic
  plan of :mod:`flashgen.transforms.auto`, the flow's and the loop's defaults), at the same
  steps and seed; each generates ``--gen-events`` events that are validated against the
  held-out split (:func:`flashgen.validation.validate`): classifier AUC, FPD and KPD beside
  their truth-vs-truth floors, failing checks; beside them the events the generator redrew and
  those left outside the muon acceptance or beyond the training range. The variant
  ``auto-net`` (``--variants``) also trains the automatic plan with the preset's network and
  snapshot selection, which separates the plan from the other settings.
- ``electron``: dataset B (``--electron-rows`` rows, :func:`flashgen.sources.electron.simulate_electrons`);
  the ``electron`` preset against no preset with the same conditions (``gen_pt, gen_eta,
  gen_phi``), features (``pt, eta, phi``) and steps; at bench_electron's fixed inputs, the KS
  distance of the generated pT' to the exact log-normal CDF and the detected fraction against
  the exact efficiency. Without a preset no column is an efficiency column: training on the
  whole table is refused (the undetected rows' NaN), so the no-preset model is trained on the
  detected rows, as the refusal advises, and generates a detected electron for every input.
- ``mixed``: :func:`flashgen.sources.toys.simulate_toy` ``("mixed", --mixed-events, seed)``,
  nine columns of different kinds with exact marginal truth (:class:`flashgen.sources.toys.MixedTable`);
  a flow with no preset and no option; per column: generated values outside the physical
  support, point-mass fractions against the truth, the KS distance to the exact CDF.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_own_sample.py --run /tmp/demo0/flashgen-run
        [--parts zmumu,electron,mixed] [--seeds 0,1] [--variants preset,auto,auto-net]
        [--mixed-seeds 0,1,2] [--steps 3000] [--out benchmarks/results]

(the published results: these options, ~27 min on 2 shared cores with one torch thread: zmumu
18 min, electron 5, mixed 5), then ``--render --reading FILE`` to put a reading on top.

Writes ``results/own-sample.{json,md}``; parts not run are kept from an existing
``own-sample.json`` in ``--out`` (each part records its own command, date and revision).
The issue's targets: without a preset, Z→μμ within 0.02 of the preset's classifier AUC; on the
mixed table no value outside a column's support, every point mass within 0.01 and every
column within KS 0.03.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from common import command_line, describe_machine, mll_peak_width, write_results

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "own-sample"
PARTS = ("zmumu", "electron", "mixed")
VARIANTS = ("preset", "auto", "auto-net")
"""``preset``: the zmumu preset; ``auto``: no preset (automatic plan, default network and
selection); ``auto-net``: the automatic plan with the preset's network and snapshot selection."""
AUC_TARGET = 0.02
MIXED_POINT_MASS_TOL = 0.01
MIXED_KS_MAX = 0.03
ELECTRON_FEATURES = ["pt", "eta", "phi"]
ELECTRON_CONDITIONS = ["gen_pt", "gen_eta", "gen_phi"]


def revision() -> dict[str, Any]:
    """The git revision of this checkout, whether its ``src/`` differs from it, and where
    flashgen was imported from (``from_checkout``: this checkout's ``src/``; otherwise, e.g. a
    ``git archive`` of one commit on ``PYTHONPATH``, the record says so and the commit of that
    copy is added by hand as ``imported_commit``)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()

    import flashgen

    package = Path(flashgen.__file__).resolve().parent
    return {"commit": git("rev-parse", "HEAD"), "src_modified": git("status", "--short", "--", "src").splitlines(),
            "flashgen_imported_from": str(package), "from_checkout": package == root / "src" / "flashgen"}


def ks_exact(sample: np.ndarray, cdf: Any) -> float:
    """Kolmogorov-Smirnov distance of ``sample`` to an exact CDF, also where the CDF jumps
    (integers, point masses): the largest difference over both one-sided limits at every
    sample value."""
    xs = np.sort(np.asarray(sample, dtype=np.float64))
    u = np.unique(xs)
    right = np.abs(np.searchsorted(xs, u, "right") / len(xs) - cdf(u))
    left = np.abs(np.searchsorted(xs, u, "left") / len(xs) - cdf(np.nextafter(u, -np.inf)))
    return float(max(right.max(), left.max()))


def _generate(model: Any, n: int, seed: int) -> tuple[Any, int | None, float]:
    """``n`` events of ``model`` as ``flashgen generate`` writes them (float32 Parquet), the
    number of events redrawn and the seconds taken."""
    from flashgen.data import read_table
    from flashgen.generation import Sampling, generate

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        res = generate(model, Path(tmp) / "g.parquet", n, sampling=Sampling(seed=seed), quiet=True)
        seconds = time.perf_counter() - start
        return read_table(Path(tmp) / "g.parquet"), res.redrawn, seconds


def _plan(model: Any) -> str | None:
    from flashgen.transforms import Plan

    return Plan.from_dict(model.info["plan"]).describe() if "plan" in model.info else None


# ------------------------------------------------------------------------------------- Z→μμ


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """Classifier AUC, FPD and KPD with their floors, check counts, failing checks and the three
    largest KS statistics (features and observables) of a validation result."""
    from flashgen.validation.summary import distances

    clf = metrics.get("classifier") or {}
    ks = sorted(((k, v["ks_stat"]) for k, v in metrics["metrics"].items()
                 if k.split("/")[0] in ("feature", "observable") and v.get("ks_stat") is not None), key=lambda kv: -kv[1])
    return {"auc": clf.get("auc"), "auc_err": clf.get("auc_err"), "auc_spread": clf.get("auc_spread"),
            "auc_runs": clf.get("auc_runs"), **distances(metrics), "counts": metrics["summary"]["counts"],
            "n_checks": metrics["summary"]["n_checks"], "failed": metrics["summary"]["failed"],
            "largest_ks": [{"name": k, "ks": v} for k, v in ks[:3]]}


def zmumu_variant(variant: str, table: Any, held: Any, steps: int, seed: int, gen_events: int) -> dict[str, Any]:
    """Train one variant on ``table``, generate and validate against ``held``."""
    from flashgen.models.flashmodel import support_bounds
    from flashgen.sources.registry import get_preset
    from flashgen.sources.zmumu.profile import ACCEPTANCE
    from flashgen.training import Columns, TrainSettings, train
    from flashgen.validation import ValidationSettings, validate
    from flashgen.validation.summary import worst_feature

    preset = get_preset("zmumu")
    feats = list(preset.features)
    start = time.perf_counter()
    if variant == "preset":
        model = train(table, "flow", preset="zmumu", settings=TrainSettings(steps=steps, seed=seed, device="cpu"))
    elif variant == "auto":
        model = train(table, "flow", columns=Columns(features=feats),
                      settings=TrainSettings(steps=steps, seed=seed, device="cpu"))
    else:  # the plan alone differs from the preset: its network, batch and selection
        model = train(table, "flow", columns=Columns(features=feats), config=preset.hparams["flow"],
                      settings=TrainSettings(steps=steps, seed=seed, device="cpu",
                                             batch_size=preset.train["flow"]["batch_size"],
                                             selection=preset.selection))
    train_seconds = time.perf_counter() - start
    generated, redrawn, gen_seconds = _generate(model, gen_events, seed + 1)
    g = {f: np.asarray(generated[f], dtype=np.float64) for f in feats}
    trained = support_bounds(model.info["support"], margin=0.0)

    def beyond(bounds: dict[str, tuple[float, float]]) -> int:
        out = np.zeros(len(generated), dtype=bool)
        for f, (lo, hi) in bounds.items():
            out |= (g[f] < lo) | (g[f] > hi)
        return int(np.count_nonzero(out))

    start = time.perf_counter()
    metrics = validate(held, generated, None, ValidationSettings(max_events=100_000, seed=seed), quiet=True)
    r = model.info["result"]
    out = {
        "variant": variant, "seed": seed, "preset": model.info["preset"], "hparams": model.network.hparams,
        "parameters": model.n_parameters(), "selection": model.info["selection"],
        "batch_size": model.info["config"]["batch_size"], "steps": r["steps"], "best_step": r["best_step"],
        "train_events": model.info["train_events"], "val_events": model.info["val_events"],
        "train_seconds": train_seconds, "generated_events": len(generated), "generation_seconds": gen_seconds,
        "redrawn": redrawn, "outside_acceptance": int(np.count_nonzero(~ACCEPTANCE.inside(g))),
        "beyond_support": beyond(model.support), "beyond_training_range": beyond(trained),
        "acceptance": ACCEPTANCE.description,
        **_headline(metrics), "worst_feature": worst_feature(metrics), "mll": mll_peak_width(generated),
        "plan": _plan(model),
    }
    inside = ACCEPTANCE.inside(g)
    if variant != "preset" and not inside.all():
        # what the preset's redraw would leave: the same events without those outside the acceptance
        kept = generated.take(np.flatnonzero(inside))
        cut = validate(held, kept, None, ValidationSettings(max_events=100_000, seed=seed), quiet=True)
        out["inside_acceptance_only"] = {"events": len(kept), **_headline(cut), "mll": mll_peak_width(kept)}
    out["validate_seconds"] = time.perf_counter() - start
    print(f"zmumu {variant} seed {seed}: AUC {out['auc']:.3f} ± {out['auc_err']:.3f}, FPD {out['fpd']:.4f} "
          f"(floor {out['fpd_floor']:.4f}), {out['counts']['fail']} of {out['n_checks']} checks fail, "
          f"redrawn {redrawn}, outside acceptance {out['outside_acceptance']}, trained in {train_seconds:.0f} s",
          flush=True)
    return out


def zmumu_part(run: Path, steps: int, seeds: list[int], gen_events: int, variants: list[str]) -> dict[str, Any]:
    from flashgen.data import read_table

    table = read_table(run / "reference-train.parquet")
    held = read_table(run / "reference-heldout.parquet")
    rows = [zmumu_variant(v, table, held, steps, seed, gen_events) for seed in seeds for v in variants]
    by = {(r["variant"], r["seed"]): r for r in rows}
    diffs = {}
    for v in variants:
        if v == "preset":
            continue
        d = [by[(v, s)]["auc"] - by[("preset", s)]["auc"] for s in seeds]
        e = [math.hypot(by[(v, s)]["auc_err"], by[("preset", s)]["auc_err"]) for s in seeds]
        diffs[v] = {"per_seed": d, "per_seed_err": e, "mean": float(np.mean(d)),
                    "mean_err": float(np.sqrt(np.sum(np.square(e)))) / len(e),
                    "within_target": bool(np.mean(d) <= AUC_TARGET)}
    return {"run": str(run), "train_table_events": len(table), "heldout_events": len(held), "steps": steps,
            "seeds": seeds, "gen_events": gen_events, "variants": variants,
            "reference_mll": mll_peak_width(held), "rows": rows, "auc_minus_preset": diffs}


# ------------------------------------------------------------------------------------- electron


def electron_points(model: Any, points: list[tuple[float, float]], per_point: int, seed: int) -> list[dict[str, Any]]:
    """At each fixed ``(pT, eta)``: KS of pT' to the exact CDF, detected fraction against the
    exact efficiency, and how far eta' and phi' are from the true eta and phi (exactly 0)."""
    from scipy import stats

    from flashgen.data import EventTable
    from flashgen.generation import sample
    from flashgen.sources.electron import efficiency, response_cdf

    rows = []
    for k, (pt, eta) in enumerate(points):
        cond = EventTable({"gen_pt": np.full(per_point, pt), "gen_eta": np.full(per_point, eta),
                           "gen_phi": np.full(per_point, 1.5)})
        g = sample(model, 0, seed=seed + k, conditions=cond)
        det = np.asarray(g["detected"]) == 1 if "detected" in g.names else np.ones(per_point, dtype=bool)
        # a generated detected electron without a pT (the filled value 0), or the reverse
        all_pt = np.asarray(g["pt"], dtype=np.float64)
        inconsistent = float(np.mean(det != (np.isfinite(all_pt) & (all_pt != 0.0))))
        exact = float(efficiency(pt, eta))
        gpt = np.asarray(g["pt"][det], dtype=np.float64)
        ks = float(stats.kstest(gpt, lambda v, pt=pt, eta=eta: response_cdf(v, pt, eta)).statistic)
        deta = np.asarray(g["eta"][det], dtype=np.float64) - eta
        dphi = np.angle(np.exp(1j * (np.asarray(g["phi"][det], dtype=np.float64) - 1.5)))
        rows.append({"pt": pt, "eta": eta, "ks": ks, "efficiency": float(det.mean()), "efficiency_exact": exact,
                     "efficiency_error": float(np.sqrt(exact * (1 - exact) / per_point)),
                     "inconsistent": inconsistent, "pt_min": float(gpt.min()), "eta_shift_rms": float(np.sqrt(np.mean(deta**2))),
                     "phi_shift_rms": float(np.sqrt(np.mean(dphi**2)))})
    return rows


def electron_part(rows: int, steps: int, seed: int) -> dict[str, Any]:
    from bench_electron import EXTRA, PER_POINT, POINTS

    from flashgen.data import EventTable
    from flashgen.errors import FlashgenError
    from flashgen.sources.electron import simulate_electrons
    from flashgen.training import Columns, TrainSettings, train

    data = simulate_electrons(rows, seed=seed + 11)
    detected = np.asarray(data["detected"]) == 1
    settings = TrainSettings(steps=steps, seed=seed, device="cpu")
    refusals = {}
    for label, feats in (("whole table", ELECTRON_FEATURES), ("whole table, detected as a feature",
                                                               ["detected", *ELECTRON_FEATURES])):
        try:
            train(data, "flow", columns=Columns(features=feats, conditions=ELECTRON_CONDITIONS), settings=settings)
            refusals[label] = None
        except FlashgenError as err:
            refusals[label] = str(err)
    # what a user can do instead: fill the undetected rows with 0 and learn `detected` as a feature
    filled = EventTable({**{c: data[c] for c in data.names},
                         **{c: np.where(detected, np.asarray(data[c], dtype=np.float64), 0.0) for c in ELECTRON_FEATURES}})
    models = {}
    for variant in ("preset", "auto", "auto-filled"):
        start = time.perf_counter()
        if variant == "preset":
            model = train(data, "flow", preset="electron", settings=settings)
            trained_rows = rows
        elif variant == "auto":
            part = data.take(np.flatnonzero(detected))
            model = train(part, "flow", columns=Columns(features=ELECTRON_FEATURES, conditions=ELECTRON_CONDITIONS),
                          settings=settings)
            trained_rows = len(part)
        else:
            model = train(filled, "flow", columns=Columns(features=["detected", *ELECTRON_FEATURES],
                                                          conditions=ELECTRON_CONDITIONS), settings=settings)
            trained_rows = rows
        seconds = time.perf_counter() - start
        points = electron_points(model, POINTS, PER_POINT, seed + 100)
        extra = electron_points(model, EXTRA, PER_POINT, seed + 200)
        r = model.info["result"]
        models[variant] = {
            "rows": trained_rows, "train_seconds": seconds, "parameters": model.n_parameters(),
            "hparams": model.network.hparams, "selection": model.info["selection"], "steps": r["steps"],
            "best_step": r["best_step"], "efficiency_classifier": model.efficiency is not None,
            "points": points, "extra_points": extra, "max_ks": max(p["ks"] for p in points),
            "max_efficiency_difference": max(abs(p["efficiency"] - p["efficiency_exact"]) for p in points),
            "plan": _plan(model)}
        print(f"electron {variant}: largest KS {models[variant]['max_ks']:.4f}, largest efficiency difference "
              f"{models[variant]['max_efficiency_difference']:.4f}, trained in {seconds:.0f} s", flush=True)
    return {"rows": rows, "detected_rows": int(detected.sum()), "steps": steps, "seed": seed,
            "per_point": PER_POINT, "refusals": refusals, "models": models}


# ------------------------------------------------------------------------------------- mixed


def mixed_part(events: int, seeds: list[int], gen_events: int, steps: int | None = None) -> dict[str, Any]:
    from flashgen.sources.toys import MixedTable, simulate_toy
    from flashgen.training import TrainSettings, train

    truth = MixedTable()
    runs = []
    for seed in seeds:
        table = simulate_toy("mixed", events, seed)
        start = time.perf_counter()
        model = train(table, "flow", settings=TrainSettings(steps=steps, seed=seed))
        seconds = time.perf_counter() - start
        generated, redrawn, _ = _generate(model, gen_events, seed + 7)
        columns = {}
        for c in truth.columns:
            x = np.asarray(generated[c], dtype=np.float64)
            t = np.asarray(table[c], dtype=np.float64)
            lo, hi = truth.support[c]
            outside = int(np.count_nonzero((x < lo) | (x > hi)))
            if c in truth.integer:
                outside += int(np.count_nonzero(x != np.floor(x)))
            def fractions(values: Any) -> dict[str, dict[str, float]]:
                return {str(v): {"truth": f, "generated": float(np.mean(x == v)), "training": float(np.mean(t == v))}
                        for v, f in values}

            # point masses as the toy defines them (values holding a finite fraction of a continuous
            # column: iso = 0, weight = 1); the 0/1 flag's fractions are reported beside, judged by KS
            masses = fractions(truth.point_masses().get(c, {}).items())
            columns[c] = {
                "outside_support": outside, "beyond_training_range": int(np.count_nonzero((x < t.min()) | (x > t.max()))),
                "point_masses": masses,
                "point_mass_error": max((abs(m["generated"] - m["truth"]) for m in masses.values()), default=0.0),
                "flag_fractions": fractions(((0.0, 1 - truth.tight_p), (1.0, truth.tight_p))) if c == "tight" else {},
                "ks": ks_exact(x, lambda u, c=c: truth.cdf(c, u)),
                "ks_training": ks_exact(t, lambda u, c=c: truth.cdf(c, u)),
                "dtype": str(generated[c].dtype)}
        ok = all(v["outside_support"] == 0 and v["point_mass_error"] <= MIXED_POINT_MASS_TOL and v["ks"] <= MIXED_KS_MAX
                 for v in columns.values())
        r = model.info["result"]
        runs.append({"seed": seed, "train_seconds": seconds, "steps": r["steps"], "best_step": r["best_step"],
                     "train_events": model.info["train_events"], "val_events": model.info["val_events"],
                     "redrawn": redrawn, "columns": columns, "targets_met": ok, "plan": _plan(model)})
        print(f"mixed seed {seed}: targets met {ok}; largest KS "
              f"{max(v['ks'] for v in columns.values()):.4f}, trained in {seconds:.0f} s", flush=True)
    return {"events": events, "gen_events": gen_events, "seeds": seeds, "support": truth.support, "runs": runs}


# ------------------------------------------------------------------------------------- report


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _header(part: dict[str, Any]) -> list[str]:
    rev = part["revision"]
    modified = (f" with uncommitted changes to {', '.join(m.split()[-1] for m in rev['src_modified'])}"
                if rev["src_modified"] else "")
    if rev.get("from_checkout", True):
        code = f"Revision {rev['commit'][:10]}{modified}."
    else:
        copy = f" (`git archive` of commit {rev['imported_commit'][:10]})" if rev.get("imported_commit") else ""
        code = (f"flashgen imported from `{rev['flashgen_imported_from']}`{copy}, not from the checkout "
                f"(then at {rev['commit'][:10]}{modified}).")
    return [f"Command: `{part['command']}`; {part['wall_seconds'] / 60:.1f} min. {code} "
            + describe_machine(part["machine"]), ""]


def zmumu_markdown(z: dict[str, Any]) -> list[str]:
    ref = z["reference_mll"]
    lines = ["## Z→μμ: no preset against the `zmumu` preset", "", *_header(z),
             f"Training table `{z['run']}/reference-train.parquet` ({z['train_table_events']:,} events, of which "
             f"each training holds out 20 % for snapshot selection), {z['steps']:,} steps, seeds "
             f"{', '.join(map(str, z['seeds']))}; each model generates {z['gen_events']:,} events (float32 Parquet, "
             f"as `flashgen generate`), validated against the {z['heldout_events']:,} held-out events "
             "(`flashgen.validation.validate`, at most 100,000 events, 10 truth-vs-truth repeats, 5 classifier "
             "trainings). Variants: **preset** = `--preset zmumu` (8 spline transforms, hand-written preprocessing, "
             "selection by the KS of m(μμ), φ_miss, iso1, muon acceptance redrawn at generation); **auto** = no "
             "preset, `Columns(features=<the preset's 18>)`: the automatic plan, the flow's default network (6 "
             "transforms) and selection (KS sum of the 18 features); **auto-net** = the automatic plan with the "
             "preset's network, batch and selection. Held-out m(μμ): peak "
             f"{ref['peak']:.2f} GeV, width {ref['width']:.2f} GeV.", "",
             "| variant | seed | parameters | best step | train [s] | AUC | FPD (floor) | FPD/floor | KPD (floor) "
             "| failing checks | redrawn | outside acceptance | beyond training range | m(μμ) peak / width [GeV] |",
             "|---|---|---:|---:|---:|---|---|---:|---|---|---:|---:|---:|---|"]
    for r in z["rows"]:
        ratio = r["fpd"] / r["fpd_floor"] if r.get("fpd") and r.get("fpd_floor") else None
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['parameters']:,} | {r['best_step']:,} | {r['train_seconds']:.0f} | "
            f"{r['auc']:.3f} ± {r['auc_err']:.3f} | {_f(r['fpd'], '.4f')} ({_f(r['fpd_floor'], '.4f')} ± "
            f"{_f(r['fpd_floor_std'], '.4f')}) | {_f(ratio, '.1f')} | {_f(r['kpd'], '.1e')} "
            f"({_f(r['kpd_floor'], '.1e')}) | {r['counts']['fail']} of {r['n_checks']} | {r['redrawn']:,} | "
            f"{r['outside_acceptance']:,} | {r['beyond_training_range']:,} | {r['mll']['peak']:.2f} / "
            f"{r['mll']['width']:.2f} |")
    cut = [r for r in z["rows"] if "inside_acceptance_only" in r]
    if cut:
        lines += ["", "The same no-preset samples without their events outside the muon acceptance (what the "
                  "preset's redraw removes; redrawing is rejection sampling, so the kept events follow the "
                  "distribution a redraw would give):", "",
                  "| variant | seed | events kept | AUC | FPD/floor | failing checks | m(μμ) peak / width [GeV] |",
                  "|---|---|---:|---|---:|---|---|"]
        for r in cut:
            c = r["inside_acceptance_only"]
            ratio = c["fpd"] / c["fpd_floor"] if c.get("fpd") and c.get("fpd_floor") else None
            lines.append(f"| {r['variant']} | {r['seed']} | {c['events']:,} | {c['auc']:.3f} ± {c['auc_err']:.3f} | "
                         f"{_f(ratio, '.1f')} | {c['counts']['fail']} of {c['n_checks']} | {c['mll']['peak']:.2f} / "
                         f"{c['mll']['width']:.2f} |")
    lines += ["", "Failing checks (and the three largest KS statistics of features and observables):", ""]
    for r in z["rows"]:
        ks = ", ".join(f"{k['name']} {k['ks']:.3f}" for k in r.get("largest_ks", []))
        lines.append(f"- {r['variant']}, seed {r['seed']}: {', '.join(r['failed']) or 'none'}"
                     + (f" (largest KS: {ks})" if ks else ""))
    lines += ["", "Classifier AUC without preset minus the preset's (same seed; ± the two errors combined):", ""]
    for v, d in z["auc_minus_preset"].items():
        per = ", ".join(f"{x:+.3f} ± {e:.3f}" for x, e in zip(d["per_seed"], d["per_seed_err"]))
        lines.append(f"- {v}: {per}; mean {d['mean']:+.3f} ± {d['mean_err']:.3f} "
                     f"({'within' if d['within_target'] else 'not within'} the target +{AUC_TARGET})")
    plan = next((r["plan"] for r in z["rows"] if r["plan"]), None)
    if plan:
        lines += ["", f"The automatic plan (seed {z['seeds'][0]}, `Plan.describe()`):", "", "```", plan, "```"]
    return lines + [""]


def electron_markdown(e: dict[str, Any]) -> list[str]:
    lines = ["## Electron response: no preset against the `electron` preset", "", *_header(e),
             f"Dataset B, {e['rows']:,} rows ({e['detected_rows']:,} detected), {e['steps']:,} steps "
             f"(the preset's efficiency classifier too), seed {e['seed']}; {e['per_point']:,} generated "
             "electrons at each of bench_electron's fixed inputs (φ = 1.5). KS: of the detected electrons' "
             "pT' against the exact log-normal CDF. Without a preset:", ""]
    for label, msg in e["refusals"].items():
        lines.append(f"- {label}, conditions {', '.join(ELECTRON_CONDITIONS)}: "
                     + ("trained" if msg is None else f"refused: \"{msg}\""))
    lines += ["", "So the no-preset model **auto** is trained on the detected rows only, as the refusal "
              "advises; it has no efficiency classifier and makes a detected electron at every input. "
              "**auto-filled** is what a user can do to learn the efficiency without a preset: the undetected "
              "rows' pt, eta, phi set to 0 and `detected` learnt as a fourth feature (the plan makes it an "
              "integer 0/1); its detected fraction is that of the generated `detected`, and *inconsistent* "
              "is the fraction of generated electrons whose `detected` disagrees with pt' > 0.", ""]
    for variant, m in e["models"].items():
        lines += [f"### {variant}: {m['rows']:,} training rows, {m['parameters']:,} parameters, selection "
                  f"{', '.join(m['selection'])}, best step {m['best_step']:,}, trained in {m['train_seconds']:.0f} s", "",
                  "| pT [GeV] | η | KS of pT' | detected fraction | exact efficiency | difference "
                  "| inconsistent | RMS of η' − η | RMS of φ' − φ |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for p in m["points"] + m["extra_points"]:
            mark = "" if p in m["points"] else " (below the 1 GeV step)"
            lines.append(f"| {p['pt']}{mark} | {p['eta']} | {p['ks']:.4f} | {p['efficiency']:.4f} | "
                         f"{p['efficiency_exact']:.2f} | {p['efficiency'] - p['efficiency_exact']:+.4f} | "
                         f"{p['inconsistent']:.4f} | {p['eta_shift_rms']:.2g} | {p['phi_shift_rms']:.2g} |")
        lines += ["", f"Largest KS {m['max_ks']:.4f}; largest efficiency difference "
                      f"{m['max_efficiency_difference']:.4f} (7 points above 1 GeV).", ""]
        if m["plan"]:
            lines += ["Automatic plan:", "", "```", m["plan"], "```", ""]
    return lines


def mixed_markdown(x: dict[str, Any]) -> list[str]:
    lines = ["## Mixed table with exact truth: no preset, no option", "", *_header(x),
             f"`simulate_toy(\"mixed\", {x['events']:,}, seed)` for seeds {', '.join(map(str, x['seeds']))}; a flow "
             "with no preset and no option (`train(table, \"flow\")`: automatic plan, the loop's defaults); "
             f"{x['gen_events']:,} events generated as `flashgen generate` writes them. Per column: generated "
             "values outside the physical support (for integer columns also non-integers), the fraction of "
             "events at each point mass (as `MixedTable.point_masses` defines them: iso = 0, weight = 1; in "
             "parentheses the fractions of the 0/1 flag tight, an integer column judged by its KS, which for a "
             "0/1 column is the error of that fraction) generated / in the whole 20,000-event table / exact, "
             "the KS distance to the exact marginal CDF (the table's own KS beside it). Seed s: table seed s, "
             "training seed s, generation seed s + 7. Targets: 0 outside, |generated − exact| ≤ "
             f"{MIXED_POINT_MASS_TOL} at every point mass, KS ≤ {MIXED_KS_MAX}.", "",
             "| seed | values outside the support | largest point-mass error | largest KS | targets |",
             "|---|---:|---|---|---|"]
    for run in x["runs"]:
        cols = run["columns"]
        mass = max(cols, key=lambda c: cols[c]["point_mass_error"])
        ks = max(cols, key=lambda c: cols[c]["ks"])
        lines.append(f"| {run['seed']} | {sum(v['outside_support'] for v in cols.values())} | "
                     f"{cols[mass]['point_mass_error']:.4f} ({mass}) | {cols[ks]['ks']:.4f} ({ks}) | "
                     f"{'met' if run['targets_met'] else 'not met'} |")
    lines.append("")
    for run in x["runs"]:
        lines += [f"### seed {run['seed']}: {run['train_events']:,} + {run['val_events']:,} events, best step "
                  f"{run['best_step']:,} of {run['steps']:,}, trained in {run['train_seconds']:.0f} s; "
                  f"redrawn {run['redrawn']}; targets {'met' if run['targets_met'] else 'NOT met'}", "",
                  "| column | support | outside | beyond training range | point masses: generated / table / exact "
                  "| KS (table) |", "|---|---|---:|---:|---|---|"]
        for c, v in run["columns"].items():
            lo, hi = (math.inf if b is None else b for b in x["support"][c])  # JSON keeps inf as null
            masses = "; ".join(f"{k}: {m['generated']:.4f} / {m['training']:.4f} / {m['truth']:.4f}"
                               for k, m in v["point_masses"].items())
            masses += "; ".join(f"({k}: {m['generated']:.4f} / {m['training']:.4f} / {m['truth']:.4f})"
                                for k, m in v.get("flag_fractions", {}).items())
            lines.append(f"| {c} | [{lo:g}, {hi:g}] | {v['outside_support']} | {v['beyond_training_range']} | "
                         f"{masses or '—'} | {v['ks']:.4f} ({v['ks_training']:.4f}) |")
        lines += ["", "Plan:", "", "```", run["plan"], "```", ""]
    return lines


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Own samples without a preset: the automatic plan against the presets (issue 26)", "",
             "Each part below says what it ran; `benchmarks/bench_own_sample.py` made them all.", ""]
    if "reading" in result:
        lines += ["## Reading", "", "(Written after the runs, from their numbers; `--render --reading FILE` puts it "
                  "here.)", "", result["reading"], ""]
    render = {"zmumu": zmumu_markdown, "electron": electron_markdown, "mixed": mixed_markdown}
    for p in PARTS:
        if p in result["parts"]:
            lines += render[p](result["parts"][p])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--run", type=Path, help="finished flashgen run folder (zmumu part)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps of the zmumu part (default 3000)")
    parser.add_argument("--seeds", default="0,1", help="training seeds of the zmumu and mixed parts (default 0,1)")
    parser.add_argument("--variants", default="preset,auto", help=f"zmumu variants, of {', '.join(VARIANTS)}")
    parser.add_argument("--gen-events", type=int, default=20_000, help="generated events (zmumu, mixed)")
    parser.add_argument("--electron-rows", type=int, default=100_000, help="dataset B rows (default 100,000)")
    parser.add_argument("--electron-steps", type=int, default=3000, help="electron training steps (default 3000)")
    parser.add_argument("--mixed-events", type=int, default=20_000, help="mixed table rows (default 20,000)")
    parser.add_argument("--mixed-seeds", help="seeds of the mixed part (default: --seeds)")
    parser.add_argument("--mixed-steps", type=int, help="mixed table training steps (default: train's default)")
    parser.add_argument("--reading", help="text file with the reading of the numbers, put at the top")
    parser.add_argument("--render", action="store_true", help="only rewrite the Markdown from the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    variants = args.variants.split(",")
    if not set(parts) <= set(PARTS) or not set(variants) <= set(VARIANTS) or "preset" not in variants:
        parser.error(f"--parts from {', '.join(PARTS)}; --variants from {', '.join(VARIANTS)}, with preset")
    if "zmumu" in parts and args.run is None and not args.render:
        parser.error("the zmumu part needs --run DIR")
    seeds = [int(s) for s in args.seeds.split(",")]
    mixed_seeds = [int(s) for s in (args.mixed_seeds or args.seeds).split(",")]

    import torch

    from flashgen.speed import machine_info

    torch.set_num_threads(1)
    path = args.out / f"{NAME}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"parts": {}}
    if args.reading:
        result["reading"] = Path(args.reading).read_text().strip()
    if args.render:
        write_results(result, markdown(result), args.out, NAME)
        return 0
    for p in parts:
        start = time.perf_counter()
        record = {"command": command_line("bench_own_sample.py", argv), "revision": revision(),
                  "machine": machine_info("cpu")}
        if p == "zmumu":
            record.update(zmumu_part(args.run, args.steps, seeds, args.gen_events, variants))
        elif p == "electron":
            record.update(electron_part(args.electron_rows, args.electron_steps, seeds[0]))
        else:
            record.update(mixed_part(args.mixed_events, mixed_seeds, args.gen_events, args.mixed_steps))
        record["wall_seconds"] = time.perf_counter() - start
        result["parts"][p] = record
        write_results(result, markdown(result), args.out, NAME)  # after each part: a crash keeps the others
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
