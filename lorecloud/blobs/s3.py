"""The S3 blob store: one object per sealed chunk, through aiobotocore (public API only).

Credentials come from botocore's usual chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role); this module never sees, logs or
prints them. Writes are conditional (``If-None-Match: *``): an object is never
overwritten, and a 412 means its (content-derived) key is already stored. Reads stream
the object body in pieces, so a fetch never holds a whole chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from lorecloud.blobs.base import BlobInfo, BlobMissing, BlobStoreError, BlobStream

#: bytes per piece of a streamed object body
READ_PIECE = 64 * 1024
#: keys per DeleteObjects request (the API's maximum)
DELETE_BATCH = 1000


@dataclass(frozen=True)
class S3Spec:
    """A parsed ``s3://BUCKET?endpoint=URL&region=R`` (no credentials in it)."""

    bucket: str
    endpoint: str | None = None
    region: str = "us-east-1"

    def describe(self) -> str:
        """``s3://bucket (endpoint, region)`` for logs."""
        where = f"{self.endpoint}, " if self.endpoint else ""
        return f"s3://{self.bucket} ({where}region {self.region})"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class S3BlobStore:
    """:class:`~lorecloud.blobs.base.BlobStore` on one S3 bucket."""

    kind = "s3"
    inline = False

    def __init__(self, spec: S3Spec, client: Any, stack: contextlib.AsyncExitStack) -> None:
        self.spec, self._client, self._stack = spec, client, stack

    def __repr__(self) -> str:
        return f"S3BlobStore({self.spec.describe()})"

    def describe(self) -> str:
        """Bucket, endpoint and region (never the credentials)."""
        return self.spec.describe()

    @classmethod
    async def connect(cls, spec: S3Spec, *, create_bucket: bool = True) -> S3BlobStore:
        """Connect and check the bucket (creating it when missing); BlobStoreError else."""
        stack = contextlib.AsyncExitStack()
        config = AioConfig(
            max_pool_connections=64, connect_timeout=5, read_timeout=60,
            retries={"max_attempts": 4, "mode": "standard"},
        )
        try:
            client = await stack.enter_async_context(get_session().create_client(
                "s3", endpoint_url=spec.endpoint, region_name=spec.region, config=config))
            store = cls(spec, client, stack)
            await store._check_bucket(create_bucket)
        except BlobStoreError:
            await stack.aclose()
            raise
        except (BotoCoreError, ClientError, OSError, ValueError) as exc:
            await stack.aclose()
            raise _unreachable(spec, exc) from None
        return store

    async def _check_bucket(self, create: bool) -> None:
        try:
            await self._client.head_bucket(Bucket=self.spec.bucket)
            return
        except ClientError as exc:
            if _status(exc) in (401, 403):
                raise BlobStoreError(
                    f"{self.spec.describe()} refused the credentials (HTTP {_status(exc)})",
                    "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from None
            if _status(exc) != 404 or not create:
                raise
        await self._client.create_bucket(Bucket=self.spec.bucket)

    async def close(self) -> None:
        """Close the client's connections."""
        await self._stack.aclose()

    async def put(self, key: str, data: bytes) -> bool:
        """PUT with ``If-None-Match: *``; -> False when the object already existed."""
        try:
            await self._client.put_object(Bucket=self.spec.bucket, Key=key, Body=data,
                                          IfNoneMatch="*")
        except ClientError as exc:
            if _status(exc) == 412 or _code(exc) == "PreconditionFailed":
                return False
            if _status(exc) == 409 and await self.exists(key):  # a concurrent identical PUT
                return False
            raise
        return True

    async def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            await self._client.head_object(Bucket=self.spec.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    async def open(self, key: str) -> BlobStream:
        """GET the object; its body is read piece by piece as the caller iterates."""
        try:
            resp = await self._client.get_object(Bucket=self.spec.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404 or _code(exc) in ("NoSuchKey", "404"):
                raise BlobMissing(key) from None
            raise
        body = resp["Body"]

        async def pieces() -> AsyncIterator[bytes]:
            try:
                async for piece in body.iter_chunks(READ_PIECE):
                    yield piece
            finally:
                body.close()

        return BlobStream(int(resp["ContentLength"]), pieces())

    async def delete(self, keys: list[str]) -> None:
        """DeleteObjects in batches; raise when the store reports an error."""
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            resp = await self._client.delete_objects(
                Bucket=self.spec.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            errors = [e for e in resp.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                raise BlobStoreError(f"could not delete {len(errors)} objects: "
                                     f"{errors[0].get('Code')} {errors[0].get('Message')}")

    async def list(self, prefix: str = "") -> AsyncIterator[list[BlobInfo]]:
        """ListObjectsV2 pages of the bucket under ``prefix``."""
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.spec.bucket, Prefix=prefix):
            yield [BlobInfo(o["Key"], int(o["Size"]), o["LastModified"])
                   for o in page.get("Contents", [])]


def _unreachable(spec: S3Spec, exc: Exception) -> BlobStoreError:
    """A one-line reason for a failed start-up, with the fix."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return BlobStoreError(f"no credentials for {spec.describe()}",
                              "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, ClientError):
        if _status(exc) in (401, 403):
            return BlobStoreError(
                f"{spec.describe()} refused the credentials (HTTP {_status(exc)})",
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
        return BlobStoreError(f"{spec.describe()} answered {_code(exc) or _status(exc)}",
                              "check the bucket name and the endpoint")
    return BlobStoreError(f"cannot reach {spec.describe()}: {exc}",
                          "check endpoint=… in --blob-store and that the S3 server runs")
