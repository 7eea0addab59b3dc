"""``flashgen train``: fit a generative model to a table and write one model file."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..arguments import Timer, add_common, csv_list, positive_int, say, seed_int

__all__ = ["COLLECTIONS_HELP", "add_column_options", "checkpoint_path", "collections_spec", "register"]


def _setting(text: str) -> tuple[str, str]:
    """``name=value`` as ``(name, value text)``; the model's config parses the text into the
    setting's type (:class:`flashgen.models.config.ModelConfig`)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"'{text}' must look like name=value, e.g. hidden=256,256")
    return key.strip(), value


def _choice(text: str) -> tuple[str, str]:
    """``column=kind`` as ``(column, kind)`` (checked against the columns when training starts)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"'{text}' must look like column=kind, e.g. pt=log")
    return key.strip(), value.strip()


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be in [0, 1)")
    return value


def collections_spec(text: str) -> Any:
    """``--collections NAME:N[,NAME:N...]`` as a :class:`flashgen.collections.Collections`."""
    from ..collections import Collections
    from ..errors import FlashgenError

    try:
        return Collections.parse(text)
    except FlashgenError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_column_options(p: Any, *, features: str, conditions: str, collections: str) -> None:
    """``--features``, ``--conditions`` and ``--collections`` (of ``train`` and ``run --data``),
    with the command's defaults in their help."""
    p.add_argument("--features", type=csv_list, metavar="A,B,...",
                   help=f"columns to generate (default: {features})")
    p.add_argument("--conditions", type=csv_list, metavar="C,D,...", help=f"columns to condition on{conditions}")
    p.add_argument("--collections", type=collections_spec, metavar="NAME:N[,NAME:N...]",
                   help=COLLECTIONS_HELP + collections)


COLLECTIONS_HELP = ("for a NanoAOD-like file (.root with a TTree 'Events', or its Parquet "
                    "equivalent) with jagged collections: keep the first N objects of each named "
                    "collection (branches NAME_field counted by nNAME) as columns NAME_i_field "
                    "(i < N) plus the count nNAME; missing objects are padded (0 for pt and mass, "
                    "-10 otherwise) and dropped again where nNAME says so; per-event branches "
                    "(MET_pt, PV_npvs, ...) are kept as they are. NAME:N:F1+F2 keeps only the "
                    "fields F1, F2 (e.g. Muon:2:pt+eta+phi; default: every field)")


def checkpoint_path(out: str | Path) -> Path:
    """Hidden checkpoint file beside the model file ``out`` (kept until training ends)."""
    out = Path(out)
    return out.with_name(f".{out.name}.ckpt")


