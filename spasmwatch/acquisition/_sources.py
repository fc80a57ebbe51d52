"""Signals a simulated wearable samples: :class:`SignalSource` and two implementations.

A source is asked for samples by stream kind and stream-wide sample index, so what a
device sends does not depend on how the simulator chunks its frames (the tests rely on
this: reading ``[0, n)`` at once equals reading it in pieces).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from spasmwatch.errors import ConfigError

__all__ = ["ArraySource", "GeneratorSource", "SignalSource"]


@runtime_checkable
class SignalSource(Protocol):
    """Provides samples in physical units to a simulated device."""

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """Samples ``start_index .. start_index + n - 1`` of stream ``kind``.

        Parameters
        ----------
        kind : str
            Stream kind (``"acc"``, ``"emg"``, ...).
        start_index : int
            Stream-wide index of the first sample (sample ``k`` is at ``k / rate_hz`` s).
        n : int
            Number of samples.
        rate_hz : float
            Sample rate the device samples at (Hz).
        n_channels : int
            Number of channels the device sends.

        Returns
        -------
        numpy.ndarray
            float64, shape ``(n, n_channels)``, in the stream's physical units.
        """
        ...


_CHUNK = 1024  # noise is drawn per chunk of indices, seeded by (seed, kind, chunk)


class GeneratorSource:
    """Plausible synthetic signals, deterministic in ``(seed, kind, sample index)``.

    * ``acc`` (mG): gravity on the last axis, a slow 0.25 Hz sway of ±30 mG, 4 mG noise.
    * ``emg`` (counts-sized numbers, suits the Myo's int8 and µV-scaled devices alike):
      noise of std ``emg_level``; every 8 s a 1.2 s burst at 8× that level.
    * ``ecg`` (µV): a PQRST-like waveform at 70 bpm, R wave 1000 µV, plus 10 µV noise.
    * ``gyro`` (deg/s): ±5 deg/s slow rotation plus noise. ``mag``: a constant field.
    * ``quat``: a unit quaternion slowly turning about the vertical.

    Parameters
    ----------
    seed : int
        Seed of the noise.
    emg_level : float
        Resting EMG standard deviation in the stream's units.
    """

    def __init__(self, seed: int = 0, *, emg_level: float = 3.0) -> None:
        self.seed = int(seed)
        self.emg_level = float(emg_level)
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}

    def _noise(self, kind: str, start: int, n: int, n_channels: int) -> np.ndarray:
        out = np.empty((n, n_channels))
        key = zlib.crc32(kind.encode())
        pos = 0
        while pos < n:
            idx = start + pos
            chunk, off = divmod(idx, _CHUNK)
            ck = (key, chunk, n_channels)
            block = self._cache.get(ck)
            if block is None:
                rng = np.random.default_rng([self.seed, key, chunk, n_channels])
                block = rng.standard_normal((_CHUNK, n_channels))
                if len(self._cache) >= 32:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[ck] = block
            take = min(_CHUNK - off, n - pos)
            out[pos : pos + take] = block[off : off + take]
            pos += take
        return out

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """See :meth:`SignalSource.read`."""
        if n < 0 or start_index < 0:
            raise ConfigError(
                f"GeneratorSource.read needs start_index >= 0 and n >= 0 (got {start_index}, {n})"
            )
        t = (start_index + np.arange(n)) / float(rate_hz)
        noise = self._noise(kind, start_index, n, n_channels)
        c = n_channels
        if kind == "acc":
            x = 4.0 * noise
            sway = 30.0 * np.sin(2 * np.pi * 0.25 * t)
            x[:, 0] += sway
            if c > 1:
                x[:, 1] += 0.5 * sway
            x[:, -1] += 1000.0
            return x
        if kind == "emg":
            phase = np.mod(t, 8.0)
            gain = np.where((phase > 4.0) & (phase < 5.2), 8.0, 1.0)
            return self.emg_level * noise * gain[:, None]
        if kind == "ecg":
            beat = np.mod(t, 60.0 / 70.0)
            w = (
                150.0 * np.exp(-(((beat - 0.12) / 0.025) ** 2))
                - 120.0 * np.exp(-(((beat - 0.2) / 0.008) ** 2))
                + 1000.0 * np.exp(-(((beat - 0.22) / 0.01) ** 2))
                - 200.0 * np.exp(-(((beat - 0.24) / 0.01) ** 2))
                + 300.0 * np.exp(-(((beat - 0.45) / 0.05) ** 2))
            )
            return w[:, None] + 10.0 * noise
        if kind == "gyro":
            return 5.0 * np.sin(2 * np.pi * 0.2 * t)[:, None] + 0.5 * noise
        if kind == "mag":
            base = np.array([20.0, -5.0, 40.0] + [0.0] * max(0, c - 3))[:c]
            return base + 0.2 * noise
        if kind == "quat":
            ang = 2 * np.pi * 0.05 * t
            q = np.zeros((n, c))
            q[:, 0] = np.cos(ang / 2)
            if c > 3:
                q[:, 3] = np.sin(ang / 2)
            return q
        return noise


class ArraySource:
    """Replays given arrays (a recording, or the physiological simulator's output).

    Parameters
    ----------
    streams : Mapping[str, tuple[float, numpy.ndarray]]
        ``{kind: (rate_hz, samples)}`` with samples of shape ``(n_samples, n_channels)``
        in physical units.
    loop : bool
        After the end, start again from the beginning (default). When False, reading past
        the end raises :class:`ConfigError`.

    Notes
    -----
    When the device samples at a rate other than the array's, samples are linearly
    interpolated at the device's sample times ``k / rate_hz``.
    """

    def __init__(self, streams: Mapping[str, tuple[float, np.ndarray]], *, loop: bool = True):
        self._streams: dict[str, tuple[float, np.ndarray]] = {}
        for kind, (rate, arr) in streams.items():
            a = np.asarray(arr, dtype=np.float64)
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2 or a.shape[0] < 2:
                raise ConfigError(
                    f"ArraySource stream {kind!r} must be an array (n_samples >= 2, n_channels)"
                    f" (got shape {a.shape})"
                )
            if not (math.isfinite(rate) and rate > 0):
                raise ConfigError(f"ArraySource stream {kind!r} rate must be > 0 Hz (got {rate})")
            self._streams[kind] = (float(rate), a)
        self.loop = loop

    def read(
        self, kind: str, start_index: int, n: int, rate_hz: float, n_channels: int
    ) -> np.ndarray:
        """See :meth:`SignalSource.read`."""
        if kind not in self._streams:
            raise ConfigError(
                f"ArraySource has no {kind!r} stream (it has {sorted(self._streams)}); "
                "add one or use a profile without it"
            )
        rate, a = self._streams[kind]
        if a.shape[1] != n_channels:
            raise ConfigError(
                f"ArraySource stream {kind!r} has {a.shape[1]} channels but the device "
                f"sends {n_channels}"
            )
        m = a.shape[0]
        idx = start_index + np.arange(n)
        if rate == rate_hz:
            if not self.loop and n and idx[-1] >= m:
                raise ConfigError(f"ArraySource stream {kind!r} ended after {m} samples")
            return a[idx % m]
        pos = idx * (rate / rate_hz)
        if not self.loop and n and pos[-1] > m - 1:
            raise ConfigError(f"ArraySource stream {kind!r} ended after {m} samples")
        pos = np.mod(pos, m)
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0)[:, None]
        i1 = (i0 + 1) % m
        return a[i0] * (1.0 - frac) + a[i1] * frac
