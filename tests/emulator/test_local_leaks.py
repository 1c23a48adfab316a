"""Starting and stopping LocalBedrock: no leaked thread, socket or port; one at a time; the standalone server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
    for _ in range(20):
        with LocalBedrock() as local:
            transport = local.transport()
            transport.call("bedrock", "ListFoundationModels")
            transport.call("s3", "ListBuckets")
            urls = (local.endpoint_url, local.s3_endpoint_url)
        # Checked at once, not after all twenty: another process on this machine may take a freed port later.
        for url in urls:
            assert _refused(url), f"{url} is still listening after stop"
    leaked = [t for t in threading.enumerate() if t.ident not in threads]
    assert leaked == [], leaked
    assert _open_fds() <= fds + 2, "open file descriptors grew"


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_standalone_module_serves_on_the_port_asked_for() -> None:
    port = _free_port()
    with serve(
        ["-m", "haiku_finetune.local", "--port", str(port), "--time-scale", "3600"], ready="# Serving until Ctrl-C"
    ) as served:
        assert served.env["AWS_ENDPOINT_URL_BEDROCK"] == f"http://127.0.0.1:{port}"
        assert "# Emulated time runs 3600 times as fast as real time." in served.lines
        client = served.bedrock()
        assert client.list_foundation_models()["modelSummaries"]
        client.close()
    assert served.returncode == 0, served.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # The same refusals as 'haiku-finetune local serve': both entry points take one declaration of the options.
        (["--time-scale", "0"], "--time-scale: must be a finite number > 0, got 0"),
        (["--time-scale", "nan"], "--time-scale: not a finite number: 'nan'"),
        (["--time-scale", "1e9"], "--time-scale: must be at most 86400, got 1e9"),
        (["--port", "70000"], "--port: a port is between 0 and 65535"),
        (["--port", "http"], "--port: not a port number"),
    ],
)
def test_standalone_module_refuses_bad_options_in_one_line(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "haiku_finetune.local", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_standalone_module_says_in_one_line_that_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "haiku_finetune.local", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"python -m haiku_finetune.local: error: LocalBedrock could not start on port {port}")
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
