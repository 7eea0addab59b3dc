"""Speed of generation, measured: what ``flashgen bench`` runs (the speed benchmark scripts in
``benchmarks/`` reuse the same measurements).

Three rates are measured for a model file, each the best of a few repeats (the machine may be
shared; the median is kept too):

- *network*: ``network.sample`` alone, in model space (what a GPU accelerates);
- *columns*: network plus the inverse preprocessing, physical numpy columns in memory;
- *parquet*: :func:`flashgen.generation.generate` end to end, streamed to a Parquet file.

The arithmetic cost of a network is counted, not estimated: forward hooks on every linear layer
add up the multiply-adds evaluated while sampling (for a flow: the layers run by the inverse
transforms), so FLOPs per event = 2 x multiply-adds per event. Divided into the machine's
roofline, the float32 matrix-product rate of torch (:func:`matmul_roofline`), it says how close
generation gets to the arithmetic limit.

:func:`flashgen.files.write_json` writes the JSON result of ``flashgen bench``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import EventTable
from .errors import FlashgenError
from .models.ensemble import EnsembleModel, load_model
from .models.flashmodel import FlashModel

__all__ = ["QUICK_EVENTS", "QUICK_STEPS", "columns_job", "linear_macs_per_event", "machine_info",
           "matmul_roofline", "network_job", "parquet_job", "peak_rss_mb", "quick_model",
           "speed_benchmark", "time_rate"]

QUICK_EVENTS = 1000
"""Generated Z→μμ events (pileup 0) of the quick built-in model's training sample."""
QUICK_STEPS = 50
"""Training steps of the quick built-in model (its speed is that of a fully trained one)."""


