"""Starting and stopping LocalBedrock: no leaked thread, socket or port; one at a time; the standalone server."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from haiku_finetune.local import LocalBedrock
from tests.serve_process import serve


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


def test_a_second_running_emulator_is_refused_and_the_first_keeps_its_data() -> None:
    with LocalBedrock() as first:
        s3 = first.transport()
        s3.call("s3", "CreateBucket", Bucket="kept", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        second = LocalBedrock()
        with pytest.raises(RuntimeError, match="already running"):
            second.start()
        second.stop()  # nothing to stop, and no harm to the first
        assert [b["Name"] for b in s3.call("s3", "ListBuckets")["Buckets"]] == ["kept"]
    with LocalBedrock() as after:  # once the first stopped, a new one starts (from a clean slate)
        assert after.transport().call("s3", "ListBuckets")["Buckets"] == []


def test_standalone_module_prints_the_environment_and_stops_on_ctrl_c() -> None:
    with serve(["-m", "haiku_finetune.local", "--seed", "3"], ready="# Serving until Ctrl-C") as served:
        assert served.env["AWS_ENDPOINT_URL_BEDROCK"].startswith("http://127.0.0.1:")
        client = served.bedrock()
        assert client.list_foundation_models()["modelSummaries"]
        client.close()
    assert served.lines[0].startswith("# LocalBedrock: emulated account 123456789012, region us-west-2")
    assert served.returncode == 0 and served.out.strip() == "# LocalBedrock stopped", served.err
    assert "Traceback" not in served.err
