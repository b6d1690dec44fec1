"""Fixtures of video-svc tests: small real recordings encoded with PyAV (no binary fixtures)."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from fractions import Fraction

import av
import pytest


def _plane_bytes(plane: av.video.plane.VideoPlane, row: bytes, height: int) -> bytes:
    padded = row + bytes(plane.line_size - len(row))
    return padded * height


def make_video(
    seconds: float = 2.0,
    *,
    fps: int = 10,
    width: int = 160,
    height: int = 120,
    codec: str = "libx264",
    fmt: str = "mp4",
    noise: bool = False,
) -> bytes:
    """Encode ``seconds`` of synthetic frames (moving gradient, or noise) into a container."""
    buffer = io.BytesIO()
    rng = random.Random(42)
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            y, u, v = frame.planes
            if noise:
                y.update(rng.randbytes(y.buffer_size))
            else:
                y.update(_plane_bytes(y, bytes((x + i * 7) % 256 for x in range(width)), height))
            u.update(_plane_bytes(u, bytes([(i * 13) % 256]) * (width // 2), height // 2))
            v.update(_plane_bytes(v, bytes([128]) * (width // 2), height // 2))
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def video() -> Callable[..., bytes]:
    """A factory of small real videos: ``video(seconds=2, codec="libx264", fmt="mp4", ...)``."""
    return make_video


@pytest.fixture(scope="session")
def small_mp4() -> bytes:
    return make_video(2.0)
