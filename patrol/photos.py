"""Photo uploads: check the bytes are an image, re-encode without metadata, store by SHA-256."""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from .extensions import db
from .models import Photo
from .storage import FilesystemStore, StorageError, photo_store


MAX_SIDE = 1600
ORPHAN_GRACE_HOURS = 24  # a refused submit's photos wait this long for the form to come back
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF", "MPO"}
# Decompression bombs: a tiny file that expands to a huge bitmap.
Image.MAX_IMAGE_PIXELS = 60_000_000


class PhotoError(ValueError):
    """A file that is not an acceptable photo; str() is a message for the user."""


class PhotoNotSaved(PhotoError):
    """A good photo the server could not store (storage full or not writable): worth sending again later."""


@dataclass
class StoredImage:
    sha256: str
    size: int
    width: int
    height: int


def path_for(sha256: str) -> Path:
    """Where the filesystem store keeps a photo (for tests and tools that look at the files)."""
    return FilesystemStore(current_app.config["PATROL_UPLOADS"]).path(sha256)


def normalise(data: bytes) -> bytes:
    """JPEG bytes of the image, upright, at most MAX_SIDE px, with EXIF (and GPS) dropped."""
    if not data:
        raise PhotoError(_l("The photo is empty."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoError(_l("This file is not a photo (JPEG, PNG or WebP)."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=82, optimize=True)
            return out.getvalue()
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoError(_l("This file is not a photo (JPEG, PNG or WebP).")) from None


def store(data: bytes) -> StoredImage:
    """Normalise and write the image to the uploads folder (atomically); return what was stored."""
    jpeg = normalise(data)
    digest = hashlib.sha256(jpeg).hexdigest()
    try:
        photo_store().put(digest, jpeg)
    except StorageError:
        current_app.logger.exception("photo store refused a write")
        raise PhotoNotSaved(_l("The server could not save the photo (storage full or not writable). Nothing was saved; please try again or tell the administrator.")) from None
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
    return StoredImage(digest, len(jpeg), width, height)


def kept(sha256: str) -> StoredImage | None:
    """A photo already on the server from an earlier, refused submit, known by its hash; None if not."""
    if not SHA256_HEX.match(sha256 or ""):
        return None
    store = photo_store()
    if not store.exists(sha256):
        return None
    data = store.read(sha256)
    with Image.open(io.BytesIO(data)) as image:
        return StoredImage(sha256, len(data), *image.size)


def collect(kept_hashes: list[str], uploads: list) -> tuple[list[StoredImage], str | None]:
    """Photos kept from before plus those uploaded now, stored; and the message for a bad upload, if any."""
    stored = [image for image in map(kept, kept_hashes) if image is not None]
    error = None
    for upload in uploads:
        try:
            stored.append(store(upload.read()))
        except PhotoError as exc:
            error = str(exc)
    return stored, error


def uploaded_files(files, name: str) -> list:
    """The non-empty files a multipart form sent under name."""
    return [f for f in files.getlist(name) if f and f.filename]


def sweep(older_than_seconds: float) -> list[str]:
    """Delete stored photos no Photo row refers to, once older than the grace period; their hashes.

    Such files come from a submit the server refused (kept so the guard need not take the photo again)
    or from a request cut off between writing the file and committing its row (a crash). Neither is
    ever acknowledged to the phone, which sends the photo again if it still needs it.
    """
    store = photo_store()
    referenced = set(db.session.scalars(select(Photo.sha256).distinct()))
    removed = []
    for sha256, age in list(store.listing()):
        if sha256 not in referenced and age >= older_than_seconds:
            store.delete(sha256)
            removed.append(sha256)
    store.clean_incomplete(older_than_seconds)
    return removed
