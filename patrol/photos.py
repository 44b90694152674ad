"""Photo uploads: check the bytes are an image, re-encode without metadata, store by SHA-256."""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError


MAX_SIDE = 1600
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "HEIF", "MPO"}
# Decompression bombs: a tiny file that expands to a huge bitmap.
Image.MAX_IMAGE_PIXELS = 60_000_000


class PhotoError(ValueError):
    """A file that is not an acceptable photo; str() is a message for the user."""


@dataclass
class StoredImage:
    sha256: str
    size: int
    width: int
    height: int


def uploads_root() -> Path:
    return Path(current_app.config["PATROL_UPLOADS"])


def path_for(sha256: str) -> Path:
    return uploads_root() / sha256[:2] / f"{sha256}.jpg"


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
    target = path_for(digest)
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(jpeg)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError:
            raise PhotoError(_l("The server could not save the photo (storage full or not writable). Nothing was saved; please try again or tell the administrator.")) from None
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
    return StoredImage(digest, len(jpeg), width, height)


def kept(sha256: str) -> StoredImage | None:
    """A photo already on the server from an earlier, refused submit, known by its hash; None if not."""
    if not SHA256_HEX.match(sha256 or ""):
        return None
    path = path_for(sha256)
    if not path.exists():
        return None
    with Image.open(path) as image:
        return StoredImage(sha256, path.stat().st_size, *image.size)


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
