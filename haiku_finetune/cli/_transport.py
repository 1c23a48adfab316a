"""The one place the command builds a transport: from ``--profile``, ``--region`` and ``--endpoint-url``.

Everything else the command does reaches AWS through the transport built here (or the one a test injects).
It must not call AWS itself, nor touch botocore: [`BedrockTransport`][haiku_finetune._transport.BedrockTransport] does.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._transport import BedrockTransport

__all__ = ["ENDPOINT_SERVICES", "endpoint_url", "transport_from_args"]

#: The services ``--endpoint-url`` points elsewhere: the Bedrock control plane and runtime (LocalBedrock serves
#: both on one port). S3, IAM and STS follow boto3's own ``AWS_ENDPOINT_URL_<SERVICE>`` variables.
ENDPOINT_SERVICES = ("bedrock", "bedrock-runtime")


def endpoint_url(value: str) -> str:
    """``argparse`` type of ``--endpoint-url``: an ``http(s)://host[:port]`` URL, checked before anything runs."""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {value!r} (e.g. http://127.0.0.1:5000)")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {value!r}: expected a number from 1 to 65535") from None
    return value


def transport_from_args(args: argparse.Namespace) -> BedrockTransport:
    """Build the transport of one command run from its AWS options (and the environment, as boto3 reads it).

    Raises:
        CredentialsError: The profile is unknown (raised by the transport, before anything is sent).
    """
    from .._transport import BedrockTransport

    url = getattr(args, "endpoint_url", None)
    return BedrockTransport(
        profile=getattr(args, "profile", None),
        region=getattr(args, "region", None),
        endpoint_urls=dict.fromkeys(ENDPOINT_SERVICES, url) if url else None,
    )
