"""Run one function over many items in forked worker processes (training, evaluation).

The items there are data sources whose sample generators are closures, which cannot be
pickled; a forked child inherits them instead. Only the results travel back (pickled).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["fork_map"]

#: ``(fn, items)`` of the running :func:`fork_map`, read by the forked workers.
_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _call(i: int) -> Any:
    assert _JOB is not None  # set before the pool forks
    fn, items = _JOB
    return fn(items[i])


def fork_map(fn: Callable[[Any], Any], items: Sequence[Any], jobs: int = 1) -> Iterator[Any]:
    """``fn(item)`` for every item, yielded in the items' order.

    ``jobs > 1`` computes them in that many forked worker processes (where the platform can
    fork; elsewhere, and for fewer than two items, here, one after the other). ``fn`` and
    ``items`` reach the workers by fork, so neither needs to be picklable; the results
    must be. An exception in a worker is raised here.
    """
    global _JOB
    n = len(items)
    if jobs <= 1 or n < 2 or "fork" not in mp.get_all_start_methods():
        for item in items:
            yield fn(item)
        return
    if _JOB is not None:
        raise RuntimeError("fork_map does not nest")
    _JOB = (fn, items)
    try:
        with mp.get_context("fork").Pool(min(jobs, n)) as pool:
            yield from pool.imap(_call, range(n), chunksize=1)
    finally:
        _JOB = None
