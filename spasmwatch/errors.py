"""The one exception tree of spasmwatch.

::

    SpasmwatchError                  root: catch this to catch everything spasmwatch raises
    ├── ConfigError                  a setting or argument is invalid
    │   └── ProfileError             a device profile (TOML) is invalid; names file and key
    ├── AcquisitionError             finding, connecting to or talking with a device failed
    │   └── DecodeError              one notification's bytes do not form a valid frame
    ├── RecordingError               a recording folder cannot be written, read or recovered
    ├── ImportFormatError            a CSV/EDF file to import is inconsistent; names row and problem
    ├── SignalError                  a signal-processing stage got input it cannot process
    ├── ModelError                   an ONNX model is missing, invalid or does not fit the streams
    ├── StoreError                   the event store (SQLite) refused an operation
    │   └── NotFoundError            a requested record does not exist
    └── AuthError                    missing or wrong token, or a role that may not do this

Every message says which input was wrong, what was expected, what came, and what to do.
Each class carries a ``reason`` (a short machine-readable string) where callers branch on it.
"""

from __future__ import annotations

__all__ = [
    "AcquisitionError",
    "AuthError",
    "ConfigError",
    "DecodeError",
    "ImportFormatError",
    "ModelError",
    "NotFoundError",
    "ProfileError",
    "RecordingError",
    "SignalError",
    "SpasmwatchError",
    "StoreError",
]


class SpasmwatchError(Exception):
    """Root of every error spasmwatch raises on purpose.

    Parameters
    ----------
    message : str
        Human-readable: what was wrong, expected vs got, what to do.
    reason : str, optional
        Short machine-readable reason (e.g. ``"truncated"``, ``"unknown_key"``).
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple:
        # keep ``reason`` (a keyword argument) when an error crosses a process boundary,
        # e.g. from an evaluation or training worker
        return (self.__class__, self.args, self.__dict__)


class ConfigError(SpasmwatchError):
    """A setting, argument or configuration value is invalid."""


class ProfileError(ConfigError):
    """A device profile file is invalid. The message names the file and the key."""


class AcquisitionError(SpasmwatchError):
    """Finding, connecting to, configuring or streaming from a device failed."""


class DecodeError(AcquisitionError):
    """A notification's bytes do not form a valid frame (truncated, unknown type, bad width...)."""


class RecordingError(SpasmwatchError):
    """A recording folder cannot be written, read or recovered."""


class ImportFormatError(SpasmwatchError):
    """A file given to ``spasmwatch import`` is inconsistent. The message names row and problem."""


class SignalError(SpasmwatchError):
    """A signal-processing stage was given input it cannot process (shape, rate, dtype)."""


class ModelError(SpasmwatchError):
    """An ONNX model is missing, malformed, or its description does not match the streams."""


class StoreError(SpasmwatchError):
    """The event store refused an operation (invalid record, migration failure...)."""


class NotFoundError(StoreError):
    """A requested record (episode, recording, label, wearer...) does not exist."""


class AuthError(SpasmwatchError):
    """Missing or wrong token, or a role that is not allowed to do this."""
