"""Device clock → host clock: a streaming, drift-tracking lower-envelope fit.

Every notification gives one point ``(device_ns, host_ns)``: the device time of a sample
(usually the frame's last one) and the host time the notification arrived. Delivery only
ever adds delay (connection-interval wait, radio retries, host scheduling, held-back
bursts), so ``host_ns`` is an *upper bound* of the sample's true host time. A least-squares
fit would be biased late by the mean latency and pulled around by bursts; instead the fit
keeps the *lower envelope*: the line that lies below every point of a sliding horizon and
is as close to them as possible (the linear programme ``max a + b·mean(x)`` subject to
``a + b·x_i <= y_i``, whose optimum is the lower-convex-hull edge above the mean). Its
offset tracks the fastest notifications; its slope is the clock drift.

Points are first reduced to the minimum per ``bin_s`` of device time (order-independent,
so feeding the same points in any chunking gives the same state), and bins older than
``horizon_s`` before the newest are forgotten, so the fit follows slow drift changes.
The line is fitted on the *closed* bins (all but the newest, still filling; the newest
alone until a second one opens), so it is recomputed about once per bin, not per point.

The envelope sits on the link's *minimum* latency, which the host cannot observe;
``latency_floor_s`` (default 0) is subtracted when a figure for it is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spasmwatch.errors import ConfigError

__all__ = ["ClockFitState", "DeviceClockFit", "fit_clock"]


@dataclass(frozen=True, slots=True)
class ClockFitState:
    """Snapshot of a clock fit.

    Parameters
    ----------
    offset_ns : float
        Host time (UTC ns) minus device time at the reference point ``device_ref_ns``.
    device_ref_ns : int
        Device time the offset refers to (the first device time seen).
    drift_ppm : float
        Device clock rate error in parts per million: positive when the device clock runs
        fast (``host = ref + (device - ref) * (1 - drift)``, first order).
    residual_ns : float
        RMS distance (ns) of the per-bin minimum points above the fitted envelope: the
        jitter the fit could not see through. Small (≲ a few ms) when the fit is good.
    n_points : int
        Notifications that contributed to the bins currently in the horizon.
    span_s : float
        Device-time span (s) covered by the bins in the horizon.
    """

    offset_ns: float
    device_ref_ns: int
    drift_ppm: float
    residual_ns: float
    n_points: int
    span_s: float


class DeviceClockFit:
    """Streaming map from device time to host time (UTC ns) that tracks clock drift.

    Parameters
    ----------
    horizon_s : float
        Sliding horizon of device time (s) over which the envelope is fitted.
    bin_s : float
        Device-time bin (s) within which only the minimum-latency point is kept.
    min_span_s : float
        Below this device-time span the slope is not fitted (too little lever arm);
        the previous drift estimate (0 ppm at first) is kept and only the offset moves.
    max_drift_ppm : float
        Drift estimates are clipped to ``±max_drift_ppm`` (a real crystal is within
        ~±100 ppm; a larger slope means a clock jump, not drift).
    latency_floor_s : float
        Known minimum delivery latency (s) subtracted from the envelope; 0 when unknown.

    Notes
    -----
    ``update`` accepts scalars or equal-length arrays; ``to_host`` uses the current fit.
    The batch form :func:`fit_clock` is the same computation on all points at once.
    """

    def __init__(
        self,
        *,
        horizon_s: float = 120.0,
        bin_s: float = 0.5,
        min_span_s: float = 5.0,
        max_drift_ppm: float = 1000.0,
        latency_floor_s: float = 0.0,
    ) -> None:
        for name, v in (("horizon_s", horizon_s), ("bin_s", bin_s)):
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ConfigError(f"DeviceClockFit.{name} must be a number > 0 s (got {v!r})")
        if not bin_s < horizon_s:
            raise ConfigError(
                f"DeviceClockFit.bin_s ({bin_s}) must be smaller than horizon_s ({horizon_s})"
            )
        if not (math.isfinite(min_span_s) and min_span_s >= 0):
            raise ConfigError(f"DeviceClockFit.min_span_s must be >= 0 s (got {min_span_s!r})")
        if not (math.isfinite(max_drift_ppm) and max_drift_ppm > 0):
            raise ConfigError(f"DeviceClockFit.max_drift_ppm must be > 0 (got {max_drift_ppm!r})")
        if not (math.isfinite(latency_floor_s) and latency_floor_s >= 0):
            raise ConfigError(
                f"DeviceClockFit.latency_floor_s must be >= 0 s (got {latency_floor_s!r})"
            )
        self.horizon_s = float(horizon_s)
        self.bin_s = float(bin_s)
        self.min_span_s = float(min_span_s)
        self.max_drift_ppm = float(max_drift_ppm)
        self.latency_floor_s = float(latency_floor_s)
        self._bin_ns = round(self.bin_s * 1e9)
        self._n_keep = math.ceil(self.horizon_s / self.bin_s)
        self._prior_drift = 0.0
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self, *, keep_drift: bool = False) -> None:
        """Forget every point. With ``keep_drift`` the current drift estimate is kept as the
        prior slope (useful after a device-time discontinuity on a device whose clock
        itself did not change)."""
        prior = 0.0
        if keep_drift and hasattr(self, "_slope_e"):
            self._fit()
            prior = self._slope_e
        self._prior_drift = prior
        self._ref_dev: int | None = None
        self._ref_host: int | None = None
        # bin number -> [x (device ns - ref), y (host - device, ns, relative to ref), count]
        self._bins: dict[int, list[float]] = {}
        self._newest_bin: int | None = None
        self._n_total = 0
        self._dirty = True
        self._a = 0.0  # envelope value of y at x = 0 (ns)
        self._slope_e = prior  # dy/dx (drift, dimensionless; +ppm*1e-6 means host faster)
        self._residual = 0.0

    @property
    def ready(self) -> bool:
        """True once at least one point was seen."""
        return self._ref_dev is not None

    def update(self, device_ns: int | np.ndarray, host_ns: int | np.ndarray) -> None:
        """Add points.

        Parameters
        ----------
        device_ns : int or numpy.ndarray
            Device time(s) in ns (any epoch; int64). Shape ``()`` or ``(n_points,)``.
        host_ns : int or numpy.ndarray
            Host arrival time(s), UTC ns, same shape as ``device_ns``.
        """
        d = np.atleast_1d(np.asarray(device_ns, dtype=np.int64))
        h = np.atleast_1d(np.asarray(host_ns, dtype=np.int64))
        if d.shape != h.shape or d.ndim != 1:
            raise ConfigError(
                "DeviceClockFit.update needs device_ns and host_ns of the same 1-D shape "
                f"(got {d.shape} and {h.shape})"
            )
        if d.size == 0:
            return
        if self._ref_dev is None:
            self._ref_dev = int(d[0])
            self._ref_host = int(h[0])
        x = d - self._ref_dev  # int64, exact
        y = (h - self._ref_host) - x  # latency + offset change, int64 exact
        b = np.floor_divide(x, self._bin_ns)
        bins = self._bins
        prev_newest = self._newest_bin
        changed_closed = False
        for bi, xi, yi in zip(b.tolist(), x.tolist(), y.tolist()):
            cur = bins.get(bi)
            if cur is None:
                bins[bi] = [float(xi), float(yi), 1.0]
                changed_closed = changed_closed or (prev_newest is not None and bi < prev_newest)
            else:
                cur[2] += 1.0
                if yi < cur[1]:
                    cur[0] = float(xi)
                    cur[1] = float(yi)
                    changed_closed = changed_closed or (
                        prev_newest is not None and bi < prev_newest
                    )
        self._n_total += int(d.size)
        newest = int(b.max())
        if self._newest_bin is None or newest > self._newest_bin:
            self._newest_bin = newest
        if self._newest_bin != prev_newest and len(bins) > self._n_keep:
            oldest_kept = self._newest_bin - self._n_keep + 1
            for k in [k for k in bins if k < oldest_kept]:
                del bins[k]
        # The fit uses the closed bins (all but the newest, still filling); it changes when
        # a bin closes, when a closed bin changes, or while no bin is closed yet.
        if changed_closed or self._newest_bin != prev_newest or len(bins) == 1:
            self._dirty = True

    # ------------------------------------------------------------------ fit

    def _fit(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if not self._bins:
            return
        keys = sorted(self._bins)
        if len(keys) > 1:
            keys = keys[:-1]  # closed bins only
        bins = self._bins
        x = np.fromiter((bins[k][0] for k in keys), np.float64, len(keys))
        y = np.fromiter((bins[k][1] for k in keys), np.float64, len(keys))
        lim = self.max_drift_ppm * 1e-6
        span = (x[-1] - x[0]) / 1e9
        if span < self.min_span_s or len(x) < 2:
            e = self._prior_drift
            a = float(np.min(y - e * x))
        else:
            a, e = _lower_envelope(x, y)
            if not -lim <= e <= lim:
                e = float(np.clip(e, -lim, lim))
                a = float(np.min(y - e * x))
        self._a = a
        self._slope_e = e
        r = y - (a + e * x)
        self._residual = float(np.sqrt(np.mean(r * r)))

    def to_host(self, device_ns: int | np.ndarray) -> np.ndarray:
        """Map device time(s) to host time, UTC ns.

        Parameters
        ----------
        device_ns : int or numpy.ndarray
            Device time(s) in ns, shape ``(n,)`` or scalar.

        Returns
        -------
        numpy.ndarray
            int64 host times, shape ``(n,)`` (``(1,)`` for a scalar).
        """
        if self._ref_dev is None or self._ref_host is None:
            raise ConfigError(
                "DeviceClockFit.to_host called before any update(); feed at least one "
                "(device_ns, host_ns) point first"
            )
        self._fit()
        d = np.atleast_1d(np.asarray(device_ns, dtype=np.int64))
        x = (d - self._ref_dev).astype(np.float64)
        shift = self._a + self._slope_e * x - self.latency_floor_s * 1e9
        return self._ref_host + (d - self._ref_dev) + np.round(shift).astype(np.int64)

    def state(self) -> ClockFitState:
        """The current fit (offset, drift, residual) — see :class:`ClockFitState`."""
        self._fit()
        keys = sorted(self._bins)
        span = 0.0
        n = 0
        if keys:
            span = (self._bins[keys[-1]][0] - self._bins[keys[0]][0]) / 1e9
            n = int(sum(self._bins[k][2] for k in keys))
        ref_h = self._ref_host or 0
        ref_d = self._ref_dev or 0
        return ClockFitState(
            offset_ns=float(ref_h - ref_d) + self._a - self.latency_floor_s * 1e9,
            device_ref_ns=ref_d,
            drift_ppm=-self._slope_e * 1e6,
            residual_ns=self._residual,
            n_points=n,
            span_s=span,
        )

    @property
    def drift_ppm(self) -> float:
        """Fitted device clock drift in ppm (positive: device clock fast)."""
        return self.state().drift_ppm

    @property
    def residual_ns(self) -> float:
        """RMS residual (ns) of the per-bin minima above the envelope."""
        return self.state().residual_ns


def _lower_envelope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Line ``y = a + e·x`` below all points maximising its value at ``mean(x)``.

    ``x`` sorted ascending. Returns ``(a, e)``. The optimum is the lower-convex-hull edge
    whose x-range contains the mean (or the hull vertex at the mean, then its left edge).
    """
    xm = float(np.mean(x))
    # Python floats: the same IEEE double arithmetic as numpy scalars, several times faster
    # in this loop (it runs every time a clock bin closes, over up to 240 bins)
    xs, ys = x.tolist(), y.tolist()
    hull: list[int] = []
    for i in range(len(xs)):
        xi, yi = xs[i], ys[i]
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            # keep a convex lower chain: drop i1 if it is on or above segment i0 -> i
            x0, y0 = xs[i0], ys[i0]
            if (xs[i1] - x0) * (yi - y0) - (ys[i1] - y0) * (xi - x0) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    if len(hull) == 1:
        return float(ys[hull[0]]), 0.0
    for j in range(len(hull) - 1):
        i0, i1 = hull[j], hull[j + 1]
        if xs[i1] >= xm or j == len(hull) - 2:
            e = (ys[i1] - ys[i0]) / (xs[i1] - xs[i0])
            return ys[i0] - e * xs[i0], e
    raise AssertionError("unreachable")  # pragma: no cover


def fit_clock(
    device_ns: np.ndarray,
    host_ns: np.ndarray,
    query_ns: np.ndarray | None = None,
    **params: float,
) -> tuple[np.ndarray, ClockFitState]:
    """Batch form of :class:`DeviceClockFit`: fit on all points at once.

    Parameters
    ----------
    device_ns, host_ns : numpy.ndarray
        int64, shape ``(n_points,)``.
    query_ns : numpy.ndarray, optional
        Device times to map (default: ``device_ns``).
    **params
        Keyword arguments of :class:`DeviceClockFit`.

    Returns
    -------
    host : numpy.ndarray
        int64 host times of ``query_ns``.
    state : ClockFitState
        The fit.
    """
    fit = DeviceClockFit(**params)
    fit.update(device_ns, host_ns)
    q = device_ns if query_ns is None else query_ns
    return fit.to_host(q), fit.state()
