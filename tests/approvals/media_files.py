"""Real media files made in memory for tests: images through Pillow, MP4 as ISO boxes."""

import io
import os
import struct

from PIL import Image


def image(fmt: str = "PNG", size=(64, 48), color=(200, 30, 30), noise: bool = False, frames: int = 1) -> bytes:
    picture = Image.new("RGB", size, color)
    if noise:
        picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    if fmt == "GIF" and frames > 1:
        more = [Image.new("RGB", size, (i * 40 % 255, 0, 0)) for i in range(1, frames)]
        picture.save(out, "GIF", save_all=True, append_images=more, duration=100, loop=0)
    else:
        picture.save(out, fmt)
    return out.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(seconds: float = 5.0, payload_bytes: int = 1000, brand: bytes = b"isom", moov: bool = True) -> bytes:
    """ftyp, a movie header saying how long it runs, and an mdat of random bytes."""
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    timescale = 1000
    mvhd = box(b"mvhd", bytes([0, 0, 0, 0]) + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale))
               + b"\x00" * 80)
    parts = [ftyp, box(b"moov", mvhd) if moov else b"", box(b"mdat", os.urandom(payload_bytes))]
    return b"".join(parts)
