"""Where spasmwatch keeps its data on this machine.

``$SPASMWATCH_HOME`` if set, else ``~/.local/share/spasmwatch`` (honouring
``$XDG_DATA_HOME``). Nothing here creates directories; callers that write do.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_home", "default_db_path"]


def data_home() -> Path:
    """The spasmwatch data folder: ``$SPASMWATCH_HOME`` or ``~/.local/share/spasmwatch``."""
    env = os.environ.get("SPASMWATCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "spasmwatch"


def default_db_path() -> Path:
    """The default event store file: ``<data_home()>/spasmwatch.db``."""
    return data_home() / "spasmwatch.db"
