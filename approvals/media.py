"""Media files, read for what they are and stored once.

`inspect(data)` decides a file's type from its bytes, never its name or the browser's
word for it: PNG, JPEG, GIF and WebP by their magic bytes, then opened with Pillow (the
format must agree, the size is read, a file that will not open is refused); MP4 by its
`ftyp` box (ISO base media brands; QuickTime's `qt  ` is not MP4) and its length from the
movie header (`moov/mvhd`). Anything else is refused with a message naming what it is not.

`store(data, user)` keeps a file under its SHA-256 in Django's default storage
(MEDIA_ROOT, or whatever STORAGES["default"] names, e.g. django-storages' S3), once:
the same bytes uploaded twice are one asset. A post names its files by that hash, so the
approval hash (Post.content_hash) covers every file's bytes, and publishing reads them
back and checks the hash again before any network sees them (`read_verified`)."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from networks.limits import MediaInfo
from warroom.errors import InvalidInput

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "video/mp4": "mp4"}
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
MP4_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV",
              b"dash", b"mmp4", b"3gp4", b"3gp5", b"3g2a"}
SNIFF = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
         (b"GIF89a", "image/gif"))
KNOWN_OTHERS = ((b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
                (b"<svg", "an SVG drawing"), (b"<?xml", "an XML file"), (b"<!DOCTYPE", "an HTML page"),
                (b"<html", "an HTML page"), (b"BM", "a BMP bitmap"), (b"II*\x00", "a TIFF image"),
                (b"MM\x00*", "a TIFF image"))
ACCEPTED = "PNG, JPEG, GIF, WebP or MP4"


def sniff(data: bytes) -> str | None:
    for magic, content_type in SNIFF:
        if data.startswith(magic):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "video/mp4" if data[8:12] in MP4_BRANDS else "video/other"
    return None


def _what_else(data: bytes) -> str:
    head = data[:64].lstrip()
    for magic, name in KNOWN_OTHERS:
        if head.startswith(magic):
            return name
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] == b"qt  ":
        return "a QuickTime movie (MOV)"
    return "not a file type the room knows"


def inspect(data: bytes, *, name: str = "the file") -> MediaInfo:
    """What these bytes are, or InvalidInput naming the problem."""
    if not data:
        raise InvalidInput(f"{name} is empty.")
    content_type = sniff(data)
    if content_type == "video/other":
        raise InvalidInput(f"{name} is {_what_else(data)}, not MP4: the room takes {ACCEPTED}.")
    if content_type is None:
        raise InvalidInput(f"{name} is {_what_else(data)}: the room takes {ACCEPTED}, judged by the file's content, "
                           "not its name.")
    if content_type == "video/mp4":
        return MediaInfo(content_type, len(data), duration=_mp4_duration(data, name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                fmt, (width, height), frames = image.format, image.size, getattr(image, "n_frames", 1)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except Image.DecompressionBombError:
            raise InvalidInput(f"{name} has too many pixels to open safely.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
            raise InvalidInput(f"{name} starts like {EXTENSIONS[content_type].upper()} but is damaged or "
                               "truncated: it does not open as an image.") from None
    if fmt != PILLOW_FORMATS[content_type]:
        raise InvalidInput(f"{name} starts like {EXTENSIONS[content_type].upper()} but opens as {fmt}.")
    return MediaInfo(content_type, len(data), width, height, frames=frames)


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of the ISO BMFF boxes between start and end."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        header = 8
        if size == 1:
            if offset + 16 > end:
                return
            size, header = struct.unpack(">Q", data[offset + 8:offset + 16])[0], 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _mp4_duration(data: bytes, name: str) -> float:
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, payload, inner_end in _boxes(data, body, end):
            if inner != b"mvhd" or inner_end - payload < 20:
                continue
            version = data[payload]
            if version == 1 and inner_end - payload >= 32:
                timescale, duration = struct.unpack(">IQ", data[payload + 20:payload + 32])
            else:
                timescale, duration = struct.unpack(">II", data[payload + 12:payload + 20])
            if timescale == 0:
                break
            return duration / timescale
    raise InvalidInput(f"{name} is an MP4 without a readable movie header (moov/mvhd): it is incomplete or damaged.")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def storage_name(sha256: str, content_type: str) -> str:
    return f"media/{sha256[:2]}/{sha256}.{EXTENSIONS.get(content_type, 'bin')}"


def store(*, data: bytes, user, name: str = "the file"):
    """The asset for these bytes: inspected, written once under their hash, one row."""
    from .models import MediaAsset  # models import this module's helpers

    info = inspect(data, name=name)
    sha256 = digest(data)
    existing = MediaAsset.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing, False
    path = storage_name(sha256, info.content_type)
    if not default_storage.exists(path):
        saved = default_storage.save(path, ContentFile(data))
        if saved != path:  # another upload of the same bytes won the race to the name
            default_storage.delete(saved)
    try:
        with transaction.atomic():
            asset = MediaAsset.objects.create(
                sha256=sha256, file=path, content_type=info.content_type, size=info.size, width=info.width,
                height=info.height, duration=info.duration, frames=info.frames, uploaded_by=user)
    except IntegrityError:
        return MediaAsset.objects.get(sha256=sha256), False
    return asset, True


def read_verified(asset) -> bytes:
    """The stored bytes, only if they still hash to what the post (and its Yes) names."""
    with default_storage.open(asset.file.name, "rb") as handle:
        data = handle.read()
    if digest(data) != asset.sha256:
        raise ValueError(f"the stored file {asset.file.name} no longer matches its SHA-256 {asset.sha256[:12]}…")
    return data
