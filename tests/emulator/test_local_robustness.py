"""LocalBedrock under stress and abuse: a burst of connections, bad arguments, malformed requests, retry budgets
on a shared or scaled clock. Every test is bounded in real time (socket timeouts, thread joins)."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from haiku_finetune import RetryPolicy
from haiku_finetune.errors import ThrottlingError
from haiku_finetune.local import EmulatedClock, Faults, LocalBedrock
from haiku_finetune.local.clock import MAX_TIME_SCALE
from haiku_finetune.local.faults import FaultDecision
from haiku_finetune.local.server import BedrockServer


def _address(local: LocalBedrock) -> tuple[str, int]:
    host, port = local.endpoint_url.removeprefix("http://").split(":")
    return host, int(port)


def _exchange(address: tuple[str, int], request: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes on a new connection; everything the server answers until it closes (or 10 s pass)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def _bounded(work: Callable[[], Any], seconds: float) -> Any:
    """Run ``work`` in a thread; fail the test (instead of hanging it) if it takes longer than ``seconds``."""
    outcome: dict[str, Any] = {}

    def _run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=_run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# -- a burst of new connections -----------------------------------------------------------------------------


def test_96_simultaneous_new_connections_are_all_answered_without_a_syn_retry(local: LocalBedrock) -> None:
    assert BedrockServer.request_queue_size >= 128
    address = _address(local)
    request = b"GET /foundation-models HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    start = threading.Barrier(96, timeout=20)

    def _one(_: int) -> tuple[bytes, float]:
        with socket.socket() as sock:
            sock.settimeout(10)
            start.wait()  # all 96 connect at the same instant: a short backlog drops SYNs
            began = time.monotonic()
            sock.connect(address)
            connected = time.monotonic() - began
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            return answer, connected

    with ThreadPoolExecutor(max_workers=96) as pool:
        results = list(pool.map(_one, range(96), timeout=60))
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer, _ in results)
    # A dropped SYN is retransmitted after one second: with backlog 5 the slowest connect takes over 1 s.
    slowest = max(connected for _, connected in results)
    assert slowest < 0.9, f"slowest connect took {slowest:.2f} s"


# -- arguments refused at once ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"faults": {"throttle": 0.5}}, TypeError),
        ({"faults": "throttle"}, TypeError),
        ({"time_scale": 0}, ValueError),
        ({"time_scale": -60}, ValueError),
        ({"time_scale": math.nan}, ValueError),
        ({"time_scale": math.inf}, ValueError),
        ({"time_scale": MAX_TIME_SCALE * 2}, ValueError),
        ({"time_scale": "60"}, TypeError),
        ({"time_scale": True}, TypeError),
        ({"seed": "7"}, TypeError),
        ({"step_seconds": 0}, ValueError),
        ({"step_seconds": -30}, ValueError),
        ({"pt_ready_seconds": -1}, ValueError),
        ({"pt_ready_seconds": math.nan}, ValueError),
        ({"calls_per_second_per_unit": 0}, ValueError),
        ({"validation_losses": "0.9,0.8"}, TypeError),
        ({"validation_losses": [0.9, -0.1]}, ValueError),
        ({"validation_losses": [0.9, "0.8"]}, TypeError),
        ({"port": 70000}, ValueError),
        ({"port": "8000"}, TypeError),
    ],
)
def test_a_bad_argument_is_refused_at_construction(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        _bounded(lambda: LocalBedrock(**kwargs), 5)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"throttle": 1.5}, ValueError),
        ({"throttle": -0.1}, ValueError),
        ({"server_error": "often"}, TypeError),
        ({"drop": {"InvokeModel": -2}}, ValueError),
        ({"lose_response": {"InvokeModel": math.nan}}, ValueError),
        ({"latency": -0.05}, ValueError),
        ({"latency": {"InvokeModel": math.inf}}, ValueError),
        ({"slow_seconds": -2}, ValueError),
        ({"seed": 1.5}, TypeError),
    ],
)
def test_bad_faults_are_refused_when_made(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        Faults(**kwargs)


def test_counts_and_rates_per_operation_are_accepted() -> None:
    Faults(throttle={"InvokeModel": 3, "Converse": 0.5}, latency={"InvokeModel": 0.01}, slow=1.0, seed=2)


def test_assigning_bad_faults_to_a_running_emulator_is_refused(local: LocalBedrock) -> None:
    with pytest.raises(TypeError, match="Faults"):
        local.faults = {"throttle": 1.0}  # type: ignore[assignment]
    assert local.faults is None
    assert local.transport().call("bedrock", "ListFoundationModels")["modelSummaries"]


def test_a_failed_start_returns_at_once_and_frees_the_slot() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            _bounded(LocalBedrock(port=port).start, 30)
    with LocalBedrock() as after:  # the failed one is not "already running"
        assert after.transport().call("bedrock", "ListFoundationModels")["modelSummaries"]


def test_a_server_that_never_served_stops_at_once() -> None:
    server = BedrockServer(service=None)  # type: ignore[arg-type]
    _bounded(server.stop, 5)


# -- malformed requests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["abc", "-5", "+5", "1_0", "5.0", "", "99999999999999"])
def test_a_malformed_content_length_gets_a_400_and_no_traceback(
    local: LocalBedrock, capfd: pytest.CaptureFixture[str], length: str
) -> None:
    request = f"POST /model-customization-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode()
    answer = _bounded(lambda: _exchange(_address(local), request), 20)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"Content-Length" in answer
    assert "Traceback" not in capfd.readouterr().err
    assert local.transport().call("bedrock", "ListFoundationModels")["modelSummaries"]  # still serving


def test_a_body_shorter_than_its_content_length_gets_a_400(
    local: LocalBedrock, capfd: pytest.CaptureFixture[str]
) -> None:
    request = b"POST /model-customization-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
    answer = _bounded(lambda: _exchange(_address(local), request, half_close=True), 20)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"shorter" in answer, answer[:200]
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_that_never_sends_the_promised_body_gets_a_400_after_the_body_timeout(local: LocalBedrock) -> None:
    server = local._server
    assert server is not None
    server.body_timeout = 0.2
    request = b"POST /model-customization-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}"
    began = time.monotonic()
    answer = _bounded(lambda: _exchange(_address(local), request), 20)  # the socket stays open for writing
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert time.monotonic() - began < 5


# -- retry budgets -------------------------------------------------------------------------------------------------


@pytest.fixture
def poller(local: LocalBedrock) -> Iterator[None]:
    """Another thread polling on the shared manual clock, as a job.wait() does: emulated time races ahead."""
    done = threading.Event()

    def _poll() -> None:
        while not done.is_set():
            local.clock.sleep(600)
            time.sleep(0.001)  # a real poll's round trip: let the callers run between advances

    thread = threading.Thread(target=_poll, daemon=True)
    thread.start()
    yield
    done.set()
    thread.join(5)


class _CountingFaults(Faults):
    """Faults that count the throttles they decided (a rate's hits are not counted by Faults itself)."""

    throttled = 0

    def decide(self, operation: str) -> FaultDecision:
        decision = super().decide(operation)
        if decision.throttle:
            with self._lock:
                self.throttled += 1
        return decision


@pytest.mark.usefixtures("poller")
def test_polling_on_a_shared_manual_clock_does_not_use_up_another_calls_retry_budget(local: LocalBedrock) -> None:
    # A rate, not a count: a count would let one fast thread take five throttles in a row. At 5% over 160
    # calls some are throttled (all but surely), and five in a row for one call is a one-in-three-million.
    faults = _CountingFaults(throttle=0.05, seed=11)
    local.faults = faults
    transport = local.transport(max_pool_connections=32)
    start = threading.Barrier(32, timeout=20)

    def _call(_: int) -> int:
        start.wait()
        for _ in range(5):
            transport.call("bedrock", "ListFoundationModels")
            local.clock.sleep(300)  # each caller polls too
        return 1

    with ThreadPoolExecutor(max_workers=32) as pool:
        assert sum(pool.map(_call, range(32), timeout=120)) == 32  # a ThrottlingError would surface here
    assert faults.throttled > 0


def test_the_retry_budget_is_real_time_so_a_scaled_clock_still_retries() -> None:
    # 50 ms of real latency is 180 emulated seconds at 3600x: more than the default 120 s budget.
    faults = Faults(throttle={"ListFoundationModels": 1}, latency={"ListFoundationModels": 0.05})
    with LocalBedrock(time_scale=3600, faults=faults) as local:
        assert local.transport().call("bedrock", "ListFoundationModels")["modelSummaries"]
        assert faults._counts[("throttle", "ListFoundationModels")] == 1


def test_a_retry_policy_given_to_transport_is_used_as_it_is(local: LocalBedrock) -> None:
    local.faults = Faults(throttle={"ListFoundationModels": 1})
    transport = local.transport(retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ThrottlingError):
        transport.call("bedrock", "ListFoundationModels")


# -- emulated timestamps ---------------------------------------------------------------------------------------------


def test_emulated_timestamps_are_whole_milliseconds_after_the_start() -> None:
    clock = EmulatedClock(3600)
    stamp = clock.at(1.2345678)
    assert stamp.microsecond % 1000 == 0
    assert (stamp - clock.at(0)).total_seconds() == pytest.approx(1.235)
    assert clock.at(0).tzinfo is not None
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance(math.nan)


@pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")
def test_32_concurrent_deployment_with_blocks_on_one_manual_clock_all_succeed(
    local: LocalBedrock, tmp_path: Any
) -> None:
    # The case reported: each block polls for InService on the shared clock while the others are throttled.
    import json

    import haiku_finetune as hf
    from haiku_finetune import iam, storage
    from haiku_finetune.deployment import ProvisionedDeployment
    from haiku_finetune.jobs import CustomizationJob

    transport = local.transport(max_pool_connections=32)
    transport.call("s3", "CreateBucket", Bucket="b32", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    path = tmp_path / "train.jsonl"
    record = {"messages": [{"role": "user", "content": "charged twice"}, {"role": "assistant", "content": "billing"}]}
    path.write_text("".join(json.dumps(record | {"system": f"r{i}"}) + "\n" for i in range(40)), encoding="utf-8")
    train = storage.upload_dataset(path, "s3://b32/data/", transport=transport)
    role = iam.ensure_service_role("b32", training="s3://b32/data/", output="s3://b32/out/", transport=transport)
    model = (
        CustomizationJob.create(
            training_data=train,
            output_uri="s3://b32/out/",
            role_arn=role,
            hyperparameters=hf.Hyperparameters(epoch_count=1, batch_size=8),
            transport=transport,
        )
        .wait(progress=False)
        .custom_model
    )
    faults = _CountingFaults(throttle=0.05, seed=5)
    local.faults = faults
    start = threading.Barrier(32, timeout=20)

    def _block(i: int) -> str:
        start.wait()
        with ProvisionedDeployment.create(model, model_units=1, name=f"pt-{i}", transport=transport) as deployment:
            return deployment.model.invoke("charged twice").text

    with ThreadPoolExecutor(max_workers=32) as pool:
        replies = list(pool.map(_block, range(32), timeout=300))
    assert replies == ["billing"] * 32
    assert faults.throttled > 0
    assert local.deployments() == []
