"""Make moto's S3 behave as AWS does today where this project depends on it: default encryption.

Since 2023-01-05 S3 applies SSE-S3 to every bucket (facts §9): GetBucketEncryption returns an
AES256 rule for a bucket nobody configured, new objects are encrypted with it, and
DeleteBucketEncryption resets a bucket to SSE-S3 instead of removing its default encryption.
moto 5.2.5 gives a new bucket no configuration and removes it on delete, so tests against it would
fix a state AWS no longer produces.

``install()`` patches moto's S3 model classes in this process; the tests (``tests/conftest.py``)
and the embedded emulator (``governance/cli/emulator.py``, whose server runs moto in-process)
install it. The Lambda package never imports this module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

SSE_S3_DEFAULT: dict[str, Any] = {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": "false"}}
"""A bucket's default encryption as moto stores it (parsed request XML) when nobody configured one."""

_ORIGINALS: dict[str, Callable[..., Any]] = {}


def default_encryption() -> dict[str, Any]:
    """A fresh copy of the SSE-S3 default, so that no two buckets share one mutable value."""
    return copy.deepcopy(SSE_S3_DEFAULT)


def install() -> None:
    """Give every moto bucket SSE-S3 default encryption, as AWS does; calling it again changes nothing."""
    if _ORIGINALS:
        return
    from moto.s3.models import FakeBucket, S3Backend

    original_init = FakeBucket.__init__
    original_delete = S3Backend.delete_bucket_encryption

    def init_with_default_encryption(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.encryption = default_encryption()

    def delete_resets_to_sse_s3(self: Any, bucket_name: str) -> None:
        original_delete(self, bucket_name)
        self.get_bucket(bucket_name).encryption = default_encryption()

    _ORIGINALS["FakeBucket.__init__"] = original_init
    _ORIGINALS["S3Backend.delete_bucket_encryption"] = original_delete
    FakeBucket.__init__ = init_with_default_encryption  # type: ignore[method-assign]
    S3Backend.delete_bucket_encryption = delete_resets_to_sse_s3  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own behaviour (no default encryption); calling it when not installed changes nothing."""
    if not _ORIGINALS:
        return
    from moto.s3.models import FakeBucket, S3Backend

    FakeBucket.__init__ = _ORIGINALS.pop("FakeBucket.__init__")  # type: ignore[method-assign]
    S3Backend.delete_bucket_encryption = _ORIGINALS.pop("S3Backend.delete_bucket_encryption")  # type: ignore[method-assign]


def installed() -> bool:
    """Whether moto's buckets currently get SSE-S3 default encryption."""
    return bool(_ORIGINALS)
