"""While a LocalBedrock runs, nothing the library sends reaches a non-loopback address (issue 14, point 10).

Every test here blocks non-loopback sockets (``socket.socket.connect``, ``socket.create_connection`` and
``socket.getaddrinfo`` raise and record the address) and puts dummy AWS credentials in the environment, so a
leak would be seen, not sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune._transport import get_default_transport, set_default_transport
from haiku_finetune.errors import HermeticError
from haiku_finetune.local import LocalBedrock
from haiku_finetune.model import FineTunedModel


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it would be resolved to somewhere else


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Non-loopback connections raise; the list collects every address that was tried."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_create = socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            attempts.append(address)
            raise OSError(f"test blocks non-loopback connect to {address!r}")
        real_connect(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _loopback(address):
            attempts.append(address)
            raise OSError(f"test blocks non-loopback connection to {address!r}")
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):  # resolving a name is the first step towards connecting to it
            attempts.append(host)
            raise socket.gaierror(f"test blocks resolving {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    return attempts


@pytest.fixture
def previous_default() -> Iterator[hf.BedrockTransport]:
    """A default transport set before the emulator starts (restored to none afterwards)."""
    previous = hf.BedrockTransport(region="eu-west-1")
    set_default_transport(previous)
    yield previous
    set_default_transport(None)


def test_default_transport_calls_reach_the_emulator(blocked: list[Any], previous_default: Any) -> None:
    with LocalBedrock() as local:
        assert get_default_transport() is not previous_default
        assert hf.CustomizationJob.list() == []
        assert hf.find_orphans() == []
        reply = FineTunedModel.base().invoke("Say hi", max_tokens=20)
        assert reply.text
        assert local.responses(), "the calls were answered by the emulator"
    assert blocked == []


def test_an_explicit_real_aws_transport_is_refused_before_any_socket(blocked: list[Any]) -> None:
    with LocalBedrock() as local:
        real = hf.BedrockTransport(region="us-west-2")
        with pytest.raises(HermeticError) as caught:
            hf.CustomizationJob.list(transport=real)
        message = str(caught.value)
        assert "LocalBedrock is running in this process" in message
        assert "bedrock.ListModelCustomizationJobs" in message
        assert "https://bedrock.us-west-2.amazonaws.com" in message
        assert "transport=local.transport()" in message
        assert isinstance(caught.value, hf.HaikuFinetuneError)
        # the emulator's own transport still works alongside
        assert hf.CustomizationJob.list(transport=local.transport()) == []
    assert blocked == []


def test_an_explicit_endpoint_that_is_not_loopback_is_refused(blocked: list[Any]) -> None:
    with LocalBedrock():
        elsewhere = hf.BedrockTransport(region="us-west-2", endpoint_urls={"sts": "https://sts.example.com"})
        with pytest.raises(HermeticError, match=r"sts\.GetCallerIdentity to https://sts\.example\.com"):
            elsewhere.account_id()
    assert blocked == []


def test_a_transport_given_nothing_adopts_the_emulator(blocked: list[Any]) -> None:
    with LocalBedrock() as local:
        bare = hf.BedrockTransport()
        assert bare.endpoint_urls["bedrock"] == local.endpoint_url
        assert bare.region == local.region
        assert hf.CustomizationJob.list(transport=bare) == []
    assert blocked == []


def test_a_client_built_before_the_emulator_started_is_guarded_too(blocked: list[Any]) -> None:
    early = hf.BedrockTransport(region="us-west-2")
    early.client("bedrock")  # built before: no request yet
    with LocalBedrock(), pytest.raises(HermeticError, match="ListModelCustomizationJobs"):
        hf.CustomizationJob.list(transport=early)
    assert blocked == []


def test_stop_restores_the_previous_default(blocked: list[Any], previous_default: Any) -> None:
    local = LocalBedrock().start()
    try:
        during = get_default_transport()
        assert during is not previous_default
        assert during.endpoint_urls["bedrock"] == local.endpoint_url
    finally:
        local.stop()
    assert get_default_transport() is previous_default
    # and the guard is off again: an ordinary transport sends (here: into the test's socket block)
    with pytest.raises(hf.ConnectionFailedError):
        hf.BedrockTransport(region="us-west-2", retry=hf.RetryPolicy(max_attempts=1)).account_id()
    assert blocked, "after stop the request went out to the (blocked) network"


def test_stop_restores_an_unset_default(blocked: list[Any]) -> None:
    set_default_transport(None)
    with LocalBedrock() as local:
        assert get_default_transport().endpoint_urls["sts"] == local.s3_endpoint_url
    fresh = get_default_transport()
    try:
        assert fresh.endpoint_urls == {}
    finally:
        set_default_transport(None)
