"""fork_map: order, closures that cannot be pickled, errors from workers."""

from __future__ import annotations

import os

import pytest

from spasmwatch._workers import fork_map
from spasmwatch.errors import ModelError


@pytest.mark.parametrize("jobs", [1, 2])
def test_fork_map_keeps_order_and_takes_closures(jobs):
    items = [lambda k=k: k * k for k in range(7)]  # closures: not picklable
    parent = os.getpid()
    out = list(fork_map(lambda f: (f(), os.getpid()), items, jobs))
    assert [v for v, _ in out] == [k * k for k in range(7)]
    assert all((pid != parent) == (jobs > 1) for _, pid in out)


def test_fork_map_raises_a_worker_error_here():
    def boom(k):
        if k == 3:
            raise ModelError("item 3 is bad", reason="bad")
        return k

    with pytest.raises(ModelError, match="item 3 is bad") as ei:
        list(fork_map(boom, range(5), 2))
    assert ei.value.reason == "bad"
    assert list(fork_map(lambda k: k + 1, range(3), 2)) == [1, 2, 3]  # usable again
