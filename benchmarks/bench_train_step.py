"""Training step of the zmumu flow: the fast density pass against zuko's, in one run.

Three measurements, each of both paths in the same process (one torch thread):

1. **the step** — forward, backward, gradient clipping and the AdamW update of the zmumu
   preset's flow (17 features, 8 coupling transforms, MLPs (64, 64), 8 bins) on batches of 512,
   alternating rounds of ``--step-repeats`` steps of each path (the load of a shared machine
   hits both alike); samples/s and their ratio;
2. **the same function** — in float64 on ``--events`` reference events, the largest difference
   of the log-likelihoods and of the gradients of the two paths;
3. **a whole training** — ``flashgen.training.train`` on the reference's first ``--events``
   selected events, ``--steps`` steps of the preset at the same seed through each path: the
   trainer's samples/s (snapshot scoring included) and the selected snapshot's held-out NLL.
   The paths round differently in float32, so the two trainings are not bit-identical; they
   reach the same likelihood within its noise.

The zuko path is the training step before the fast density: ``Flow.log_prob_reference`` and the
per-parameter loops of AdamW and of the gradient clipping (PyTorch's CPU default).

Usage::

    python benchmarks/bench_train_step.py --reference DIR [--events 5719] [--steps 1500]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from common import command_line, describe_machine, write_results

RESULTS = Path(__file__).parent / "results"
BATCH = 512


@contextlib.contextmanager
def zuko_path() -> Iterator[None]:
    """Train the flow as before the fast density pass (zuko's log-likelihood, looped AdamW and
    gradient clipping)."""
    import torch

    from flashgen.models.flow import Flow
    from flashgen.models.interface import Trainable

    def log_prob(self, x, c=None):
        return self.log_prob_reference(x, c)

    def optimizers(self):
        return [torch.optim.AdamW(self.parameters(), lr=self.config.lr,
                                  weight_decay=self.config.weight_decay, foreach=False)]

    def minimise(loss, optimizer, clip=None):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(clip[0].parameters(), clip[1], foreach=False)
        optimizer.step()

    saved = Flow.log_prob, Flow.configure_optimizers, Trainable.__dict__["minimise"]
    Flow.log_prob, Flow.configure_optimizers = log_prob, optimizers
    Trainable.minimise = staticmethod(minimise)
    try:
        yield
    finally:
        Flow.log_prob, Flow.configure_optimizers = saved[:2]
        Trainable.minimise = saved[2]


def _preset_flow(features: int):
    from flashgen.models.flow import Flow
    from flashgen.sources.registry import get_preset

    return Flow(features, 0, get_preset("zmumu").hparams["flow"])


def preprocessed(table: Any) -> Any:
    """The training tensor of ``table`` as the zmumu preset preprocesses it, ``(n, features)``."""
    import torch

    from flashgen.sources.registry import get_preset
    from flashgen.training.fit import resolve_columns
    from flashgen.transforms import Pipeline

    preset = get_preset("zmumu")
    cols = resolve_columns(table, preset)
    names = cols.features + cols.conditions
    pipe = Pipeline(cols.features, preset.steps_for("flow"), cols.conditions)
    values = {n: torch.as_tensor(np.asarray(table[n], dtype=np.float64)) for n in names}
    return pipe.fit(values, torch.Generator().manual_seed(0)).float()


def step_rates(x: Any, rounds: int, repeats: int) -> dict[str, float]:
    """ms per training step of each path, alternating rounds (the first two are warm-up)."""
    import torch

    torch.manual_seed(0)
    flow = _preset_flow(x.shape[1])
    models = {"fast": copy.deepcopy(flow)}
    with zuko_path():
        models["zuko"] = copy.deepcopy(flow)
        opt_zuko = models["zuko"].configure_optimizers()
    opts = {"fast": models["fast"].configure_optimizers(), "zuko": opt_zuko}
    gen = torch.Generator().manual_seed(0)
    seconds = {"fast": 0.0, "zuko": 0.0}
    for r in range(rounds + 2):
        for name in ("zuko", "fast"):
            ctx = zuko_path() if name == "zuko" else contextlib.nullcontext()
            with ctx:
                start = time.perf_counter()
                for _ in range(repeats):
                    batch = x[torch.randint(len(x), (BATCH,), generator=gen)]
                    models[name].train_step(batch, None, opts[name], gen)
                if r >= 2:
                    seconds[name] += time.perf_counter() - start
    steps = rounds * repeats
    return {f"{k}_ms_per_step": 1e3 * v / steps for k, v in seconds.items()} | {
        f"{k}_samples_per_second": steps * BATCH / v for k, v in seconds.items()} | {
        "speedup": seconds["zuko"] / seconds["fast"], "rounds": rounds, "repeats": repeats}


def agreement(x: Any) -> dict[str, float]:
    """Largest differences of the two paths' log-likelihoods and gradients in float64, on a flow
    trained for 300 steps (its splines away from the identity)."""
    import torch

    torch.manual_seed(1)
    flow = _preset_flow(x.shape[1])
    (opt,) = flow.configure_optimizers()
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        flow.train_step(x[torch.randint(len(x), (BATCH,), generator=gen)], None, [opt], gen)
    flow = flow.double()
    xd = x.double()
    fast, ref = flow.log_prob(xd), flow.log_prob_reference(xd)
    params = list(flow.parameters())
    g_fast = torch.autograd.grad(fast.mean(), params)
    g_ref = torch.autograd.grad(ref.mean(), params)
    rel = max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-30)) for a, b in zip(g_fast, g_ref))
    fast, ref = fast.detach(), ref.detach()
    return {"events": len(x), "max_abs_log_prob_difference": float((fast - ref).abs().max()),
            "mean_log_prob": float(ref.mean()), "max_relative_gradient_difference": rel}


def trainings(table: Any, steps: int) -> dict[str, dict[str, Any]]:
    """The preset's training through each path, same seed; the fast one first."""
    from flashgen.training import TrainSettings, train

    out = {}
    for name in ("fast", "zuko"):
        ctx = zuko_path() if name == "zuko" else contextlib.nullcontext()
        with ctx:
            model = train(table, "flow", preset="zmumu", settings=TrainSettings(steps=steps, seed=0, device="cpu",
                                                                                quiet=True))
        r = model.info["result"]
        out[name] = {"samples_per_second": r["samples_per_second"], "seconds": r["seconds"],
                     "best_step": r["best_step"], "best_score": r["best_score"],
                     "final_nll": r["history"][-1].get("val_nll") if r["history"] else None}
    return out


