"""Checks that an upload really is a video and extracts its facts and a poster (PyAV, blocking).

Runs on the decrypting view of the stored object, so the plaintext never touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Any

import av

# Containers a screen-recording tool produces. Image demuxers (image2, *_pipe) would accept a
# single JPEG as a one-frame "video"; they are not recordings.
ALLOWED_CONTAINERS = frozenset(
    {
        "mov",
        "mp4",
        "m4a",
        "3gp",
        "3g2",
        "mj2",
        "matroska",
        "webm",
        "avi",
        "mpegts",
        "flv",
        "asf",
        "ogg",
    }
)
POSTER_MAX_WIDTH = 640


class NotAVideoError(Exception):
    """The upload is not a playable video; ``reason`` is shown to the operator (French)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProbeResult:
    container: str
    video_codec: str
    width: int
    height: int
    duration_seconds: float
    poster_jpeg: bytes


def probe(file: IO[bytes]) -> ProbeResult:
    try:
        container: Any = av.open(file, mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise NotAVideoError("le fichier n'est pas un conteneur vidéo reconnu") from exc
    try:
        names = set(str(container.format.name).split(","))
        if not names & ALLOWED_CONTAINERS:
            raise NotAVideoError(
                f"format « {container.format.name} » non accepté pour un enregistrement"
            )
        if not container.streams.video:
            raise NotAVideoError("le fichier ne contient aucune piste vidéo")
        stream = container.streams.video[0]
        duration = _duration(container, stream)
        if duration <= 0:
            raise NotAVideoError("durée de la vidéo introuvable ou nulle")
        poster = _poster(container, stream, duration)
        return ProbeResult(
            container=str(container.format.name),
            video_codec=str(stream.codec_context.name),
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            duration_seconds=round(duration, 3),
            poster_jpeg=poster,
        )
    except av.FFmpegError as exc:
        raise NotAVideoError("la vidéo ne peut pas être décodée") from exc
    finally:
        container.close()


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return 0.0


def _poster(container: Any, stream: Any, duration: float) -> bytes:
    """A JPEG of the first frame decoded at about 10 % of the recording."""
    if stream.time_base is not None and duration > 1:
        target = int(duration * 0.1 / stream.time_base)
        container.seek(target, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        return _jpeg(frame)
    raise NotAVideoError("aucune image décodable dans la vidéo")


def _jpeg(frame: Any) -> bytes:
    width = min(int(frame.width), POSTER_MAX_WIDTH)
    height = max(2, int(frame.height * width / frame.width) // 2 * 2)
    width = width // 2 * 2
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    image = frame.reformat(width=width, height=height, format="yuvj420p")
    packets = [*encoder.encode(image), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)
