"""Training step of the zmumu flow: zuko's density pass, the fast one, and the fast one compiled.

Three measurements, each of the paths in the same process (one torch thread):

1. **a whole training** — ``flashgen.training.train`` on the reference's first ``--events``
   selected events, ``--steps`` steps of the preset at the same seed through each path: the
   trainer's samples/s (snapshot scoring included) and the selected snapshot's score. The
   compiled training runs first, with an empty TorchInductor cache (a fresh folder), so its
   compile time (forward and backward of the spline, once per process) is counted in full;
   the paths round differently in float32, so the trainings are not bit-identical;
2. **the step** — forward, backward, gradient clipping and the AdamW update of the zmumu
   preset's flow (17 features, 8 coupling transforms, MLPs (64, 64), 8 bins) on batches of 512,
   alternating rounds of ``--step-repeats`` steps of each path (the load of a shared machine
   hits all alike); samples/s and their ratios;
3. **the same function** — in float64 on ``--events`` reference events, the largest difference
   of the log-likelihoods and of the gradients of the fast and the compiled path against zuko's.

The zuko path is the training step before the fast density: ``Flow.log_prob_reference`` and the
per-parameter loops of AdamW and of the gradient clipping (PyTorch's CPU default). The fast path
is the eager one (``compile="off"``, the default), the compiled path what ``compile="auto"``
chooses for trainings of at least 1,500,000 events drawn (``flashgen train --compile auto``).

Usage::

    python benchmarks/bench_train_step.py --reference DIR [--events 5719] [--steps 3000]
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

    def log_prob(self, x, c=None, compiled=False):
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


PATHS = ("zuko", "fast", "compiled")
LABELS = {"zuko": "zuko (before)", "fast": "fast density", "compiled": "fast density, compiled"}


def _path(name: str) -> contextlib.AbstractContextManager[None]:
    return zuko_path() if name == "zuko" else contextlib.nullcontext()


def step_rates(x: Any, rounds: int, repeats: int) -> dict[str, float]:
    """ms per training step of each path, alternating rounds (the first two are warm-up)."""
    import torch

    torch.manual_seed(0)
    flow = _preset_flow(x.shape[1])
    models, opts = {}, {}
    for name in PATHS:
        with _path(name):
            models[name] = copy.deepcopy(flow)
            opts[name] = models[name].configure_optimizers()
    models["compiled"].compile_steps(True)
    gen = torch.Generator().manual_seed(0)
    seconds = dict.fromkeys(PATHS, 0.0)
    for r in range(rounds + 2):
        for name in PATHS:
            with _path(name):
                start = time.perf_counter()
                for _ in range(repeats):
                    batch = x[torch.randint(len(x), (BATCH,), generator=gen)]
                    models[name].train_step(batch, None, opts[name], gen)
                if r >= 2:
                    seconds[name] += time.perf_counter() - start
    steps = rounds * repeats
    return {f"{k}_ms_per_step": 1e3 * v / steps for k, v in seconds.items()} | {
        f"{k}_samples_per_second": steps * BATCH / v for k, v in seconds.items()} | {
        "speedup": seconds["zuko"] / seconds["fast"], "speedup_compiled": seconds["zuko"] / seconds["compiled"],
        "rounds": rounds, "repeats": repeats}


def agreement(x: Any) -> dict[str, float]:
    """Largest differences of the fast and compiled paths' log-likelihoods and gradients from
    zuko's, in float64, on a flow trained for 300 steps (its splines away from the identity)."""
    import torch

    torch.manual_seed(1)
    flow = _preset_flow(x.shape[1])
    (opt,) = flow.configure_optimizers()
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        flow.train_step(x[torch.randint(len(x), (BATCH,), generator=gen)], None, [opt], gen)
    flow = flow.double()
    xd = x.double()
    params = list(flow.parameters())
    ref = flow.log_prob_reference(xd)
    g_ref = torch.autograd.grad(ref.mean(), params)
    out: dict[str, float] = {"events": len(x), "mean_log_prob": float(ref.detach().mean())}
    for name, compiled in (("fast", False), ("compiled", True)):
        value = flow.log_prob(xd, compiled=compiled)
        grads = torch.autograd.grad(value.mean(), params)
        rel = max(float((a - b).abs().max() / b.abs().max().clamp(min=1e-30)) for a, b in zip(grads, g_ref))
        out[f"{name}_max_abs_log_prob_difference"] = float((value.detach() - ref.detach()).abs().max())
        out[f"{name}_max_relative_gradient_difference"] = rel
    return out


