"""Data-size study: does a Z→μμ generator approach the statistical floor as its training sample grows?

Each model (``--models``, the zmumu preset's settings) is trained on nested training samples of
``--sizes`` selected events of one large reference, generates ``--generate`` events, and is
judged against one large held-out sample of the same reference by :func:`flashgen.validation.validate`:
classifier AUC (mean and spread over 5 trainings of the classifier), FPD (N → ∞, jetnet's
convention) and KPD, each beside its truth-vs-truth floor at the same sample sizes, the failing
checks, the worst features, the jet multiplicity above 15 GeV per bin and the m(μμ) peak and
core width. A row ``truth`` per size validates the training events themselves: the floor a
generator that reproduced its training sample exactly would reach. A model limited by its
data approaches that row as the sample grows; a model limited by its design does not.
``ensemble`` is the main job's model (``flashgen run``): 8 flows of the preset, 4 bootstrap
resamples x 2 seeds, 3,000 steps each at 5,000 events, trained on 2 local workers.

Usage::

    python benchmarks/bench_datasize.py --reference DIR [--held-out 8000]
        [--sizes 2000,5000,20000,50000] [--models flow,gan,wgan-gp] [--generate 20000]
        [--steps flow=5000,gan=10000,wgan-gp=10000] [--workers 2] [--cache DIR]
        [--sizes-of ensemble=2000,5000] [--baseline OLD/datasize.json]
        [--variant 'flow-all=val_fraction=0;hidden=32x32' --steps flow-all=3000] [--name datasize]

Without ``--reference`` the reference (``--events`` generated events, seed ``--ref-seed``) is
simulated once into ``--cache`` with the Dask production (``flashgen simulate zmumu``). The
held-out sample is the first ``--held-out`` selected events; the training samples follow it,
nested (a larger one contains the smaller). Every finished training is kept in
``--cache/runs`` and reused, so an interrupted study resumes. ``--variant NAME=SPEC`` adds a
one-flow model ``NAME`` with other settings, ``;``-separated: the flow's own
(``hidden=32x32``, ``transforms=12``, ``weight_decay=0.1``, ``coupling=false``, ...; see
``flashgen train --help``) and ``val_fraction`` (0: every event trained on, the last snapshot kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common import command_line, describe_machine, mll_peak_width, write_results

RESULTS = Path(__file__).parent / "results"
SIZES = (2_000, 5_000, 20_000, 50_000)
MODELS = ("flow", "gan", "wgan-gp")
STEPS = {"flow": 5_000, "gan": 10_000, "wgan-gp": 10_000, "flow+njet": 5_000, "ensemble": 3_000}
"""Steps at the smallest sizes: the preset's for the flow and the WGAN-GP; the paper's GAN gets
10,000 of its 100,000 batches (~25 ms each on one core)."""
VARIANTS = {"flow+njet": "flow"}
"""Variants of the zmumu preset, by the model family they train: ``flow+njet`` generates the
number of jets above 10 GeV as a discrete coordinate of its own
(``flashgen.sources.zmumu.preprocessing.feature_steps(count_jets=True)``)."""
STEPS_GROWTH = 3.0
"""Steps grow with the training size, ``steps * clip(size / 5,000, 1, STEPS_GROWTH)``, so that a
larger sample is not judged on fewer epochs only."""
KPD_BATCH = 5_000
"""Events per batch of the kernel distance: jetnet's default (the validation's is 1,000)."""
LAB_FEATURES = ("mu0_px", "mu0_py", "mu0_pz", "mu0_e", "mu1_px", "mu1_py", "mu1_pz", "mu1_e",
                "nvtx", "met_x", "met_y", "iso0", "iso1",
                "jet1_pt", "jet2_pt", "jet3_pt", "jet4_pt", "jet5_pt")
"""The reference columns the zmumu preset learns (in the laboratory frame)."""


@dataclass(frozen=True)
class Task:
    model: str  # a model family, or "truth": the training events themselves
    size: int
    steps: int
    seed: int
    reference: str
    held_out: int
    generate: int
    cache: str
    spec: str = ""  # a --variant's settings

    @property
    def name(self) -> str:
        name = f"{self.model}-{self.size}-s{self.seed}-st{self.steps}-h{self.held_out}-g{self.generate}"
        if self.spec:
            name += "-" + hashlib.sha256(self.spec.encode()).hexdigest()[:8]
        return name


def parse_spec(spec: str) -> tuple[dict[str, str], float | None]:
    """A ``--variant`` SPEC -> (the flow's settings as text, ``val_fraction`` or ``None``)."""
    settings = dict(item.split("=", 1) for item in spec.split(";") if item.strip())
    val = settings.pop("val_fraction", None)
    return {k.strip(): v.strip() for k, v in settings.items()}, (float(val) if val is not None else None)


def steps_for(model: str, size: int, base: dict[str, int]) -> int:
    """Training steps of ``model`` on ``size`` events (:data:`STEPS_GROWTH`)."""
    return int(round(base[model] * float(np.clip(size / 5_000, 1.0, STEPS_GROWTH))))


def load(path: str) -> Any:
    """The selected events of a reference folder, in production order."""
    from flashgen.data import read_table

    table = read_table(path)
    if "selected" in table:
        table = table.take(np.flatnonzero(np.asarray(table["selected"]) == 1))
    return table


def njet_bins(reference: Any, generated: Any) -> list[dict[str, float]]:
    """Fractions of events with 0, 1, 2, 3, >= 4 jets above 15 GeV and their pulls
    ``(f_gen - f_ref) / sqrt(f_ref (1 - f_ref) / n_ref + f_gen (1 - f_gen) / n_gen)``."""
    from flashgen.sources.zmumu.quantities import njet15

    counts = [np.minimum(np.asarray(njet15(t)), 4) for t in (reference, generated)]
    out = []
    for k in range(5):
        f = [float(np.mean(c == k)) for c in counts]
        var = sum(p * (1 - p) / len(c) for p, c in zip(f, counts, strict=True))
        out.append({"njet": k if k < 4 else ">=4", "reference": f[0], "generated": f[1],
                    "pull": (f[1] - f[0]) / np.sqrt(var) if var > 0 else 0.0})
    return out


def _preset(model: str) -> str:
    """The preset of ``model``: ``zmumu``, or a variant registered here under its own name."""
    if model not in VARIANTS:
        return "zmumu"
    from dataclasses import replace
    from functools import partial

    from flashgen.sources.registry import PRESETS, get_preset
    from flashgen.sources.zmumu.preprocessing import feature_steps

    name = f"zmumu-{model}"
    if name not in PRESETS:  # a benchmark-only variant, in this process's registry
        PRESETS[name] = replace(get_preset("zmumu"), name=name,
                                feature_steps=partial(feature_steps, count_jets=True))
    return name


def _refused(record: dict[str, Any], why: str, start: float, task: Task, path: Path) -> dict[str, Any]:
    """Record a training that diverged or that the health check refused (cached like a result)."""
    from flashgen.files import write_json

    record.update(diverged=why, train_seconds=time.perf_counter() - start, train_events=task.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(record, path)
    return record


def run_task(task: Task) -> dict[str, Any]:
    """Train (unless ``truth``), generate and validate one (model, size); cached on disk."""
    from flashgen.errors import FlashgenError
    from flashgen.files import write_json
    from flashgen.generation import sample
    from flashgen.sources.zmumu.quantities import rotate_to_mu1_frame
    from flashgen.training import TrainSettings, train
    from flashgen.validation import ValidationSettings, validate
    from flashgen.validation.summary import distances

    path = Path(task.cache) / "runs" / f"{task.name}.json"
    if path.exists():
        return json.loads(path.read_text())
    table = load(task.reference)
    if len(table) < task.held_out + task.size:
        raise SystemExit(f"bench_datasize: error: {len(table):,} selected events, need "
                         f"{task.held_out + task.size:,}")
    held = table.take(np.arange(task.held_out))
    part = table.take(np.arange(task.held_out, task.held_out + task.size))
    record: dict[str, Any] = {"task": asdict(task)}
    if task.model == "truth":
        generated = rotate_to_mu1_frame(part.select(list(LAB_FEATURES)))
        record.update(train_events=task.size, train_seconds=0.0)
    elif task.model == "ensemble":  # the main job's model, as flashgen run trains it
        from flashgen.job import DEFAULT_ENSEMBLE
        from flashgen.training.bootstrap import Workers, train_ensemble

        start = time.perf_counter()
        out = Path(task.cache) / "models" / f"{task.name}.pt"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            model = train_ensemble(part, DEFAULT_ENSEMBLE, "flow", out=out, preset="zmumu",
                                   settings=TrainSettings(steps=task.steps, seed=task.seed, quiet=True),
                                   workers=Workers(2))
        except FlashgenError as err:  # a refused member is a result, as for one model
            return _refused(record, str(err), start, task, path)
        results = [m.info["result"] for m in model.members]
        record.update(train_seconds=time.perf_counter() - start, train_events=task.size,
                      val_events=int(np.mean([m.info["val_events"] for m in model.members])),
                      best_step=int(np.median([r["best_step"] for r in results])),
                      parameters=model.n_parameters())
        generated = sample(model, task.generate, seed=task.seed + 1, chunk_size=200_000)
    else:
        start = time.perf_counter()
        config, val_fraction = parse_spec(task.spec)
        family = "flow" if task.spec else VARIANTS.get(task.model, task.model)
        try:
            model = train(part, family, preset=_preset(task.model), config=config or None,
                          settings=TrainSettings(steps=task.steps, seed=task.seed, device="cpu",
                                                 val_fraction=val_fraction))
        except FlashgenError as err:  # a diverged training is a result, not a crash of the study
            return _refused(record, str(err), start, task, path)
        record.update(train_seconds=time.perf_counter() - start,
                      train_events=model.info["train_events"], val_events=model.info["val_events"],
                      best_step=model.info["result"]["best_step"], parameters=model.n_parameters())
        generated = sample(model, task.generate, seed=task.seed + 1, chunk_size=200_000)
    start = time.perf_counter()
    metrics = validate(held, generated, None, ValidationSettings(seed=0, repeats=6, kpd_batch_size=KPD_BATCH),
                       quiet=True)
    clf = metrics.get("classifier") or {}
    features = sorted(((k.split("/", 1)[1], v) for k, v in metrics["metrics"].items()
                       if k.startswith("feature/")), key=lambda kv: -kv[1]["ks_stat"])
    status = {(c["key"], c["metric"]): c["status"] for c in metrics["checks"]}
    record.update(
        validate_seconds=time.perf_counter() - start,
        generated_events=len(generated),
        auc=clf.get("auc"), auc_err=clf.get("auc_err"), auc_spread=clf.get("auc_spread"),
        auc_runs=clf.get("auc_runs"), **distances(metrics),
        counts=metrics["summary"]["counts"], failed=metrics["summary"]["failed"],
        worst=[{"name": n, "ks": v["ks_stat"], "w1_norm": v["w1_norm"],
                "status": status.get((f"feature/{n}", "ks_stat"))} for n, v in features[:3]],
        njet15=njet_bins(held, generated),
        mll={"reference": mll_peak_width(held), "generated": mll_peak_width(generated)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(record, path)
    return record


# ------------------------------------------------------------------------------ the table


def _f(value: float | None, fmt: str) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:{fmt}}"


def _events(r: dict[str, Any]) -> str:
    """Training-sample size, and what the model trained on (the rest selects its snapshot)."""
    size, used = r["task"]["size"], r["train_events"]
    return f"{size:,}" if used == size else f"{size:,} ({used:,} + {r.get('val_events', 0):,})"


def _table(runs: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of ``runs``, by size then model."""
    lines = [
        "| model | training events (trained + snapshot selection) | steps | train [s] | AUC | FPD | FPD floor | "
        "FPD/floor | KPD | "
        "KPD floor | failing checks | worst features (KS) | njet15 max pull | m(μμ) peak [GeV] "
        "| σ_eff [GeV] |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(runs, key=lambda r: (r["task"]["size"], r["task"]["model"])):
        t = r["task"]
        if "auc" not in r:  # a diverged training
            why = r.get("diverged") or r.get("failed")
            lines.append(f"| {t['model']} | {t['size']:,} | {t['steps']:,} | "
                         f"{r['train_seconds']:.0f} | {why} |" + " |" * 10)
            continue
        ratio = (r["fpd"] / r["fpd_floor"]) if r.get("fpd") and r.get("fpd_floor") else None
        worst = ", ".join(f"{w['name']} {w['ks']:.3f}" for w in r["worst"])
        pull = max(abs(b["pull"]) for b in r["njet15"])
        n_checks = sum(r["counts"].values())
        steps = "—" if t["model"] == "truth" else f"{t['steps']:,}"
        lines.append(
            f"| {t['model']} | {_events(r)} | {steps} | {r['train_seconds']:.0f} | "
            f"{_f(r['auc'], '.3f')} ± {_f(r['auc_spread'], '.3f')} | {_f(r['fpd'], '.2e')} | "
            f"{_f(r['fpd_floor'], '.2e')} ± {_f(r['fpd_floor_std'], '.1e')} | {_f(ratio, '.1f')} | "
            f"{_f(r['kpd'], '.1e')} | {_f(r['kpd_floor'], '.1e')} ± {_f(r['kpd_floor_std'], '.1e')} | "
            f"{r['counts']['fail']} of {n_checks} | {worst} | {pull:.1f} | "
            f"{r['mll']['generated']['peak']:.2f} | {r['mll']['generated']['width']:.2f} |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    ref = result["reference"]
    lines = [
        "# Data-size study: Z→μμ generators against the statistical floor",
        "",
        f"Command: `{result['command']}`",
        "",
        describe_machine(result["machine"]),
        "",
        f"Reference: {ref['selected']:,} selected Z→μμ events ({ref['path']}); held out: the first "
        f"{ref['held_out']:,} (m(μμ) peak {ref['mll']['peak']:.2f} ± {ref['mll']['peak_err']:.2f} GeV, "
        f"σ_eff {ref['mll']['width']:.2f} ± {ref['mll']['width_err']:.2f} GeV); training samples "
        "nested after them. Every model generates "
        f"{result['settings']['generate']:,} events; `truth` validates the training events "
        "themselves (the floor of a generator that reproduced its sample exactly). FPD: "
        "Fréchet distance, N → ∞, of the features scaled as jetnet does (each centred on the "
        "held-out mean and divided by its largest deviation); KPD: "
        f"kernel distance (median ± half the 16–84 % range of 10 batches of {KPD_BATCH:,}); each with its "
        "truth-vs-truth floor at the same sample sizes (6 bootstrap pairs of the held-out "
        "sample). AUC: mean of 5 classifier trainings (± their spread). njet15: largest "
        "|pull| over the 0/1/2/3/≥4-jet fractions. Checks: failing of those judged.",
        "",
        *_table(result["runs"]),
    ]
    for note in result.get("notes", []):
        lines += ["", note]
    base = result.get("baseline")
    if base:
        lines += ["", f"## Before: {base['date']}", "",
                  f"The same study as first measured (`{base['command']}`; a reference simulated with the "
                  f"same seed by the code of then, {base['selected']:,} selected events), with the defaults "
                  "of then. Its "
                  "FPD columns used the earlier input map (normal scores of the held-out CDF), so "
                  "compare their ratios to the floor, not the values.", "",
                  *_table(base["runs"])]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main


def _reference(args: argparse.Namespace) -> str:
    if args.reference:
        return args.reference
    from flashgen.executor import Workers
    from flashgen.sources.zmumu import simulate_zmumu

    folder = Path(args.cache) / f"zmumu-{args.events}-s{args.ref_seed}"
    simulate_zmumu(args.events, args.ref_seed, folder, workers=Workers(args.workers))  # finished: kept
    return str(folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="", help="existing Z→μμ reference folder")
    parser.add_argument("--cache", default="/tmp/flashgen-datasize",
                        help="folder for the simulated reference and the finished runs")
    parser.add_argument("--events", type=int, default=160_000,
                        help="generated events of a simulated reference (default 160,000: ~61,000 selected)")
    parser.add_argument("--ref-seed", type=int, default=21, help="seed of a simulated reference")
    parser.add_argument("--held-out", type=int, default=8_000, help="held-out selected events")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="training sizes")
    parser.add_argument("--models", default=",".join(MODELS), help="model families")
    parser.add_argument("--steps", default="", help="base steps per model, e.g. flow=5000,gan=10000")
    parser.add_argument("--sizes-of", action="append", default=[], metavar="MODEL=S1,S2",
                        help="train MODEL at these sizes only (of --sizes), e.g. ensemble=2000,5000")
    parser.add_argument("--generate", type=int, default=20_000, help="generated events per model")
    parser.add_argument("--seed", type=int, default=1, help="training seed")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each")
    parser.add_argument("--note", action="append", default=[], help="a paragraph printed below the table")
    parser.add_argument("--baseline", default="",
                        help="an earlier datasize.json whose runs are listed below the new ones ('Before')")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SPEC",
                        help="a one-flow model NAME with other settings, e.g. "
                             "'flow-all=val_fraction=0;hidden=32x32' (then list NAME in --models)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="datasize", help="file name of the results (.json, .md)")
    args = parser.parse_args(argv)
    from flashgen.speed import machine_info
    import torch

    from flashgen.executor import run_tasks

    torch.set_num_threads(1)  # one torch thread here too, as on every worker
    sizes = [int(s) for s in args.sizes.split(",") if s]
    models = [m for m in args.models.split(",") if m]
    from flashgen.errors import FlashgenError
    from flashgen.models.flow import FlowConfig
    from flashgen.training import TrainSettings

    if any("=" not in v for v in args.variant):
        sys.exit("bench_datasize: error: --variant takes NAME=SPEC, e.g. 'flow-32=hidden=32x32'")
    variants = dict(v.split("=", 1) for v in args.variant)
    base = dict(STEPS) | {name: STEPS["flow"] for name in variants}
    for name, spec in variants.items():
        try:  # refused here, before any training, as run_task would
            config, val_fraction = parse_spec(spec)
            FlowConfig.build(config)
            TrainSettings(val_fraction=val_fraction)
        except (ValueError, FlashgenError) as err:  # one line, not a traceback
            sys.exit(f"bench_datasize: error: --variant {name}: {err}")
    for item in filter(None, args.steps.split(",")):
        name, _, value = item.partition("=")
        base[name] = int(value)
    if any(m not in base for m in models) or not sizes or min(sizes) < 100:
        sys.exit("bench_datasize: error: unknown model in --models/--steps or a size below 100")
    reference = _reference(args)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    only = {name: {int(v) for v in values.split(",") if v}
            for name, _, values in (item.partition("=") for item in args.sizes_of)}
    tasks = [Task(m, s, steps_for(m, s, base) if m != "truth" else 0, args.seed, reference,
                  args.held_out, args.generate, args.cache, variants.get(m, ""))
             for s in sizes for m in ["truth", *models] if s in only.get(m, {s})]
    # the longest first, so that two workers finish together
    tasks.sort(key=lambda t: -t.steps * (3 if t.model == "gan" else 1))
    runs = [r for _, r in run_tasks(run_task, tasks, workers=args.workers, desc="data-size study")]
    table = load(reference)
    held = table.take(np.arange(args.held_out))
    result = {
        "command": command_line("bench_datasize.py", argv),
        "machine": machine_info(),
        "settings": {"sizes": sizes, "models": models, "base_steps": base, "variants": variants,
                     "steps_growth": STEPS_GROWTH, "generate": args.generate, "seed": args.seed},
        "reference": {"path": reference, "selected": len(table), "held_out": args.held_out,
                      "mll": mll_peak_width(held, bootstrap=50, seed=0)},
        "runs": runs,
        "notes": args.note,
    }
    if args.baseline:
        old = json.loads(Path(args.baseline).read_text())
        result["baseline"] = {"date": old["machine"]["date"], "command": old["command"],
                              "selected": old["reference"]["selected"], "runs": old["runs"]}
    write_results(result, markdown(result), args.out, args.name)


if __name__ == "__main__":
    main()
