"""Where Lore Cloud keeps sealed chunks: the database (default) or an S3 bucket.

``--blob-store`` takes ``db`` or ``s3://BUCKET?endpoint=URL&region=REGION``;
:func:`parse_blob_store` checks it whole and :func:`open_blob_store` connects. Every bad
value is a :class:`BlobStoreError` with a message and a hint (printed as ``error: …`` /
``hint: …`` by the CLI).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from lorecloud.blobs.base import BlobMissing, BlobStore, BlobStoreError, BlobStream, blob_key
from lorecloud.blobs.db import DbBlobStore

__all__ = ["BlobMissing", "BlobStore", "BlobStoreError", "BlobStream", "DbBlobStore",
           "blob_key", "open_blob_store", "parse_blob_store"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_EXAMPLE = "s3://BUCKET?endpoint=https://s3.example.com&region=eu-central-1"
_KEYS = ("endpoint", "region")


def parse_blob_store(value: str | None) -> object:
    """``None``/``db`` -> the string "db"; ``s3://…`` -> an S3Spec; else BlobStoreError."""
    from lorecloud.blobs.s3 import S3Spec

    raw = (value or "db").strip()
    if raw == "db":
        return "db"
    try:
        parts = urlsplit(raw)
        _ = parts.port
    except ValueError as exc:
        raise BlobStoreError(f"--blob-store {raw!r} is not a URL ({exc})",
                             f"use db or {_EXAMPLE}") from None
    if parts.scheme != "s3":
        raise BlobStoreError(f"unsupported --blob-store {_safe(raw)!r}",
                             f"use db (chunks in the database) or {_EXAMPLE}")
    if parts.username or parts.password:
        raise BlobStoreError("--blob-store must not carry credentials",
                             "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
    bucket = parts.hostname or ""
    if not _BUCKET.match(bucket) or ".." in bucket or parts.port is not None:
        raise BlobStoreError(f"{bucket or '(none)'!r} is not an S3 bucket name",
                             "3-63 lowercase letters, digits, dots and dashes, e.g. "
                             + _EXAMPLE)
    if parts.path not in ("", "/") or parts.fragment:
        raise BlobStoreError(f"--blob-store takes no path after the bucket ({parts.path!r})",
                             _EXAMPLE)
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise BlobStoreError(f"cannot read the options {parts.query!r} of --blob-store",
                             _EXAMPLE) from None
    opts: dict[str, str] = {}
    for key, val in query:
        if key not in _KEYS:
            raise BlobStoreError(f"unknown --blob-store option {key!r}",
                                 f"options: {', '.join(_KEYS)} ({_EXAMPLE})")
        if key in opts:
            raise BlobStoreError(f"--blob-store option {key!r} given twice", _EXAMPLE)
        opts[key] = val
    endpoint = opts.get("endpoint")
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise BlobStoreError(f"endpoint {endpoint!r} is not an http(s) URL",
                                 "e.g. endpoint=http://127.0.0.1:8333")
        if ep.username or ep.password:
            raise BlobStoreError("the endpoint must not carry credentials",
                                 "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
    region = opts.get("region", "us-east-1")
    if not _REGION.match(region):
        raise BlobStoreError(f"{region!r} is not a region name", "e.g. region=eu-central-1")
    return S3Spec(bucket, endpoint, region)


def _safe(raw: str) -> str:
    """The value with anything that looks like user:password@ removed."""
    return re.sub(r"//[^/@]*@", "//***@", raw)


async def open_blob_store(value: str | None) -> BlobStore:
    """Parse and connect (S3: check or create the bucket); BlobStoreError when unusable."""
    spec = parse_blob_store(value)
    if spec == "db":
        return DbBlobStore()
    from lorecloud.blobs.s3 import S3BlobStore, S3Spec

    assert isinstance(spec, S3Spec)
    return await S3BlobStore.connect(spec)