def markdown(result: dict[str, Any]) -> str:
    s, a, t = result["step"], result["agreement"], result["training"]
    lines = [
        "# Training step of the zmumu flow: fast density pass against zuko's",
        "",
        f"Command: `{result['command']}`",
        "",
        describe_machine(result["machine"]),
        "",
        "## The step (forward, backward, clipping, AdamW; batch 512; alternating rounds)",
        "",
        "| path | ms / step | samples/s |",
        "|---|---|---|",
        f"| zuko (before) | {s['zuko_ms_per_step']:.2f} | {s['zuko_samples_per_second']:,.0f} |",
        f"| fast density | {s['fast_ms_per_step']:.2f} | {s['fast_samples_per_second']:,.0f} |",
        "",
        f"Speed-up: **{s['speedup']:.2f}x** ({s['rounds']} rounds of {s['repeats']} steps each).",
        "",
        "## The same function (float64, a flow trained 300 steps, "
        f"{a['events']:,} reference events)",
        "",
        f"Largest |Δ log p|: {a['max_abs_log_prob_difference']:.1e} nats (mean log p "
        f"{a['mean_log_prob']:.2f}); largest gradient difference relative to the gradient's "
        f"largest entry: {a['max_relative_gradient_difference']:.1e}.",
        "",
        f"## A whole training (`flashgen.training.train`, preset zmumu, {result['settings']['steps']:,} "
        f"steps, {result['settings']['events']:,} events, seed 0)",
        "",
        "| path | trainer samples/s | seconds | kept step | its selection score (KS sum on held-out events) |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("zuko", "zuko (before)"), ("fast", "fast density")):
        r = t[name]
        lines.append(f"| {label} | {r['samples_per_second']:,.0f} | {r['seconds']:.0f} | {r['best_step']:,} | "
                     f"{r['best_score']:.4f} |")
    ratio = t["fast"]["samples_per_second"] / t["zuko"]["samples_per_second"]
    lines += ["", f"Trainer speed-up: **{ratio:.2f}x** (snapshot scoring included).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a Z→μμ reference folder (flashgen simulate zmumu)")
    parser.add_argument("--events", type=int, default=5_719, help="selected events to train on")
    parser.add_argument("--steps", type=int, default=1_500, help="steps of each whole training")
    parser.add_argument("--rounds", type=int, default=12, help="timed rounds of each path")
    parser.add_argument("--step-repeats", type=int, default=25, help="steps per round")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    import torch

    from flashgen.data import read_table
    from flashgen.speed import machine_info

    torch.set_num_threads(1)
    table = read_table(args.reference)
    if "selected" in table:
        table = table.take(np.flatnonzero(np.asarray(table["selected"]) == 1))
    table = table.take(np.arange(min(args.events, len(table))))
    x = preprocessed(table)
    result = {
        "command": command_line("bench_train_step.py", argv),
        "machine": machine_info(),
        "settings": {"events": len(table), "steps": args.steps, "batch_size": BATCH},
        "step": step_rates(x, args.rounds, args.step_repeats),
        "agreement": agreement(x),
        "training": trainings(table, args.steps),
    }
    write_results(result, markdown(result), args.out, "train-step")
    print(markdown(result))


if __name__ == "__main__":
    main()