def register(sub: Any) -> None:
    from ..models import MODELS
    from ..sources.registry import PRESETS
    from ..training.fit import DEFAULT_VAL_FRACTION
    from ..training.trainer import COMPILE_CHOICES, COMPILE_SAMPLES
    from ..transforms.auto import KINDS

    families = "; ".join(f"{name}: {MODELS[name].summary()}" for name in sorted(MODELS))
    p = sub.add_parser(
        "train", help="train a generative model on a table; write one model file",
        description=f"Train a generative model ({families}) on the features of a table, optionally "
        "conditioned on other columns. The preprocessing is "
        "fitted on the data and saved in the model file with the weights, the column schema and "
        "the training settings. Snapshots are scored every --snapshot-every steps on a held-out "
        "split (sum of KS statistics of the preset's quantities, or of the features) and the best "
        "one is kept. Interrupted training continues with --resume.")
    p.add_argument("--data", "-d", required=True,
                   help="training table (.parquet, .root or a folder of Parquet shards)")
    p.add_argument("--model", "-m", required=True, choices=sorted(MODELS), help="model family")
    p.add_argument("--out", "-o",
                   help="model file to write (e.g. model.pt); with --ensemble one file holding "
                   "every member (required, except with --plan)")
    papers = "; ".join(f"--model {model} --preset {name}: {paper}" for name in sorted(PRESETS)
                       for model, paper in PRESETS[name].papers.items())
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="defaults for a reference dataset: features, conditions, preprocessing, "
                   "selection quantities, model size, training length (default: none). The "
                   f"papers' own models: {papers}")
    add_column_options(p, features="the preset's, else every numeric column that is not a condition",
                       conditions=" (default: the preset's, else none)",
                       collections="; the model records them, and 'flashgen generate --format nanoaod' "
                       "writes its events back as jagged collections (default: none; a file with jagged "
                       "collections needs it)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int,
                        help="optimisation steps, also of a detection-efficiency classifier "
                        "(default: the preset's, else 4000)")
    length.add_argument("--epochs", type=positive_int,
                        help="passes over the training split, converted to steps")
    p.add_argument("--batch-size", type=positive_int,
                   help="events per step (default: the preset's, else 512)")
    p.add_argument("--snapshot-every", type=positive_int,
                   help="steps between scored snapshots and checkpoints (default: the preset's, else 250)")
    p.add_argument("--compile", choices=COMPILE_CHOICES,
                   help="training steps through compiled kernels (torch.compile, needs a C++ compiler; "
                   "the flow's splines: ~1.5x its step on a CPU for ~20 s of compiling, ~5 s from the "
                   f"cache of an earlier run); auto: on a CPU from {COMPILE_SAMPLES:,} events drawn, "
                   "e.g. 3,000 steps of 512; a seed's result changes with it (other float rounding) "
                   "(default: off)")
    p.add_argument("--val-fraction", type=_fraction,
                   help="held-out fraction for snapshot selection; 0 keeps the last snapshot "
                   f"(default: the preset's, else {DEFAULT_VAL_FRACTION})")
    p.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                   help="model hyperparameter, repeatable, e.g. --set transforms=8 "
                   "--set hidden=256,256 (default: the preset's, else the model's)")
    p.add_argument("--preprocess", type=_choice, action="append", default=[], metavar="COLUMN=KIND",
                   help="without --preset: replace the automatic preprocessing of a column, "
                   "repeatable, e.g. --preprocess pt=log --preprocess njet=integer; kinds: "
                   f"{', '.join(sorted(KINDS))}, a kind+peak, or point_mass+KIND "
                   "(default: chosen from the values; see --plan); a column named here is also "
                   "left out of the four-vectors the plan recognises (on-shell energies, a pair "
                   "mass, the azimuth, ordered objects)")
    p.add_argument("--plan", action="store_true",
                   help="print each feature's preprocessing (without --preset: the automatic plan "
                   "chosen from the values, with --preprocess applied; with it: the preset's steps) "
                   "and exit without training")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seeds the split, preprocessing noise, initialisation and training (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train (default auto: CUDA when available)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its checkpoint (same command), ending "
                   "exactly as an uninterrupted run would")
    p.add_argument("--force", action="store_true",
                   help="replace an existing model file at --out; a file of another kind (a table, "
                   "JSON, ...) is never replaced (default: refuse it; with --resume an existing "
                   "model file is reported as done)")
    p.add_argument("--ensemble", type=positive_int, metavar="M",
                   help="train M >= 4 members into one model file: member m on bootstrap resample "
                   "m//2 of the table with its own seed (pairs differ only in seed), so that "
                   "'flashgen worth' can state the uncertainty generated events inherit from the "
                   "training sample; members train in OUT.members/ and a rerun resumes there "
                   "(default: one model)")
    p.add_argument("--workers", "-j", type=positive_int, default=1,
                   help="parallel member trainings with --ensemble on a local Dask cluster, one "
                   "process and one torch thread each; every member trains with one torch thread "
                   "wherever it runs, so the model file does not depend on --workers (default 1: "
                   "in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --ensemble: train the members on the workers of a running Dask "
                   "scheduler (e.g. tcp://host:8786) instead of local processes; the workers "
                   "need flashgen installed and the output folder visible (default: none)")
    add_common(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    from ..data import read_table
    from ..files import TABLE_FORMATS, check_output_path
    from ..sources.registry import get_preset
    from ..training.fit import Columns, Split, TrainSettings, loop_config, model_config

    config = model_config(args.model, args.preset, dict(args.set))  # bad settings fail before reading
    chosen = dict(args.preprocess)  # with --preset refused by resolve_columns, the one rule
    if args.plan:
        _print_plan(args, chosen)
        return
    if args.out is None:
        from ..errors import FlashgenError

        raise FlashgenError("give --out FILE, the model file to write (only --plan writes nothing)")
    out = check_output_path(args.out, suffixes=None, inputs=[args.data], kind="model",
                            overwrite=args.force or args.resume)
    if out.suffix.lower() in (*TABLE_FORMATS, ".json"):
        from ..errors import FlashgenError

        raise FlashgenError(f"{out}: a model file is not a table or JSON; give a name such as "
                            f"{out.with_suffix('.pt')}")
    table = read_table(args.data, collections=args.collections)
    steps = args.steps
    if args.epochs:
        pre = get_preset(args.preset) if args.preset else None
        fraction = Split.resolve(args.val_fraction, pre).val_fraction
        batch = args.batch_size or loop_config(pre, args.model).batch_size
        steps = max(1, math.ceil(args.epochs * len(table) * (1 - fraction) / batch))
    settings = TrainSettings(steps=steps, batch_size=args.batch_size, snapshot_every=args.snapshot_every,
                             val_fraction=args.val_fraction, seed=args.seed, device=args.device,
                             quiet=args.quiet, compile=args.compile)
    options = {"columns": Columns(args.features, args.conditions, preprocessing=chosen), "preset": args.preset,
               "settings": settings, "config": config}
    if args.ensemble:
        _run_ensemble(args, table, options)
        return
    if args.scheduler is not None or args.workers != 1:
        from ..errors import FlashgenError

        raise FlashgenError("--workers and --scheduler run the members of an ensemble: add --ensemble M")
    _train_one(args, table, options)


def _print_plan(args: argparse.Namespace, chosen: dict[str, str]) -> None:
    """``--plan``: each feature's preprocessing, as training would choose it (on every row of
    the table; training plans on its training split), without training."""
    import numpy as np

    from ..data import read_table
    from ..sources.registry import get_preset
    from ..training.fit import Columns, resolve_columns
    from ..transforms.auto import plan_table

    table = read_table(args.data, collections=args.collections)
    preset = get_preset(args.preset) if args.preset else None
    cols = resolve_columns(table, preset, Columns(args.features, args.conditions, preprocessing=chosen))
    if preset is not None and set(cols.features) == set(preset.features):
        print(f"preset {preset.name}: {args.model} preprocessing of {len(cols.features)} features, in order:")
        for step in preset.steps_for(args.model):
            print(f"  {step.describe()}")
        return
    plan = plan_table({c: np.asarray(table[c], dtype=np.float64) for c in cols.features}, chosen)
    print(f"automatic preprocessing of {len(cols.features)} features ({len(table):,} rows of {args.data}):")
    print(plan.describe())
    print("change a choice with --preprocess COLUMN=KIND")


def _train_one(args: argparse.Namespace, table: Any, options: dict[str, Any]) -> None:
    from ..models import FlashModel
    from ..training import train
    from ..training.fit import Checkpoint

    out = Path(args.out)
    if args.resume and out.is_file():
        model = FlashModel.load(out)
        say(args, f"{out} is already trained ({model.kind}, {model.info.get('train_events')} events); "
                  "nothing to resume")
        return
    ckpt = checkpoint_path(out)
    from ..training.health import UnhealthyModel

    with Timer() as t:
        try:
            model = train(table, args.model, checkpoint=Checkpoint(ckpt, resume=args.resume), **options)
        except UnhealthyModel:
            ckpt.unlink(missing_ok=True)  # a rerun with other settings starts afresh
            raise
        model.save(out)
    ckpt.unlink(missing_ok=True)
    result = model.info["result"]
    score = result["best_score"]
    picked = f"snapshot of step {result['best_step']:,}" + (f" (KS sum {score:.4f})" if score is not None else "")
    say(args, f"trained {model.kind} on {model.info['train_events']:,} events "
              f"({model.info['val_events']:,} held out) in {t.seconds:.1f} s, "
              f"{result['samples_per_second']:,.0f} samples/s; kept the {picked}")
    say(args, f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {model.n_parameters():,} parameters; "
              f"features {', '.join(model.feature_names)}"
              + (f"; conditions {', '.join(model.condition_names)}" if model.condition_names else "") + ")")


def _run_ensemble(args: argparse.Namespace, table: Any, options: dict[str, Any]) -> None:
    from ..training.bootstrap import Workers, train_ensemble

    if args.resume:
        from ..errors import FlashgenError

        raise FlashgenError("--resume is for one model; an ensemble resumes by itself: rerun the same command")
    out = Path(args.out)
    with Timer() as t:
        ensemble = train_ensemble(table, args.ensemble, args.model, out=out,
                                  workers=Workers(args.workers, args.scheduler), **options)
    info = ensemble.info["ensemble"]
    say(args, f"trained an ensemble of {len(ensemble)} {args.model} models ({info['resamples']} bootstrap "
              f"resamples of {info['train_events']:,} events x 2 seeds) in {t.seconds:.1f} s; wrote {out} "
              f"({out.stat().st_size / 1e6:.2f} MB)")
