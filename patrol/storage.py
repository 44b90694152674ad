"""Where photo files live, behind a small interface so views never touch paths.

Photos are content-addressed: a file's name is the SHA-256 of its bytes, so writing the same photo twice
is harmless and a file is never changed once written. The filesystem store keeps them under
PATROL_UPLOADS (outside static/); a district that runs several app servers points PATROL_UPLOADS at
shared storage (NFS, or a mounted volume). Another backend (an S3-compatible bucket, say) implements
PhotoStore and is chosen in photo_store(); nothing else changes.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Iterator, Protocol

from flask import Response, current_app, send_file


class StorageError(OSError):
    """The store could not write (full, read-only, gone)."""


class PhotoStore(Protocol):
    def exists(self, sha256: str) -> bool: ...

    def put(self, sha256: str, data: bytes) -> None:
        """Write the photo atomically and durably (a reader never sees half a file); StorageError if not."""

    def read(self, sha256: str) -> bytes: ...

    def response(self, sha256: str, mimetype: str) -> Response:
        """The HTTP answer that delivers the photo to a user already allowed to see it."""

    def delete(self, sha256: str) -> None: ...

    def listing(self) -> Iterator[tuple[str, float]]:
        """(sha256, age in seconds) of every stored photo."""

    def clean_incomplete(self, older_than_seconds: float) -> int:
        """Remove writes a crash cut short (never visible as photos); how many."""


class FilesystemStore:
    """Photos as files root/ab/abcdef….jpg, written to a temporary name, fsynced, then renamed."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            return
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            if tmp:
                Path(tmp).unlink(missing_ok=True)  # nothing half-saved stays behind
            raise StorageError(str(exc)) from exc

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def response(self, sha256: str, mimetype: str) -> Response:
        return send_file(self.path(sha256), mimetype=mimetype, max_age=3600)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def listing(self) -> Iterator[tuple[str, float]]:
        now = time.time()
        for path in self.root.glob("??/*.jpg"):
            yield path.stem, now - path.stat().st_mtime

    def clean_incomplete(self, older_than_seconds: float) -> int:
        now, removed = time.time(), 0
        for path in self.root.glob("??/*.part"):
            if now - path.stat().st_mtime >= older_than_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def photo_store() -> PhotoStore:
    """The app's photo store, as configured."""
    return FilesystemStore(current_app.config["PATROL_UPLOADS"])
