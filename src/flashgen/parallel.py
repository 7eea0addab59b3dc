"""Run independent tasks serially, on a local Dask cluster or on an existing Dask scheduler.

One executor serves every sharded job (the Z→μμ reference production, sharded generation): the
tasks are seeded by their own index, never by the worker that runs them, so a job's outputs do
not depend on how many workers ran it. With one worker and no scheduler nothing is started and
the tasks run in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

from .errors import FlashgenError

__all__ = ["Executor"]


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
                    dashboard_address=None, silence_logs=logging.ERROR))
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
