"""LocalBedrock: an offline Bedrock on loopback, so the whole fine-tuning workflow runs with no AWS account.

This module starts and stops the pieces (moto for S3/IAM/STS, ``server.py`` for Bedrock over ``service.py``),
checks the emulator's arguments, hands out transports wired to it, and offers the controls and inspections
tests use. It must not implement an API operation (the API-area modules do) nor touch HTTP framing.

The real boto3 clients talk HTTP to it unchanged. It serves bedrock's control plane (customization jobs,
custom models, provisioned throughput, batch inference, foundation models, tags) and bedrock-runtime
(InvokeModel, streaming, Converse, CountTokens); S3, IAM and STS come from moto's server, started alongside.
It needs the ``local`` extra (moto). Nothing in the core library imports this package; the public import
path is ``haiku_finetune.local``.

    with LocalBedrock() as local:                  # manual clock: time moves only when you say
        transport = local.transport()              # a BedrockTransport wired to it
        ...
        local.advance(3600)                        # an emulated hour passes
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as _dt
import logging
import math
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from .._retry import RetryPolicy
from .._transport import BedrockTransport, _enter_hermetic, _exit_hermetic
from ..errors import MissingExtraError
from ._common import ACCOUNT
from .bucket_owner import BucketOwnerFilter
from .capacity import DEFAULT_UNIT_CAPACITY, CapacityMeter, UnitCapacity
from .clock import EmulatedClock
from .faults import Faults
from .runtime import Responder
from .scheduler import Scheduler
from .server import BedrockServer
from .service import REGION, Service

__all__ = ["LocalBedrock"]

_log = logging.getLogger(__name__)

# The emulator running in this process, if any (at most one: see start()).
_running: list[LocalBedrock] = []
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_running_lock = threading.Lock()


class LocalBedrock:
    """An emulated Bedrock (and moto S3/IAM/STS) on 127.0.0.1.

    Args:
        time_scale: ``None`` (default) for a manual clock that moves only through
            [`advance`][haiku_finetune.local.emulator.LocalBedrock.advance] or when
            the library waits on `clock`; or emulated seconds per real second (``3600``: an hour a
            second).
        faults: Faults to inject (also settable later through
            [`faults`][haiku_finetune.local.emulator.LocalBedrock.faults]); one without a ``seed`` of its
            own draws from ``seed``.
        seed: Seeds identifiers, loss curves and fault draws.

        validation_losses: Per-epoch validation losses every job follows (default: a seeded curve that
            responds to the learning-rate multiplier).
        step_seconds: Emulated seconds per training step (> 0).
        pt_ready_seconds: Emulated seconds a Provisioned Throughput takes to come up (>= 0).
        calls_per_second_per_unit: Runtime calls per real second each model unit serves before throttling
            (``None``: no cap).
        unit_capacity: Tokens per minute each model unit of a Provisioned Throughput serves before it
            throttles (default: 600,000 input and 60,000 output per unit, a minute of burst; ``None``: no cap).
        port: The bedrock and bedrock-runtime port on 127.0.0.1 (0, the default: a free one; S3/IAM/STS
            always get a free one).
        date: The emulated date (or datetime, UTC) at start; default: ``$LOCAL_BEDROCK_DATE`` (``YYYY-MM-DD``)
            when set, else the real current time. Emulated time advances from it with the clock, and every base
            model's lifecycle follows it (a model past its end of life answers as the service does).
        region: The emulated region (default ``us-west-2``): ARNs, transports and each base model's lifecycle
            and fine-tuning availability follow it.

    Raises:
        TypeError: An argument of the wrong type (e.g. ``faults`` that is not a
            [`Faults`][haiku_finetune.local.emulator.Faults]).
        ValueError: A number out of range (a ``time_scale`` of 0 or less, negative seconds, NaN, ...).

    One emulator runs in a process at a time: moto keeps S3, IAM and STS state per process, so a second
    [`start`][haiku_finetune.local.emulator.LocalBedrock.start] while one is running raises ``RuntimeError`` rather than
    wipe the first one's data.
    """

    def __init__(
        self,
        *,
        time_scale: float | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        validation_losses: list[float] | None = None,
        step_seconds: float = 30.0,
        pt_ready_seconds: float = 1200.0,
        calls_per_second_per_unit: float | None = None,
        unit_capacity: UnitCapacity | None = DEFAULT_UNIT_CAPACITY,
        port: int = 0,
        date: _dt.date | None = None,
        region: str = REGION,
    ) -> None:
        # Everything is checked here, before anything starts: a bad argument is one clear error at once.
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, got {type(port).__name__}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        if unit_capacity is not None and not isinstance(unit_capacity, UnitCapacity):
            raise TypeError(f"unit_capacity must be a UnitCapacity or None, got {type(unit_capacity).__name__}")
        if date is not None and not isinstance(date, _dt.date):
            raise TypeError(f"date must be a datetime.date or datetime, got {type(date).__name__}")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ValueError(f"region must be an AWS region name such as 'us-east-1', got {region!r}")
        start = (
            date
            if isinstance(date, _dt.datetime)
            else _dt.datetime(date.year, date.month, date.day, tzinfo=_dt.timezone.utc)
            if date is not None
            else None
        )
        self.clock = EmulatedClock(time_scale, start=start)
        self.region = region
        self.seed = seed
        self.port = port
        self._faults = _faults(faults)
        self._settings = {
            "validation_losses": _losses(validation_losses),
            "step_seconds": _number("step_seconds", step_seconds, positive=True),
            "pt_ready_seconds": _number("pt_ready_seconds", pt_ready_seconds, positive=False),
            "calls_per_second_per_unit": None
            if calls_per_second_per_unit is None
            else _number("calls_per_second_per_unit", calls_per_second_per_unit, positive=True),
            "capacity": CapacityMeter(unit_capacity),
        }
        self._moto: Any = None
        self._server: BedrockServer | None = None
        self._service: Service | None = None
        self._s3: Any = None
        self._transports: list[BedrockTransport] = []
        self._clients: list[Any] = []  # boto3 clients handed out by client()
        self._hermetic: object | None = None  # the token of the hermetic period while running

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> LocalBedrock:
        """Start moto and the emulator; returns ``self``."""
        if self._server is not None:
            return self
        with _running_lock:
            if _running:
                # moto keeps S3/IAM/STS state per process, and start() resets it: a second emulator would wipe
                # the first one's buckets and roles. Refuse instead of corrupting it.
                raise RuntimeError(
                    "another LocalBedrock is already running in this process (S3/IAM/STS state is shared "
                    "per process); stop it first, or reuse it"
                )
            _running.append(self)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalBedrock:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:
            raise MissingExtraError("LocalBedrock", "local", "moto[server]") from error
        import boto3

        werkzeug = logging.getLogger("werkzeug")
        werkzeug.setLevel(logging.WARNING)  # moto's server logs every request otherwise
        if not any(isinstance(f, _MotoGapFilter) for f in werkzeug.filters):
            werkzeug.addFilter(_MotoGapFilter())
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        # moto 5 ignores ExpectedBucketOwner: answer a wrong one with S3's 403 before moto sees it.
        self._moto._server.app = BucketOwnerFilter(self._moto._server.app, ACCOUNT)
        host, port = self._moto.get_host_and_port()
        self.s3_endpoint_url = f"http://{host}:{port}"
        # moto keeps its state in the process: start every emulator from a clean slate.
        _post(f"{self.s3_endpoint_url}/moto-api/reset")
        self._s3 = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client("s3", endpoint_url=self.s3_endpoint_url)
        self._service = Service(self.clock, self._s3, seed=self.seed, region=self.region)
        for name, value in self._settings.items():
            setattr(self._service, name, value)
        self._server = BedrockServer(self._service, self.port)
        self._server.faults = self._seeded(self._faults)
        self._server.scheduler = Scheduler.for_emulator(self)
        self._server.start()
        # Hermetic from here to stop(): default-transport calls come here, nothing reaches real AWS.
        self._hermetic = _enter_hermetic(self._endpoint_urls(), self.transport())
        _log.info("LocalBedrock serving on %s (S3/IAM/STS on %s)", self._server.url, self.s3_endpoint_url)
        return self

    def stop(self) -> None:
        """Stop everything; closes the clients it handed out (its own and its transports'). Safe to call twice."""
        try:
            for transport in self._transports:
                transport.close()
            self._transports.clear()
            for client in self._clients:
                client.close()
            self._clients.clear()
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._s3 is not None:
                self._s3.close()
                self._s3 = None
            if self._moto is not None:
                try:
                    _post(f"{self.s3_endpoint_url}/moto-api/reset")
                finally:
                    _stop_promptly(self._moto)
                    self._moto = None
        finally:
            if self._hermetic is not None:
                _exit_hermetic(self._hermetic)  # the previous default transport is back
                self._hermetic = None
            with _running_lock:
                if self in _running:
                    _running.remove(self)

    def __enter__(self) -> LocalBedrock:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- wiring -----------------------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The bedrock and bedrock-runtime endpoint."""
        return self._running_server().url

    def transport(self, **kwargs: Any) -> BedrockTransport:
        """A [`BedrockTransport`][haiku_finetune.local.emulator.BedrockTransport] wired to the emulator (dummy
        credentials, its region, emulated clock).

        Waits (job and deployment polling, retry backoff) run on the emulated clock. The retry policy's time
        budget (``total_timeout``) is measured on the real monotonic clock: it bounds real network time,
        which the emulator never scales, and one thread's polling on a shared manual clock must not use up
        another call's budget. Keyword arguments go to
        [`BedrockTransport`][haiku_finetune.local.emulator.BedrockTransport] (e.g. ``retry=``,
        ``max_pool_connections=``); a ``retry=`` given here is used as it is.
        """
        import boto3

        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("retry", RetryPolicy(sleep=kwargs["clock"].sleep, clock=time.monotonic))
        transport = BedrockTransport(
            session=boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region
            ),
            region=self.region,
            endpoint_urls=self._endpoint_urls(),
            **kwargs,
        )
        self._transports.append(transport)
        return transport

    def _endpoint_urls(self) -> dict[str, str]:
        url = self.endpoint_url
        return {
            "bedrock": url,
            "bedrock-runtime": url,
            "s3": self.s3_endpoint_url,
            "iam": self.s3_endpoint_url,
            "sts": self.s3_endpoint_url,
            "scheduler": url,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A plain boto3 client for ``service`` wired to the emulator: dummy credentials, its region, its endpoint.

        For tests that drive the emulator with the clients users already have. Keyword arguments go to
        ``boto3.client`` (e.g. ``config=Config(parameter_validation=False)`` to let bad input reach the server);
        `stop` closes it. Code that makes its own clients is pointed here by `session_env` instead.

        Raises:
            ValueError: The emulator does not serve ``service``.
        """
        import boto3

        endpoints = self._endpoint_urls()
        if service not in endpoints:
            raise ValueError(f"LocalBedrock serves {', '.join(sorted(endpoints))}, not {service!r}")
        # A session of its own, as transport()'s: boto3's default one is process-wide and not thread-safe.
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region
        )
        client = session.client(service, endpoint_url=endpoints[service], **kwargs)  # type: ignore[call-overload]
        self._clients.append(client)
        return client

    def session_env(self) -> dict[str, str]:
        """Environment variables that point any boto3 code at the emulator (with dummy credentials)."""
        # botocore's per-service variable: AWS_ENDPOINT_URL_<service id, upper case, "-" as "_">.
        endpoints = {
            f"AWS_ENDPOINT_URL_{name.upper().replace('-', '_')}": url for name, url in self._endpoint_urls().items()
        }
        return {
            **endpoints,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # -- control and inspection -------------------------------------------------------------------------------

    @property
    def date(self) -> _dt.date:
        """The emulated date (UTC) now."""
        return self.clock.now().date()

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of emulated time pass (guard schedules that fall due fire)."""
        self.clock.advance(seconds)
        if self._server is not None and self._server.scheduler is not None:
            self._server.scheduler.fire_due()

    @property
    def scheduler(self) -> Scheduler:
        """The emulated EventBridge Scheduler (one-time schedules that delete a Provisioned Throughput)."""
        scheduler = self._running_server().scheduler
        assert scheduler is not None
        return scheduler

    @property
    def faults(self) -> Faults | None:
        """The faults being injected (``None``: none). Assign a new [`Faults`][haiku_finetune.local.emulator.Faults] to
        change them."""
        return self._faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._faults = _faults(value)
        if self._server is not None:
            self._server.faults = self._seeded(value)

    def _seeded(self, faults: Faults | None) -> Faults | None:
        """A [`Faults`][haiku_finetune.local.emulator.Faults] without a seed of its own draws from the emulator's
        seed."""
        if faults is not None and faults.seed is None:
            faults.seed = self.seed
        return faults

    @property
    def validation_losses(self) -> list[float] | None:
        """Per-epoch validation losses that new jobs follow (``None``: the default curve)."""
        return self._running_service().validation_losses

    @validation_losses.setter
    def validation_losses(self, losses: list[float] | None) -> None:
        self._running_service().validation_losses = _losses(losses)

    def set_responder(self, model: str, responder: Responder) -> None:
        """Answer runtime calls to ``model`` (a provisioned ARN, custom model ARN or base model id) with
        ``responder(request_body)``: the reply's text, or a ``ToolCall`` (or a list of them) to call tools."""
        self._running_service().responders[model] = responder

    def create_bucket(self, name: str) -> str:
        """Create an S3 bucket in the emulator, which starts with none; return its ``s3://<name>/`` URI.

        A bucket the emulator already has is left as it is. (On AWS a bucket is made once, outside the library.)
        """
        self._running_service()
        if name not in {bucket["Name"] for bucket in self._s3.list_buckets().get("Buckets", [])}:
            # us-east-1 is the one region that refuses an explicit LocationConstraint.
            where = (
                {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            self._s3.create_bucket(Bucket=name, **where)
        return f"s3://{name}/"

    def jobs(self) -> builtins.list[dict[str, Any]]:
        """Every customization job, as GetModelCustomizationJob would show it."""
        return self._running_service().jobs()

    def deployments(self) -> builtins.list[dict[str, Any]]:
        """Every Provisioned Throughput that still exists."""
        return self._running_service().deployments()

    def meter(self, arn: str | None = None) -> float:
        """Model-unit-hours accrued by one deployment (or all of them, deleted ones included)."""
        return self._running_service().meter(arn)

    def responses(self) -> builtins.list[tuple[str, dict[str, Any]]]:
        """(operation, output) of recent JSON responses, for checking them against the service model."""
        return list(self._running_server().responses)

    def _running_server(self) -> BedrockServer:
        if self._server is None:
            raise RuntimeError("LocalBedrock is not running: use `with LocalBedrock() as local:` or .start()")
        return self._server

    def _running_service(self) -> Service:
        self._running_server()
        assert self._service is not None
        return self._service


def _faults(value: object) -> Faults | None:
    if value is not None and not isinstance(value, Faults):
        raise TypeError(f"faults must be a haiku_finetune.local.Faults or None, got {type(value).__name__}")
    return value


def _number(name: str, value: object, *, positive: bool) -> float:
    """``value`` as a finite float, > 0 (``positive``) or >= 0; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return number


def _losses(value: object) -> builtins.list[float] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"validation_losses must be a list of numbers, got {type(value).__name__}")
    return [_number("each of validation_losses", loss, positive=False) for loss in value] or None


def _stop_promptly(moto: Any) -> None:
    """Stop moto's server without waiting out its half-second poll: connections wake its accept loop."""
    host, port = moto.get_host_and_port()
    before = set(threading.enumerate())
    stopper = threading.Thread(target=moto.stop, name="moto-stop")
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError):  # refused: the listener is already closed, the stop nearly done
            socket.create_connection((host, port), timeout=0.1).close()
        stopper.join(0.01)
    # A wake-up connection accepted just before the listener closed gets a request thread of its own (daemon, not
    # joined by moto); it ends as soon as it sees the connection closed: wait for it, so stop leaves no thread.
    deadline = time.monotonic() + 2.0
    for thread in set(threading.enumerate()) - before:
        if "process_request_thread" in thread.name:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


class _MotoGapFilter(logging.Filter):
    """Turn moto's traceback for an API it does not implement into one DEBUG line.

    The caller already gets an HTTP 500 for it (the library reports such a check as "not checked"); werkzeug
    would also print a 50-line traceback to stderr, which reads like a crash in the demo. Other errors pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # werkzeug renders the traceback into the message text (no exc_info), so match on the text.
        message = record.getMessage()
        if message.startswith("Error on request") and "\nNotImplementedError: " in message:
            _log.debug("moto does not implement: %s", message.rsplit("NotImplementedError: ", 1)[-1].strip())
            return False
        return True


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
