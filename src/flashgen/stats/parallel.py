"""Run independent repetitions over CPU cores, one single-threaded torch per worker process."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from ..progress import progress

__all__ = ["init_worker", "map_tasks"]

T = TypeVar("T")
R = TypeVar("R")


def init_worker() -> None:
    """Worker initialiser: one torch thread per process (workers already use every core)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def map_tasks(fn: Callable[[T], R], tasks: Sequence[T], workers: int = 1,
              desc: str = "") -> Iterator[tuple[int, R]]:
    """Apply ``fn`` to every task, yielding ``(task index, result)`` as they finish.

    With ``workers == 1`` the tasks run in this process, in order. Otherwise they run in a
    ``ProcessPoolExecutor`` of ``workers`` fresh (spawned) processes, each calling
    :func:`init_worker`; ``fn`` and the tasks must be picklable (module-level functions,
    dataclasses). An exception in a task cancels the pending ones and is re-raised here.

    Arguments:
        fn: function of one task.
        tasks: the tasks.
        workers: number of processes (>= 1).
        desc: label of the progress bar.
    """
    bar = progress(total=len(tasks), desc=desc, unit="task")
    try:
        if workers <= 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                result = fn(task)
                bar.update()
                yield i, result
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                                 initializer=init_worker) as pool:
            pending: dict[Future[Any], int] = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        i = pending.pop(future)
                        result = future.result()
                        bar.update()
                        yield i, result
            finally:
                for future in pending:
                    future.cancel()
    finally:
        bar.close()
