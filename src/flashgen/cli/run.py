"""``flashgen run``: the main job end to end on built-in defaults, resumable stage by stage."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..arguments import add_common, non_negative_float, positive_float, positive_int, say, seed_int
from .train import add_column_options

__all__ = ["register", "summary_lines"]


def _fraction(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be between 0 and 1")
    return value


def register(sub: Any) -> None:
    from ..models import DEFAULT_MODEL, MODELS
    from ..job import (DEFAULT_ENSEMBLE, DEFAULT_EVENTS, DEFAULT_FACTOR, DEFAULT_HOLDOUT,
                                DEFAULT_VALIDATION_EVENTS)

    p = sub.add_parser(
        "run", help="the main job end to end: simulate, train, generate, validate",
        description="The main job on built-in defaults: simulate a Z→μμ reference with pileup "
        "(PYTHIA8 + parametric CMS detector), split it by a seeded permutation into a training and "
        "a held-out part, train a model (zmumu preset, snapshot selection), generate --factor "
        "times more events than were selected, validate them against the held-out part (never "
        "trained on) and print the speed-up and the fidelity. Outputs: DIR/reference/, "
        "DIR/reference-{train,heldout}.parquet, DIR/model.pt, DIR/generated.parquet, "
        "DIR/validation/report.html and DIR/run.json (settings, stage timings, summary). Rerunning "
        "skips finished stages and resumes interrupted ones. Speed-up = generated events/s to "
        "Parquet divided by selected reference events per second of simulation wall time "
        "(pileup library and start-up included); the ratio per generated reference event is "
        "printed too. The model is an ensemble (--ensemble) so that the summary states what the "
        "generated events are worth in m(μμ): n_eff simulated events and the amplification over "
        "the training events. The default job takes about 10-15 minutes on 2 CPU cores. "
        "With --data FILE the job runs on your own table instead (Parquet, a folder of Parquet "
        "shards, or ROOT; NanoAOD-like with --collections): read it, split, train with the "
        "automatic preprocessing of each column (flashgen train --plan shows it), generate, "
        "validate against the held-out part and state the worth of the sample in each feature; "
        "no simulation, so no speed-up is measured.")
    p.add_argument("--out", "-o", default="flashgen-run",
                   help="run folder (created; its parent must exist; default ./flashgen-run)")
    p.add_argument("--events", "-n", type=positive_int,
                   help=f"generated Z→μμ reference events, about 37 %% are selected "
                   f"(default {DEFAULT_EVENTS:,}; not with --data)")
    p.add_argument("--workers", "-j", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="simulation worker processes; does not change any output "
                   "(default: 2, or 1 on a single core)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seeds simulation, split, training and generation; the same seed gives "
                   "the same outputs (default 0)")
    p.add_argument("--model", "-m", choices=sorted(MODELS), default=DEFAULT_MODEL,
                   help=f"model family, zmumu preset (default {DEFAULT_MODEL})")
    p.add_argument("--factor", type=positive_float, default=DEFAULT_FACTOR,
                   help=f"generated events per selected reference event, or per row of --data "
                   f"(default {DEFAULT_FACTOR:g})")
    p.add_argument("--steps", type=positive_int,
                   help="training steps (default: 3,000 per ensemble member; the zmumu preset's "
                   "for a single model)")
    p.add_argument("--ensemble", type=positive_int, default=DEFAULT_ENSEMBLE, metavar="M",
                   help=f"members of the model, in pairs per bootstrap resample, so that the "
                   f"generated sample states what it is worth (default {DEFAULT_ENSEMBLE}; 1: a single "
                   "model, no statement of worth)")
    p.add_argument("--force", action="store_true",
                   help="accept settings that differ from those stored in DIR/run.json: redo the "
                   "stages they affect and the later ones (default: refuse)")
    own = p.add_argument_group("your own sample (instead of the Z→μμ simulation)")
    own.add_argument("--data", metavar="FILE",
                     help="your table: Parquet file, folder of Parquet shards or ROOT file (TTree "
                     "'Events'); the job splits it, trains on one part and validates on the other "
                     "(default: none, simulate Z→μμ)")
    add_column_options(own, features="every numeric column of --data that is not a condition",
                       conditions="; generation takes them from the held-out rows (default: none)",
                       collections=" (default: none; a file with jagged collections needs it)")
    adv = p.add_argument_group("advanced options")
    adv.add_argument("--pileup", type=non_negative_float,
                     help="mean number of pileup interactions per event (default 20; not with --data)")
    adv.add_argument("--library-events", type=positive_int,
                     help="minimum-bias events in the pileup library (default 5,000; not with --data)")
    adv.add_argument("--holdout", type=_fraction, default=DEFAULT_HOLDOUT,
                     help=f"fraction of the selected reference events held out for validation "
                     f"(default {DEFAULT_HOLDOUT:g})")
    adv.add_argument("--validation-events", type=positive_int, default=DEFAULT_VALIDATION_EVENTS,
                     help="validate with at most this many events of each table, a seeded "
                     f"subsample (default {DEFAULT_VALIDATION_EVENTS:,})")
    add_common(p)
    p.set_defaults(func=_run)


_SIMULATION_OPTIONS = {"events": "--events", "pileup": "--pileup", "library_events": "--library-events"}
_TABLE_OPTIONS = {"features": "--features", "conditions": "--conditions", "collections": "--collections"}


def _settings(args: argparse.Namespace) -> Any:
    """The job's settings from the options: the Z→μμ job, or the job on ``--data``."""
    from dataclasses import fields

    from ..errors import FlashgenError
    from ..job import RunSettings

    common = dict(seed=args.seed, model=args.model, factor=args.factor, steps=args.steps, holdout=args.holdout,
                  validation_events=args.validation_events, ensemble=args.ensemble, workers=args.workers)
    if args.data is None:
        given = [flag for name, flag in _TABLE_OPTIONS.items() if getattr(args, name) is not None]
        if given:
            raise FlashgenError(f"{', '.join(given)} choose the columns of your own table: add --data FILE")
        defaults = {f.name: f.default for f in fields(RunSettings)}
        return RunSettings(**common, **{name: getattr(args, name) if getattr(args, name) is not None
                                        else defaults[name] for name in _SIMULATION_OPTIONS})
    given = [flag for name, flag in _SIMULATION_OPTIONS.items() if getattr(args, name) is not None]
    if given:
        raise FlashgenError(f"{', '.join(given)} set(s) the Z→μμ simulation; with --data your table is the "
                            "reference: drop it")
    from pathlib import Path

    if not Path(args.data).exists():
        raise FlashgenError(f"{args.data} does not exist")
    data = str(Path(args.data).resolve())
    return RunSettings(**common, data=data, collections=str(args.collections) if args.collections else None,
                       features=tuple(args.features) if args.features else None,
                       conditions=tuple(args.conditions) if args.conditions else None)


