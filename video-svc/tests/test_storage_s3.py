"""The S3 backend against moto's server mode (a local S3 stand-in; real boto3 HTTP calls)."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from prisme_localinfra import free_port
from prisme_video.crypto import DecryptionError, new_data_key
from prisme_video.sealed_objects import SealedWriter, iter_range, read_object
from prisme_video.storage import ObjectMissingError
from prisme_video.storage_s3 import MIN_PART_SIZE, S3ObjectStore, s3_client

CREDENTIALS = {"access_key_id": "bench-key", "secret_access_key": "bench-secret-value"}


@pytest.fixture(name="bucket")
def fresh_bucket() -> str:
    # moto keeps its state per process: each test gets its own bucket.
    return f"prisme-videos-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_endpoint(bucket: str) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3_client(endpoint_url=endpoint, region="eu-west-3", **CREDENTIALS).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    yield endpoint
    server.stop()


@pytest.fixture
def store(s3_endpoint: str, bucket: str) -> S3ObjectStore:
    client = s3_client(endpoint_url=s3_endpoint, region="eu-west-3", **CREDENTIALS)
    return S3ObjectStore(client, bucket, prefix="videos/", part_size=MIN_PART_SIZE)


def _raw(s3_endpoint: str, bucket: str, key: str) -> bytes:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="eu-west-3",
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
    )
    body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_multipart_round_trip_and_ranges(
    store: S3ObjectStore, s3_endpoint: str, bucket: str
) -> None:
    key, data = new_data_key(), os.urandom(2 * MIN_PART_SIZE + 123_457)
    writer = SealedWriter(store, "v1/video", key, chunk_size=256 * 1024)
    for i in range(0, len(data), 300_000):
        writer.write(data[i : i + 300_000])
    ref = writer.commit()
    raw = _raw(s3_endpoint, bucket, "videos/v1/video")
    assert store.size("v1/video") == len(raw) > len(data)
    assert data[:4096] not in raw
    assert read_object(store, ref, key) == data
    rng = random.Random(5)
    for _ in range(20):
        start = rng.randrange(len(data))
        end = rng.randrange(start, min(len(data), start + 600_000))
        assert b"".join(iter_range(store, ref, key, start, end)) == data[start : end + 1]


def test_small_object_is_a_single_put(store: S3ObjectStore) -> None:
    key = new_data_key()
    writer = SealedWriter(store, "v2/poster", key)
    writer.write(b"jpeg bytes")
    ref = writer.commit()
    assert read_object(store, ref, key) == b"jpeg bytes"
    assert [name for name, _ in store.list()] == ["v2/poster"]
    with pytest.raises(DecryptionError):
        read_object(store, ref, new_data_key())


def test_abort_and_delete_leave_nothing(store: S3ObjectStore) -> None:
    writer = SealedWriter(store, "v3/video", new_data_key(), chunk_size=256 * 1024)
    writer.write(os.urandom(MIN_PART_SIZE + 10))
    writer.abort()
    with pytest.raises(ObjectMissingError):
        store.size("v3/video")
    ref = SealedWriter(store, "v4/video", new_data_key())
    ref.write(b"x")
    ref.commit()
    store.delete("v4/video")
    store.delete("v4/video")  # idempotent
    with pytest.raises(ObjectMissingError):
        store.open("v4/video")


async def test_service_on_s3(
    run_video: Any, s3_endpoint: str, bucket: str, video: Callable[..., bytes]
) -> None:
    original = video(3.0, width=320, height=240, codec="mpeg4", noise=True)
    async with run_video(
        storage_backend="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket=bucket,
        s3_region="eu-west-3",
        s3_access_key_id=CREDENTIALS["access_key_id"],
        s3_secret_access_key=CREDENTIALS["secret_access_key"],
    ) as svc:
        contract = await svc.activate()
        r = await svc.upload(contract, original)
        assert r.status_code == 201, r.text
        video_id = r.json()["id"]
        raw = _raw(s3_endpoint, bucket, f"videos/{video_id}/video")
        assert original[1000:1064] not in raw
        assert not svc.settings.objects_dir().exists()
        link = await svc.share(video_id)
        path = "/v/" + link["url"].rsplit("/v/", 1)[1]
        async with svc.viewer() as viewer:
            assert (await viewer.post(path, data={"password": link["password"]})).status_code == 303
            whole = await viewer.get(f"{path}/stream")
            assert whole.content == original
            part = await viewer.get(f"{path}/stream", headers={"Range": "bytes=70000-200000"})
            assert part.status_code == 206
            assert part.content == original[70000:200001]
        bad = await svc.upload(contract, b"not a video at all" * 100)
        assert bad.status_code == 415
        client = s3_client(endpoint_url=s3_endpoint, region="eu-west-3", **CREDENTIALS)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert sorted(keys) == sorted([f"videos/{video_id}/video", f"videos/{video_id}/poster"])
