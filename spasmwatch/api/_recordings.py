"""Finding recording folders by id: the store's recording index plus a scan of ``data_dir``."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from spasmwatch.errors import NotFoundError, RecordingError, StoreError
from spasmwatch.store import Recording, open_recording

__all__ = ["RecordingIndex"]

log = logging.getLogger("spasmwatch.api")


class RecordingIndex:
    """Recording id -> folder, from the event store's index and folders under ``data_dir``.

    A folder counts when it holds a ``manifest.json`` (a closed recording) directly under
    ``data_dir`` or ``data_dir/recordings``. Ids are only ever looked up, never used to build
    a path, so a request cannot reach outside these folders.
    """

    def __init__(self, store: Any, data_dir: Path | None) -> None:
        self._store = store
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._cache: dict[str, Recording] = {}

    def _scan(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self._data_dir is None:
            return out
        roots = [self._data_dir, self._data_dir / "recordings"]
        for root in roots:
            if not root.is_dir():
                continue
            for folder in sorted(root.iterdir()):
                mf = folder / "manifest.json"
                if not mf.is_file():
                    continue
                try:
                    m = json.loads(mf.read_text(encoding="utf-8"))
                    rid = str(m["recording_id"])
                    out[rid] = {
                        "id": rid,
                        "path": str(folder),
                        "start_ns": int(m["start_ns"]),
                        "end_ns": int(m["end_ns"]) if m.get("end_ns") is not None else None,
                        "wearer_id": str(m.get("meta", {}).get("wearer_id", "default")),
                        "devices": [str(d.get("id", "")) for d in m.get("devices", [])],
                        "streams": sorted(m.get("streams", {})),
                    }
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    log.warning("skipping unreadable recording manifest in %s", folder.name)
        return out

    def list(self, wearer_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Known recordings (of these wearers; ``None``: all), oldest first, as dicts."""
        found = self._scan()
        lister = getattr(self._store, "recordings", None)
        if lister is not None:
            for info in lister():
                d = info.to_dict()
                d.setdefault("streams", found.get(info.id, {}).get("streams", []))
                found[info.id] = d
        rows = [r for r in found.values() if wearer_ids is None or r["wearer_id"] in wearer_ids]
        return sorted(rows, key=lambda r: (r["start_ns"], r["id"]))

    def _lookup(self, recording_id: str, field: str) -> Any:
        """``field`` (``"wearer_id"`` or ``"path"``) of a recording: from the store's index
        entry first, else from the folder's manifest.

        Raises
        ------
        NotFoundError
            If no recording has this id.
        """
        getter = getattr(self._store, "get_recording", None)
        if getter is not None:
            try:
                return getattr(getter(recording_id), field)
            except StoreError:  # NotFoundError included
                pass
        row = self._scan().get(recording_id)
        if row is None:
            raise NotFoundError(
                f"no recording with id {recording_id[:80]!r}; list them with GET /api/recordings",
                reason="not_found",
            )
        return row[field]

    def wearer_of(self, recording_id: str) -> str:
        """Whose recording it is (index entry first, else the folder's manifest).

        Raises
        ------
        NotFoundError
            If no recording has this id.
        """
        return str(self._lookup(recording_id, "wearer_id"))

    def path_of(self, recording_id: str) -> Path:
        """Folder of a recording (index entry first, else the folder's manifest).

        Raises
        ------
        NotFoundError
            If no recording has this id.
        """
        return Path(self._lookup(recording_id, "path"))

    def open(self, recording_id: str) -> Recording:
        """The opened :class:`~spasmwatch.store.Recording` (cached per id)."""
        with self._lock:
            rec = self._cache.get(recording_id)
        if rec is not None:
            return rec
        path = self.path_of(recording_id)
        try:
            rec = open_recording(path, recover=False)
        except RecordingError as exc:
            if exc.reason in {"not_found", "not_a_recording"}:
                raise NotFoundError(
                    f"recording {recording_id!r} is indexed but its folder is gone or not a "
                    "recording",
                    reason="not_found",
                ) from exc
            raise
        with self._lock:
            self._cache[recording_id] = rec
        return rec
