"""Run independent tasks serially, on a local Dask cluster or on an existing Dask scheduler.

One executor serves everything that fans out: the Z→μμ reference shards, sharded generation,
ensemble members, amplification and calibration repetitions, the benchmarks' studies. Tasks are
seeded by their own index, never by the worker that runs them, and run with one torch thread
wherever they run, so a job's outputs do not depend on how many workers, or which scheduler,
ran it. With one worker and no scheduler nothing is started and the tasks run in this process.

- :class:`Executor`: the workers (none, a ``LocalCluster`` or a scheduler's) and ``map``.
- :func:`run_tasks`: ``(index, result)`` of each task as it finishes, with a progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import FlashgenError
from .progress import progress

__all__ = ["Executor", "Workers", "one_torch_thread", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Workers:
    """What runs the tasks of a fan-out.

    Arguments:
        count: local worker processes (a Dask ``LocalCluster``, one torch thread each); 1 runs
            the tasks in this process.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``) whose workers run
            the tasks instead; they must see the job's input and output paths.

    Tasks run with one torch thread wherever they run, so results do not depend on either.
    """

    count: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise FlashgenError(f"the number of workers must be a positive integer, got {self.count!r}")

    @property
    def parallel(self) -> bool:
        """Whether the tasks leave this process."""
        return self.count > 1 or self.scheduler is not None


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with one intra-op torch thread, as every task runs on a worker; the thread
    count is restored afterwards."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _single_threaded(func: Callable[[T], R], task: T) -> R:
    """``func(task)`` with one torch thread: the same arithmetic in this process and on a worker."""
    with one_torch_thread():
        return func(task)


class Executor:
    """Runs tasks in this process, on a Dask ``LocalCluster`` or on a given scheduler.

    Arguments:
        stack: owns the cluster and client (closed when the stack closes).
        workers: local worker processes (one thread each); 1 runs tasks in this process.
        scheduler: address of a running Dask scheduler (``tcp://host:8786``) to use instead of
            local workers; its workers must see the job's input and output paths.
        n_tasks: number of tasks to run (no more local workers are started than tasks).
        extra: the extra of ``pyproject.toml`` that installs Dask, named when it is missing.
    """

    def __init__(self, stack: ExitStack, workers: int, scheduler: str | None, n_tasks: int,
                 extra: str = "dask") -> None:
        self.client: Any = None
        if scheduler is None and (workers == 1 or n_tasks <= 1):
            return
        from .extras import require

        distributed = require("dask.distributed", extra)
        Client, LocalCluster = distributed.Client, distributed.LocalCluster  # noqa: N806

        if scheduler is not None:
            try:
                self.client = stack.enter_context(Client(scheduler, timeout="10s"))
            except (OSError, ValueError) as err:
                raise FlashgenError(f"cannot connect to the Dask scheduler at {scheduler}: {err}") from None
        else:
            import dask

            # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc
            # hand every freed tensor back to the system: torch code that allocates per chunk
            # runs at half speed (flow generation: 46k instead of 86k events/s per worker,
            # measured). Workers keep the one-thread settings and the default allocator.
            environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                cluster = stack.enter_context(LocalCluster(
                    n_workers=min(workers, n_tasks), threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL))
            self.client = stack.enter_context(Client(cluster))

    @property
    def parallel(self) -> bool:
        """Whether tasks run on Dask workers (else in this process)."""
        return self.client is not None

    def map(self, func: Callable[..., Any], jobs: Sequence[tuple[Any, ...]],
            on_done: Callable[[tuple[Any, ...], Any], None] | None = None,
            local: Mapping[str, Any] | None = None) -> list[Any]:
        """``[func(*job) for job in jobs]``, in parallel when on Dask.

        Arguments:
            func: the task (importable, so that Dask workers can run it).
            jobs: the positional arguments of each task.
            on_done: ``on_done(job, result)`` in this process after each task, in completion order.
            local: keyword arguments added only when a task runs in this process (e.g. a
                progress callback that cannot travel to a worker).
        """
        done = on_done or (lambda job, result: None)
        if self.client is None:
            results = []
            for job in jobs:
                results.append(func(*job, **dict(local or {})))
                done(job, results[-1])
            return results
        from dask.distributed import as_completed

        futures = self.client.map(func, *zip(*jobs), pure=False) if jobs else []
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            done(jobs[index[future.key]], future.result())
        return self.client.gather(futures)

    def as_completed(self, func: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(i, func(tasks[i]))`` as each task finishes: in order in this process, in completion
        order on Dask. Each task runs with one torch thread. An exception in a task cancels the
        pending ones and is raised here."""
        if self.client is None:
            for i, task in enumerate(tasks):
                yield i, _single_threaded(func, task)
            return
        from dask.distributed import as_completed

        futures = self.client.map(_single_threaded, [func] * len(tasks), list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                yield index[future.key], future.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def run_tasks(func: Callable[[T], R], tasks: Sequence[T], *, workers: int = 1,
              scheduler: str | None = None, desc: str = "",
              extra: str = "dask") -> Iterator[tuple[int, R]]:
    """Apply ``func`` to every task on an :class:`Executor`, yielding ``(task index, result)`` as
    the tasks finish, with a progress bar.

    Arguments:
        func: function of one task, importable (module level) so that Dask workers can run it;
            the tasks must be picklable.
        tasks: the tasks.
        workers: local worker processes (one torch thread each); 1 runs the tasks here.
        scheduler: address of a running Dask scheduler to use instead of local workers.
        desc: label of the progress bar.
        extra: the extra of ``pyproject.toml`` that installs Dask, named when it is missing.
    """
    if workers < 1:
        raise FlashgenError(f"workers must be at least 1, got {workers}")
    with ExitStack() as stack:
        bar = stack.enter_context(progress(total=len(tasks), desc=desc, unit="task"))
        executor = Executor(stack, workers, scheduler, len(tasks), extra)
        for i, result in executor.as_completed(func, tasks):
            bar.update()
            yield i, result
