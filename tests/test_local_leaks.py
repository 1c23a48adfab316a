"""Starting and stopping LocalBedrock many times leaks no thread, socket or port."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from haiku_finetune.local import LocalBedrock


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) != 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_twenty_starts_and_stops_leak_nothing() -> None:
    with LocalBedrock() as warm:  # first start imports moto and botocore models: not a leak
        warm.transport().call("bedrock", "ListFoundationModels")
    time.sleep(0)  # no real waiting needed: stop() joins its threads
    threads = {t.ident for t in threading.enumerate()}
    fds = _open_fds()
    urls = []
    for _ in range(20):
        with LocalBedrock() as local:
            transport = local.transport()
            transport.call("bedrock", "ListFoundationModels")
            transport.call("s3", "ListBuckets")
            urls += [local.endpoint_url, local.s3_endpoint_url]
    leaked = [t for t in threading.enumerate() if t.ident not in threads]
    assert leaked == [], leaked
    assert _open_fds() <= fds + 2, "open file descriptors grew"
    assert all(_refused(url) for url in urls), "a port is still listening"
