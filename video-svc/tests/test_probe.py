"""PyAV probe on the decrypting view: real videos pass with a poster, anything else is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prisme_video.crypto import new_data_key
from prisme_video.probe import NotAVideoError, ProbeResult, probe
from prisme_video.sealed_objects import DecryptingFile, put_object
from prisme_video.storage import LocalObjectStore


def _probe(tmp_path: Path, data: bytes) -> ProbeResult:
    store, key = LocalObjectStore(tmp_path), new_data_key()
    ref = put_object(store, "v/video", key, data)
    with DecryptingFile(store, ref, key) as f:
        return probe(f)


@pytest.mark.parametrize(
    ("codec", "fmt", "container", "codec_name"),
    [
        ("libx264", "mp4", "mp4", "h264"),
        ("mpeg4", "mp4", "mp4", "mpeg4"),
        ("libvpx", "webm", "webm", "vp8"),
        ("mpeg4", "avi", "avi", "mpeg4"),
    ],
)
def test_real_videos_are_probed(
    tmp_path: Path,
    video: Callable[..., bytes],
    codec: str,
    fmt: str,
    container: str,
    codec_name: str,
) -> None:
    result = _probe(tmp_path, video(3.0, codec=codec, fmt=fmt, width=320, height=240))
    assert container in result.container.split(",")
    assert result.video_codec == codec_name
    assert (result.width, result.height) == (320, 240)
    assert result.duration_seconds == pytest.approx(3.0, abs=0.2)
    assert result.poster_jpeg.startswith(b"\xff\xd8")
    assert result.poster_jpeg.endswith(b"\xff\xd9")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\n" + b"x" * 5000,
        b"just some text, not a video\n" * 100,
        bytes(range(256)) * 64,
    ],
)
def test_non_videos_are_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(NotAVideoError):
        _probe(tmp_path, data)


def test_a_still_image_is_not_a_recording(tmp_path: Path, video: Callable[..., bytes]) -> None:
    poster = _probe(tmp_path, video(1.0)).poster_jpeg
    with pytest.raises(NotAVideoError, match="non accepté"):
        _probe(tmp_path / "again", poster)


def test_truncated_video_is_refused(tmp_path: Path, video: Callable[..., bytes]) -> None:
    data = video(2.0)
    with pytest.raises(NotAVideoError):
        _probe(tmp_path, data[:200])