def _run(args: argparse.Namespace) -> None:
    from ..job import run_pipeline

    settings = _settings(args)
    if settings.data is None:
        say(args, f"flashgen run: {args.out} ({settings.events:,} Z→μμ events, pileup {settings.pileup:g}, "
                  f"{args.model}, factor {args.factor:g}, seed {args.seed})")
    else:
        say(args, f"flashgen run: {args.out} (your table {settings.data}, {args.model}, "
                  f"factor {args.factor:g}, seed {args.seed})")
    summary = run_pipeline(args.out, settings, force=args.force, quiet=args.quiet,
                           log=lambda line: say(args, line))
    for line in summary_lines(summary):
        say(args, line)


def _f(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary as the lines ``flashgen run`` prints."""
    ref, gen, speed = summary["reference"], summary["generation"], summary["speedup"]
    model, val = summary["model"], summary["validation"]
    from ..job import stage_label

    data = ref.get("data")
    timing = ", ".join(f"{stage_label(name, bool(data))} {_f(sec, '.1f')} s"
                       + (" (skipped now)" if name in summary["skipped"] else "")
                       for name, sec in summary["stages"].items())
    skipped = ", ".join(stage_label(name, bool(data)) for name in summary["skipped"])
    lines = [f"stages: {timing}", f"skipped: {skipped or 'none'}"]
    if data:
        conditions = ref.get("conditions") or []
        lines += [
            f"reference: your table {data}" + (f" (collections {ref['collections']})" if ref.get("collections") else "")
            + f", {ref['events_selected']:,} rows; features {', '.join(ref['features'])}"
            + (f"; conditions {', '.join(conditions)} (generated events take those of the held-out rows)"
               if conditions else ""),
            f"generation: {gen['events']:,} events ({gen['factor']:.0f}x the table) in "
            f"{gen['seconds']:.1f} s: {gen['events_per_second']:,.0f} events/s to Parquet",
        ]
    else:
        lines += [
            f"reference: {ref['events_selected']:,} selected of {ref['events_generated']:,} generated "
            f"Z→μμ events ({ref['selection_efficiency']:.1%}) in {ref['seconds']:.1f} s of simulation "
            f"wall time on {ref['workers']} worker(s), pileup library included: "
            f"{_f(ref['selected_events_per_second'], ',.2f')} selected events/s "
            f"({_f(ref['generated_events_per_second'], ',.1f')} generated events/s)",
            f"generation: {gen['events']:,} events ({gen['factor']:.0f}x the selected reference) in "
            f"{gen['seconds']:.1f} s: {gen['events_per_second']:,.0f} events/s to Parquet",
            f"speed-up: {_f(speed['per_selected_event'], ',.0f')}x per analysis-level (selected) "
            f"event, {_f(speed['per_generated_event'], ',.0f')}x per generated reference event "
            f"(generation events/s / reference events/s, both measured in this run)",
        ]
    lines.append(
        (f"model: {model['model']}, {model['file_mb']:.2f} MB, {model['parameters']:,} parameters; "
         f"trained on {model['train_events']:,} events ({model['val_events']:,} for snapshot "
         f"selection) for {model['steps']:,} steps in {model['train_seconds']:.0f} s, kept step "
         f"{model['best_step']:,}") if model.get("members", 1) == 1 else
        (f"model: ensemble of {model['members']} {model['model']} models ({model['members'] // 2} bootstrap "
         f"resamples of {model['train_events']:,} events x 2 seeds), {model['file_mb']:.2f} MB, "
         f"{model['parameters']:,} parameters; {model['steps']:,} steps each (~{model['val_events']:,} "
         f"left-out events for snapshot selection) in {model['train_seconds']:.0f} s, median kept "
         f"step {model['best_step']:,}"))
    by_feature = summary.get("worth_by_feature")
    worth = summary.get("worth")
    if by_feature:
        lines += [f"worth: {w['line']}" for w in by_feature]
    else:
        lines.append(f"worth: {worth['line']}" if worth else
                     "worth: not stated (a single model; train an ensemble, --ensemble 8, for it)")
    worst = val["worst_feature"]
    auc = ("classifier AUC n/a (too few events)" if val["classifier_auc"] is None else
           f"classifier AUC {val['classifier_auc']:.3f} ± {val['classifier_auc_err']:.3f}")
    if val["classifier_auc"] is not None and val.get("headline"):
        auc = val["headline"]  # the AUC, then FPD and KPD beside their truth-vs-truth floors
    worst_text = ("worst feature n/a" if worst is None else
                  f"worst feature {worst['name']} (KS {worst['ks_stat']:.3f}, W1/σ "
                  f"{_f(worst['w1_norm'], '.3f')}, {worst['status']})")
    lines.append(f"validation on {_f(val['reference_events'], ',')} held-out reference vs "
                 f"{_f(val['generated_events'], ',')} generated events: {auc}; {worst_text}")
    lines.append(f"verdict: {val['verdict']}; report: {val['report']}")
    return lines
