"""Large payloads (execution input, results) live in S3; items keep a pointer.

S3 failures come out as :mod:`stepline.store.errors` (``Throttled`` for ``SlowDown``/503,
``Unavailable``, ``Refused``), reading the body included; an object that is no longer there
(the bucket's lifecycle expires objects after ``HistoryRetentionDays``) is :class:`PayloadGone`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepline.store.errors import StoreError, translated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Items must stay well below DynamoDB's 400 KB; anything larger goes to the bucket.
INLINE_LIMIT = 64 * 1024


class PayloadGone(StoreError):
    """The object a pointer refers to is no longer in the bucket (its retention is over)."""


class Payloads:
    """Stores and loads JSON texts in the payload bucket."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, text: str) -> str:
        """Store ``text`` under ``key`` and return the pointer to keep in the item."""
        with translated("s3"):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=text.encode(), ContentType="application/json"
            )
        return f"s3://{self.bucket}/{key}"

    def get(self, pointer: str) -> str:
        """Load the text a pointer refers to."""
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        with translated("s3"):
            try:
                response = self.client.get_object(Bucket=bucket, Key=key)
            except self.client.exceptions.NoSuchKey as exc:
                raise PayloadGone(pointer) from exc
            body = response["Body"].read()
        return bytes(body).decode()
