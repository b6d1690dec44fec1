"""S3-compatible object storage for sealed objects (boto3), chosen by settings.

Same blocking protocol as the local store: writes go out as a multipart upload in parts of
``part_size`` (memory stays at one part), range reads are ranged GETs. Object keys derive from
video ids, so a retried upload overwrites the same key instead of leaving a second copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from .storage import ObjectMissingError, ObjectReader, ObjectWriter, check_name

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _S3Writer:
    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._upload_part(part)

    def _upload_part(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer))
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
        self._buffer.clear()

    def abort(self) -> None:
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )
            self._upload_id = None
        self._buffer.clear()


class _S3Reader:
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key

    def read_at(self, offset: int, length: int) -> bytes:
        try:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={offset}-{offset + length - 1}"
            )
        except ClientError as exc:
            if _missing(exc) or "InvalidRange" in str(exc):
                raise ObjectMissingError(self._key) from exc
            raise
        data: bytes = answer["Body"].read()
        if len(data) != length:
            raise ObjectMissingError(f"short read at {offset}: {len(data)} of {length} bytes")
        return data

    def close(self) -> None:
        return None


class S3ObjectStore:
    """Objects under ``prefix`` in one bucket of an S3-compatible service."""

    def __init__(
        self, client: Any, bucket: str, prefix: str = "", part_size: int = 8 * 1024 * 1024
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes")
        self._client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size

    def _key(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}{name}"

    def create(self, name: str) -> ObjectWriter:
        return _S3Writer(self._client, self.bucket, self._key(name), self.part_size)

    def open(self, name: str) -> ObjectReader:
        key = self._key(name)
        self.size(name)  # fail early, like opening a missing file
        return _S3Reader(self._client, self.bucket, key)

    def size(self, name: str) -> int:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if _missing(exc):
                raise ObjectMissingError(name) from exc
            raise
        return int(head["ContentLength"])

    def delete(self, name: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def list(self) -> Iterator[tuple[str, datetime]]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield str(item["Key"]).removeprefix(self.prefix), item["LastModified"]


def s3_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )
