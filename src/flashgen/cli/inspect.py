"""``flashgen inspect``: what a model file holds (family, columns, training, preprocessing)."""

from __future__ import annotations

import argparse
from typing import Any

from ..arguments import add_common

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "inspect", help="describe a model file: columns, training, preprocessing",
        description="Print what a model file (flashgen train) holds: the model family, its features "
        "and conditions with units, the training (events, steps, kept snapshot, health), the range "
        "of every feature it generates within, and each feature's preprocessing (the automatic plan "
        "of a table without a preset, or the preset's steps). Reads the file only; no output.")
    p.add_argument("model", help="model file (.pt) written by flashgen train")
    add_common(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    for line in describe(args.model):
        print(line)


def describe(path: str) -> list[str]:
    """The lines ``flashgen inspect`` prints for the model file ``path``."""
    from ..models import load_model
    from ..models.ensemble import EnsembleModel
    from ..transforms.auto import AutoPlan, Plan

    model = load_model(path)
    members = model.members if isinstance(model, EnsembleModel) else [model]
    first = members[0]
    info = first.info
    units = {c.name: c.unit for c in model.output_columns}
    kind = f"ensemble of {len(members)} {first.kind} models" if len(members) > 1 else f"{first.kind} model"
    lines = [f"{path}: {kind}, preset {info.get('preset') or 'none'}, "
             f"{sum(m.n_parameters() for m in members):,} parameters",
             "features: " + ", ".join(f"{n} [{units[n]}]" if units.get(n) else n for n in model.feature_names)]
    if model.condition_names:
        lines.append("conditions: " + ", ".join(model.condition_names))
    result = info.get("result") or {}
    lines.append(f"training: {info.get('train_events', '?'):,} events ({info.get('val_events', '?'):,} held out "
                 f"for snapshot selection), {result.get('steps', '?')} steps, kept step {result.get('best_step', '?')}"
                 if isinstance(info.get("train_events"), int) and isinstance(info.get("val_events"), int)
                 else f"training: {info.get('train_events', '?')} events")
    health = info.get("health") or {}
    if "mean_ks" in health or "outside" in health:
        lines.append("health: " + ", ".join(f"{k} {health[k]:.3g}" for k in ("mean_ks", "outside",
                                                                                "loss_untrained", "loss_selected",
                                                                                "held_out_loss_untrained",
                                                                                "held_out_loss_selected")
                                            if isinstance(health.get(k), (int, float))))
    support = info.get("support") or {}
    if support:
        lines.append("training range: " + ", ".join(f"{n} [{lo:.4g}, {hi:.4g}]" for n, (lo, hi) in support.items()))
    plan = info.get("plan")
    if plan:
        lines.append("preprocessing (automatic plan):")
        lines += ["  " + line for line in Plan.from_dict(plan).describe().splitlines()]
    else:
        lines.append("preprocessing:")
        for step in first.features.steps:
            if isinstance(step, AutoPlan):
                continue
            lines.append(f"  {step.describe()}")
    return lines
