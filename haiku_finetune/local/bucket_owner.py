"""S3's expected-bucket-owner check, in front of moto's server (moto 5 ignores the header).

A request that says which account must own the bucket (``x-amz-expected-bucket-owner``, or
``x-amz-source-expected-bucket-owner`` for a copy's source; also accepted in the query string, as a presigned
URL carries it) is answered ``403 AccessDenied`` when that is not the emulated account, as S3 does, and never
reaches moto. Everything else passes through untouched. This module must not interpret any other part of a
request: it is a WSGI filter, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["BucketOwnerFilter"]

_HEADERS = ("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER", "HTTP_X_AMZ_SOURCE_EXPECTED_BUCKET_OWNER")
_QUERY = ("x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner")
_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
    b"<RequestId>LOCALBEDROCKOWNER</RequestId></Error>"
)

_App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BucketOwnerFilter:
    """A WSGI app that answers 403 for a wrong expected bucket owner and hands every other request to ``app``.

    Args:
        app: moto's WSGI application.
        account: The emulated account id: the owner of every bucket.
    """

    def __init__(self, app: _App, account: str) -> None:
        self.app = app
        self.account = account

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        expected = [environ[name] for name in _HEADERS if name in environ]
        query = environ.get("QUERY_STRING", "")
        if query:
            expected += [value for key, value in parse_qsl(query) if key.lower() in _QUERY]
        if any(owner.strip() != self.account for owner in expected):
            # A HEAD gets the headers a GET would (the length included) and no body: S3 answers with the status alone.
            start_response(
                "403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(_DENIED)))]
            )
            return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [_DENIED]
        return self.app(environ, start_response)
