"""What happened to spasm activity after each prompt, from the wearer's own data.

No trial shows that breathing reduces spasms, so spasmwatch measures, per prompt, the
episodes and active seconds in the ``window_s`` after the prompt and in the same length
before it, and stores that on the prompt (:class:`~spasmwatch.store.Followup`). Insights
then compare prompts that were done with those dismissed or ignored.
"""

from __future__ import annotations

from spasmwatch.errors import StoreError
from spasmwatch.store._db import EventStore
from spasmwatch.store._values import Followup, Prompt

__all__ = ["compute_followup", "fill_prompt_followups"]

_NS = 1_000_000_000


def _overlap_s(a0: int, a1: int, b0: int, b1: int) -> float:
    return max(0, min(a1, b1) - max(a0, b0)) / _NS


def _union_overlap_s(intervals: list[tuple[int, int]], w0: int, w1: int) -> float:
    """Seconds of ``[w0, w1)`` covered by the union of ``intervals``."""
    clipped = sorted((max(s, w0), min(e, w1)) for s, e in intervals if e > w0 and s < w1)
    total = 0
    cur_s: int | None = None
    cur_e = 0
    for s, e in clipped:
        if cur_s is None or s > cur_e:
            if cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_s is not None:
        total += cur_e - cur_s
    return total / _NS


def compute_followup(store: EventStore, prompt: Prompt, window_s: float = 1800.0) -> Followup:
    """Spasm activity in ``[t - window, t)`` and ``[t, t + window)`` around a prompt.

    Counts episodes (of the prompt's wearer) by their start; active seconds are the parts of
    episodes inside each window. The triggering episode and episodes labeled false alarms
    are left out. ``lost_s_*`` are the seconds in each window in which any of the wearer's
    devices reported a signal loss.
    """
    if not window_s >= 1.0:
        raise StoreError(f"window_s must be >= 1 s (got {window_s!r})", reason="invalid")
    w = round(window_s * _NS)
    t = prompt.t_ns
    b0, a1 = t - w, t + w
    eps = [
        e
        for e in store.episodes(
            wearer_id=prompt.wearer_id, start_ns=b0, end_ns=a1, exclude_false_alarms=True
        )
        if e.id != prompt.episode_id
    ]
    losses = [
        (s.start_ns, s.end_ns)
        for s in store.signal_losses(wearer_id=prompt.wearer_id, start_ns=b0, end_ns=a1)
    ]
    return Followup(
        window_s=float(window_s),
        episodes_before=sum(1 for e in eps if b0 <= e.start_ns < t),
        episodes_after=sum(1 for e in eps if t <= e.start_ns < a1),
        active_s_before=sum(_overlap_s(e.start_ns, e.end_ns, b0, t) for e in eps),
        active_s_after=sum(_overlap_s(e.start_ns, e.end_ns, t, a1) for e in eps),
        lost_s_before=_union_overlap_s(losses, b0, t),
        lost_s_after=_union_overlap_s(losses, t, a1),
    )


def fill_prompt_followups(
    store: EventStore,
    now_ns: int,
    window_s: float = 1800.0,
    wearer_id: str | None = None,
) -> list[Prompt]:
    """Compute and store the follow-up of every prompt whose window has passed.

    Prompts with ``t_ns + window_s <= now_ns`` and no follow-up yet are filled (each in its
    own transaction). Returns the updated prompts. Safe to call repeatedly (the monitor
    calls it every few minutes); already filled prompts are left alone.
    """
    w = round(window_s * _NS)
    todo = store.prompts(wearer_id=wearer_id, end_ns=now_ns - w + 1, without_followup=True)
    return [store.set_prompt_followup(p.id, compute_followup(store, p, window_s)) for p in todo]