def trainings(table: Any, steps: int) -> dict[str, dict[str, Any]]:
    """The preset's training through each path, same seed; the compiled one first, from an
    empty compile cache (its compile time counted)."""
    import os
    import tempfile
    from unittest import mock

    from flashgen.training import TrainSettings, train

    out = {}
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache, \
            mock.patch.dict(os.environ, {"TORCHINDUCTOR_CACHE_DIR": cache}):
        for name in ("compiled", "fast", "zuko"):
            with _path(name):
                model = train(table, "flow", preset="zmumu", settings=TrainSettings(
                    steps=steps, seed=0, device="cpu", quiet=True, compile="on" if name == "compiled" else "off"))
            r = model.info["result"]
            out[name] = {"samples_per_second": r["samples_per_second"], "seconds": r["seconds"],
                         "best_step": r["best_step"], "best_score": r["best_score"], "compiled": r["compiled"]}
    return out


def markdown(result: dict[str, Any]) -> str:
    s, a, t = result["step"], result["agreement"], result["training"]
    lines = [
        "# Training step of the zmumu flow: zuko's density pass, the fast one, and the fast one compiled",
        "",
        f"Command: `{result['command']}`",
        "",
        describe_machine(result["machine"]),
        "",
        f"## A whole training (`flashgen.training.train`, preset zmumu, {result['settings']['steps']:,} "
        f"steps, {result['settings']['events']:,} events, seed 0)",
        "",
        "| path | trainer samples/s | seconds | kept step | its selection score (KS sum on held-out events) |",
        "|---|---|---|---|---|",
    ]
    for name in PATHS:
        r = t[name]
        lines.append(f"| {LABELS[name]} | {r['samples_per_second']:,.0f} | {r['seconds']:.0f} | {r['best_step']:,} | "
                     f"{r['best_score']:.4f} |")
    fast = t["fast"]["samples_per_second"] / t["zuko"]["samples_per_second"]
    comp = t["compiled"]["samples_per_second"] / t["zuko"]["samples_per_second"]
    lines += ["", f"Trainer speed-up against zuko: fast **{fast:.2f}x**, compiled **{comp:.2f}x** (snapshot "
              "scoring included; the compiled training first in the process, from an empty compile cache: "
              "its compile time counted in full).", "",
              "## The step (forward, backward, clipping, AdamW; batch 512; alternating rounds)", "",
              "| path | ms / step | samples/s |", "|---|---|---|"]
    for name in PATHS:
        lines.append(f"| {LABELS[name]} | {s[f'{name}_ms_per_step']:.2f} | {s[f'{name}_samples_per_second']:,.0f} |")
    lines += ["", f"Speed-up against zuko: fast **{s['speedup']:.2f}x**, compiled **{s['speedup_compiled']:.2f}x** "
              f"({s['rounds']} rounds of {s['repeats']} steps each).", "",
              f"## The same function (float64, a flow trained 300 steps, {a['events']:,} reference events)", "",
              "| path | largest \\|Δ log p\\| against zuko (nats) | largest gradient difference / largest entry |",
              "|---|---|---|"]
    for name in ("fast", "compiled"):
        lines.append(f"| {LABELS[name]} | {a[f'{name}_max_abs_log_prob_difference']:.1e} | "
                     f"{a[f'{name}_max_relative_gradient_difference']:.1e} |")
    lines += ["", f"Mean log p {a['mean_log_prob']:.2f} nats.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a Z→μμ reference folder (flashgen simulate zmumu)")
    parser.add_argument("--events", type=int, default=5_719, help="selected events to train on")
    parser.add_argument("--steps", type=int, default=3_000,
                        help="steps of each whole training (3,000: a main-job member's)")
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
        "training": trainings(table, args.steps),  # first: the compiled one from an empty cache
        "step": step_rates(x, args.rounds, args.step_repeats),
        "agreement": agreement(x),
    }
    write_results(result, markdown(result), args.out, "train-step")
    print(markdown(result))


if __name__ == "__main__":
    main()