# ------------------------------------------------------------------------------- the machine


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """CPU model (from /proc/cpuinfo), cores, memory, torch threads and versions, date, GPU."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 2**20, 1)
    versions = {}
    for package in ("flashgen", "torch", "zuko", "numpy", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["torch"] = str(torch.__version__)
    info: dict[str, Any] = {
        "cpu_model": cpu, "cores": os.cpu_count(), "memory_gib": memory,
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "python": platform.python_version(), "versions": versions,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                       "multiprocessors": props.multi_processor_count,
                       "cuda": torch.version.cuda}
    return info


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``getrusage``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def matmul_roofline(device: str = "cpu", *, threads: int | None = 2, size: int = 2048,
                    repeats: int = 5) -> float:
    """Arithmetic limit: float32 FLOP/s of a ``size x size`` matrix product with torch.

    Arguments:
        device: ``"cpu"`` or ``"cuda"``.
        threads: torch CPU threads during the measurement (``None``: leave as is).
        size: matrix side; one product costs ``2 size^3`` FLOPs.
        repeats: timed products; the best is kept (after one warm-up).
    """
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, generator=gen, device=device)
    b = torch.randn(size, size, generator=gen, device=device)
    best = float("inf")
    with _threads(threads), torch.inference_mode():
        torch.mm(a, b)
        _sync(device)
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            _sync(device)
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


# ------------------------------------------------------------------------------- arithmetic cost


def linear_macs_per_event(model: FlashModel, n: int = 256) -> float:
    """Multiply-adds of the linear layers evaluated per generated event while sampling.

    Counted with forward hooks during ``model.network.sample`` of ``n`` events: each linear layer
    adds ``(output elements) x (input features)``, so flows count only the layers their inverse
    (sampling) direction runs, and a GAN only its generator. A model with a fused sampling path
    (the flow's :class:`~flashgen.models.flow_sampling.CouplingSampler`, which evaluates the
    same layers without calling the modules) is counted through its ``sample_reference``.
    """
    total = [0]

    def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
        total[0] += output.numel() * module.weight.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.network.modules()
               if isinstance(getattr(m, "weight", None), torch.Tensor) and m.weight.dim() >= 2
               and hasattr(m, "in_features")]
    try:
        with torch.inference_mode():
            sample = getattr(model.network, "sample_reference", model.network.sample)
            sample(n, _context(model, n), torch.Generator(device=model.device).manual_seed(0))
    finally:
        for h in handles:
            h.remove()
    return total[0] / n


def _context(model: FlashModel, n: int) -> torch.Tensor | None:
    """Model-space conditions for a conditional network: zeros (the standardised mean)."""
    if model.conditions is None:
        return None
    width = int(model.network.hparams.get("context", 0))
    return torch.zeros((n, width), device=model.device)


# ------------------------------------------------------------------------------- timing


def time_rate(work: Callable[[], int], *, repeats: int = 3, device: str = "cpu",
              warmup: bool = True) -> dict[str, float]:
    """Events per second of ``work`` (which returns the number of events it made).

    Returns:
        ``{"best": .., "median": .., "seconds": best wall time}`` over ``repeats`` runs
        (after one untimed warm-up run when ``warmup``).
    """
    if warmup:
        work()
        _sync(device)
    rates, times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        n = work()
        _sync(device)
        seconds = time.perf_counter() - start
        rates.append(n / max(seconds, 1e-12))
        times.append(seconds)
    return {"best": max(rates), "median": statistics.median(rates), "seconds": min(times)}


def network_job(model: FlashModel, n: int, batch: int, seed: int) -> Callable[[], int]:
    """A :func:`time_rate` job: ``n`` events from the network alone in batches of ``batch``,
    made in parallel threads as generation makes its chunks (:func:`~flashgen.generation.in_threads`)."""
    from .generation import default_threads, in_threads

    def one(k: int) -> None:
        with torch.inference_mode():
            model.network.sample(k, _context(model, k), torch.Generator(device=model.device).manual_seed(seed))

    def work() -> int:
        model.network.eval()
        sizes = [min(batch, n - start) for start in range(0, n, batch)]
        for _ in in_threads(one, sizes, default_threads(model)):
            pass
        return n

    return work


def columns_job(model: FlashModel, n: int, batch: int, seed: int,
                  conditions: EventTable | None) -> Callable[[], int]:
    """A :func:`time_rate` job: ``n`` events as physical columns in memory (no file)."""
    from .generation import iter_chunks

    def work() -> int:
        for _ in iter_chunks(model, n, seed=seed, conditions=conditions, chunk_size=batch):
            pass
        return n

    return work


def parquet_job(model: FlashModel, n: int, batch: int, seed: int, conditions: EventTable | None,
                  folder: Path, sizes: list[int] | None = None) -> Callable[[], int]:
    """A :func:`time_rate` job: ``n`` events generated to ``folder/bench.parquet`` (then removed;
    its size in bytes appended to ``sizes``)."""
    from .generation import Sampling, generate

    def work() -> int:
        path = folder / "bench.parquet"
        generate(model, path, n, sampling=Sampling(seed, batch), conditions=conditions, quiet=True)
        if sizes is not None:
            sizes.append(path.stat().st_size)
        path.unlink()
        return n

    return work


# ------------------------------------------------------------------------------- built-in model


def quick_model(kind: str, workdir: str | os.PathLike[str], *, seed: int = 0,
                events: int = QUICK_EVENTS, steps: int = QUICK_STEPS, device: str = "cpu",
                quiet: bool = True) -> Path:
    """Train the quick built-in model: ``kind`` with the zmumu preset's architecture, ``steps``
    steps on ``events`` freshly simulated Z→μμ events without pileup. Its generation speed is
    that of a fully trained model of the same size (its accuracy is not). Returns the model file.
    """
    from .data import read_table
    from .sources.zmumu import ZmumuOptions, simulate_zmumu
    from .training import TrainSettings, train

    folder = Path(workdir)
    simulate_zmumu(events, seed, folder / "zmumu", options=ZmumuOptions(pileup=0.0), quiet=quiet)
    model = train(read_table(folder / "zmumu"), kind, preset="zmumu", settings=TrainSettings(
        steps=steps, snapshot_every=steps, seed=seed, device=device, quiet=quiet))
    return model.save(folder / f"quick-{kind}.pt")


# ------------------------------------------------------------------------------- the benchmark


def speed_benchmark(model_path: str | os.PathLike[str], *, events: int = 1_000_000,
                    chunk_size: int = 200_000, repeats: int = 3, device: str = "cpu",
                    seed: int = 0, conditions: EventTable | None = None,
                    roofline: float | None = None) -> dict[str, Any]:
    """Measure how fast a model file generates events.

    Arguments:
        model_path: a model file written by ``flashgen train``.
        events: events per timed run.
        chunk_size: events per chunk (network batch, Parquet row group).
        repeats: timed runs of each rate (after a warm-up); the best and the median are kept.
        device: where the network runs (``"cpu"`` or ``"cuda"``).
        seed: generation seed.
        conditions: for a conditional model, a table of conditions (rows reused cyclically).
        roofline: FLOP/s limit to compare with (default: measured, :func:`matmul_roofline`).

    Returns:
        JSON-ready: ``model`` (kind, parameters, file size), ``settings``, ``rates`` (events/s:
        ``network``, ``columns``, ``parquet``, each best and median), ``flops_per_event``,
        ``roofline_flops``, ``roofline_fraction`` (network-alone FLOP/s over the roofline),
        ``parquet_bytes_per_event`` (the Parquet file's size per event) and ``peak_rss_mb``.
    """
    if events < 1 or chunk_size < 1 or repeats < 1:
        raise FlashgenError("events, chunk size and repeats must be positive")
    path = Path(model_path)
    loaded = load_model(path, device=device)
    # an ensemble generates with each member in turn: one member's rate is the ensemble's
    members = len(loaded) if isinstance(loaded, EnsembleModel) else 1
    model = loaded.members[0] if isinstance(loaded, EnsembleModel) else loaded
    if model.condition_names:
        if conditions is None:
            raise FlashgenError(f"{path} is conditional: give a conditions table with columns "
                                + ", ".join(model.condition_names))
        conditions = conditions.take(np.arange(events) % len(conditions))
    else:
        conditions = None
    macs = linear_macs_per_event(model)
    if roofline is None:
        roofline = matmul_roofline(device, threads=None)
    rates = {"network": time_rate(network_job(model, events, chunk_size, seed), repeats=repeats,
                                  device=device)}
    rates["columns"] = time_rate(columns_job(model, events, chunk_size, seed, conditions),
                                 repeats=repeats, device=device)
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="flashgen-bench-") as tmp:
        rates["parquet"] = time_rate(parquet_job(model, events, chunk_size, seed, conditions,
                                                   Path(tmp), sizes), repeats=repeats, device=device)
    flops = 2.0 * macs
    return {
        "model": {"path": str(path), "kind": model.kind, "parameters": model.n_parameters(),
                  "file_mb": path.stat().st_size / 1e6, "columns": len(model.output_columns),
                  "hparams": model.network.hparams, "preset": model.info.get("preset"),
                  "ensemble_members": members},
        "settings": {"events": events, "chunk_size": chunk_size, "repeats": repeats,
                     "device": device, "seed": seed, "torch_threads": torch.get_num_threads()},
        "rates": rates,
        "flops_per_event": flops,
        "roofline_flops": roofline,
        "roofline_fraction": flops * rates["network"]["best"] / roofline,
        "parquet_bytes_per_event": sizes[-1] / events,
        "peak_rss_mb": peak_rss_mb(),
    }
