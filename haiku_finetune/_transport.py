"""BedrockTransport: the one seam between haiku_finetune and AWS.

Every AWS call the library makes goes through [`BedrockTransport.call`][haiku_finetune._transport.BedrockTransport.call]
(or `paginate`, which
calls it once a page), which applies the retry policy and maps botocore errors to the library's error tree.
Real AWS, botocore ``Stubber``, moto and ``LocalBedrock`` all plug in here: give the transport a
``boto3.Session`` (or a profile name) and region, per-service endpoint URLs, a botocore ``Config``, or
ready-made clients. Streamed answers (an InvokeModel body, an event stream) are read through
[`BedrockTransport.read_body`][haiku_finetune._transport.BedrockTransport.read_body] and
[`BedrockTransport.iter_events`][haiku_finetune._transport.BedrockTransport.iter_events], so errors that surface while
reading are mapped too.

This is the only module that imports botocore's or urllib3's exceptions: every one of them becomes a library
error here (see [`errors`][haiku_finetune.errors]). It must not know about jobs, datasets or deployments; it only moves
calls.

Longer than ~600 lines on purpose: it is the one seam to botocore; every error mapping must live here and nowhere else.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)
from botocore.loaders import create_loader
from botocore.model import ServiceModel
from botocore.paginate import PaginatorModel
from botocore.parsers import ResponseParserError
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from ._clock import Clock, SystemClock
from ._retry import RetryPolicy
from .base_models import profiles
from .errors import (
    CredentialsError,
    HermeticError,
    ModelEndOfLifeError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
    raise_for_client_error,
    raise_for_connection_error,
    raise_for_unparseable_response,
)
from .lifecycle import LifecycleStage, end_of_life_error, is_end_of_life_message, lifecycle_state

__all__ = [
    "DEFAULT_REGION",
    "SERVICES",
    "BedrockTransport",
    "get_default_transport",
    "resolve_transport",
    "set_default_transport",
]

_log = logging.getLogger(__name__)

#: The AWS services the library talks to.
SERVICES = ("bedrock", "bedrock-runtime", "s3", "iam", "sts", "scheduler")

#: Fine-tuning of Claude 3 Haiku launched in us-west-2; used when no region is configured anywhere.
DEFAULT_REGION = "us-west-2"

# Errors that mean "no (whole) answer": the request may or may not have reached the service. botocore's
# ConnectionError covers endpoint, connect-timeout, proxy and SSL failures; HTTPClientError covers read
# timeouts, dropped connections and a body that broke while streaming; urllib3's and the event-stream
# decoder's errors surface while a streamed body is read.
_CONNECTION_ERRORS = (
    BotocoreConnectionError,
    HTTPClientError,
    IncompleteReadError,
    Urllib3HTTPError,
    EventStreamParserError,
)
# Raised by botocore before anything is sent (some lazily, when the first client is built or a request signed): no
# retry can help, and the caller needs one clear line. CredentialRetrievalError is a failing credential_process;
# SSOError and TokenRetrievalError an SSO login that expired or never happened.
_CREDENTIALS_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    CredentialRetrievalError,
    NoRegionError,
    SSOError,
    TokenRetrievalError,
)
# The request parameter that names the model, per operation, for the end-of-life error.
_MODEL_PARAMETERS = ("modelId", "baseModelIdentifier", "modelIdentifier", "modelSource")


class BedrockTransport:
    """Builds the AWS clients the library needs and makes every call through one retrying method.

    Args:
        session: The boto3 session to build clients from (default: a new ``boto3.Session()``).
        profile: A named AWS profile: shorthand for ``session=boto3.Session(profile_name=profile)``. An
            unknown profile raises [`CredentialsError`][haiku_finetune._transport.CredentialsError] at once.
        region: The AWS region; default: the session's region, else ``us-west-2``.
        endpoint_urls: Per-service endpoint URLs, e.g. ``{"bedrock": "http://127.0.0.1:5000"}``.
        clients: Ready-made clients by service name (``"bedrock"``, ``"bedrock-runtime"``, ``"s3"``,
            ``"iam"``, ``"sts"``), e.g. wrapped in a botocore ``Stubber``. Their own retry settings are
            left alone: configure them with ``total_max_attempts=1`` so attempts do not multiply.
        retry: The retry policy (default [`RetryPolicy`][haiku_finetune._transport.RetryPolicy], sleeping on ``clock``).
        clock: The clock everything waiting through this transport uses: retry backoff, job and
            deployment polling (default: the real clock). ``LocalBedrock`` passes its emulated clock.
        max_pool_connections: Size of each client's HTTP connection pool; raise it to match the
            concurrency of batch invocation (default: ``config``'s if it sets one, else 10).
        read_timeout: Socket read timeout in seconds for built clients (default: ``config``'s if it sets
            one, else 120).
        config: A botocore ``Config`` for built clients (proxies, user agent, signature version, ...). It is
            merged under the library's settings; its ``retries`` are overridden (one attempt per botocore call,
            because retrying is this library's job), and so is its region (``region`` decides);
            ``connect_timeout`` is the Config's when it sets one, else 10 s.

    Close a transport (``close()``, or use it as a context manager) to release the HTTP connections of the
    clients it built; ready-made clients are left to their owner.
    """

    def __init__(
        self,
        *,
        session: boto3.Session | None = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_urls: Mapping[str, str] | None = None,
        clients: Mapping[str, BaseClient] | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        max_pool_connections: int | None = None,
        read_timeout: float | None = None,
        config: Config | None = None,
    ) -> None:
        unknown = set(endpoint_urls or {}) | set(clients or {})
        unknown -= set(SERVICES)
        if unknown:
            raise ValueError(f"unknown service(s) {sorted(unknown)}; expected some of {list(SERVICES)}")
        if profile is not None:
            if session is not None:
                raise ValueError("give a session or a profile, not both")
            try:
                session = boto3.Session(profile_name=profile)
            except ProfileNotFound as error:
                raise CredentialsError(str(error), operation="") from error
        if config is not None and not isinstance(config, Config):
            raise TypeError(f"config must be a botocore.config.Config, got {type(config).__name__}")
        if session is None and region is None and not endpoint_urls and not clients:
            # Nothing says where to go: while an emulator runs, that means the emulator (see _enter_hermetic).
            hermetic = _active_hermetic()
            if hermetic is not None:
                session, region = hermetic.transport.session, hermetic.transport.region
                endpoint_urls = hermetic.endpoint_urls
                clock = clock or hermetic.transport.clock
                retry = retry or (hermetic.transport.retry if clock is hermetic.transport.clock else None)
        self._config = config
        self._session = session
        self._region = region
        self._endpoint_urls = dict(endpoint_urls or {})
        self._clients: dict[str, BaseClient] = dict(clients or {})
        self._given = frozenset(self._clients)  # ready-made clients, as opposed to ones built here
        for given in self._clients.values():
            _guard_hermetic(given)
        self.clock: Clock = clock or SystemClock()
        self.retry: RetryPolicy = retry or RetryPolicy(sleep=self.clock.sleep, clock=self.clock.monotonic)
        chosen = _user_options(config)
        self.max_pool_connections: int = max_pool_connections or chosen.get("max_pool_connections") or 10
        self.read_timeout: float = read_timeout if read_timeout is not None else chosen.get("read_timeout", 120.0)
        self._closed = False
        self._siblings: list[BedrockTransport] = []
        self._lock = threading.Lock()
        self._account_id: str | None = None

    # -- construction -------------------------------------------------------------------------------

    @property
    def session(self) -> boto3.Session:
        """The boto3 session clients are built from (created on first use)."""
        with self._lock:
            if self._session is None:
                try:
                    self._session = boto3.Session()
                except _CREDENTIALS_ERRORS as error:  # AWS_PROFILE names a profile that does not exist
                    raise CredentialsError(str(error), operation="") from error
            return self._session

    @property
    def region(self) -> str:
        """The AWS region calls go to."""
        if self._region is None:
            given = next((c.meta.region_name for c in self._clients.values()), None)
            self._region = given or self.session.region_name or DEFAULT_REGION
        return self._region

    @property
    def endpoint_urls(self) -> dict[str, str]:
        """The per-service endpoint URLs this transport was given."""
        return dict(self._endpoint_urls)

    def client(self, service: str) -> BaseClient:
        """Return the client for ``service``, building it on first use (thread-safe)."""
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; expected one of {list(SERVICES)}")
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        if self._closed:
            raise ValueError(f"{self!r} is closed; make a new transport")
        session, region = self.session, self.region
        with self._lock:
            if service not in self._clients:
                options: dict[str, Any] = {
                    "region_name": region,
                    "retries": {"total_max_attempts": 1, "mode": "standard"},
                    "max_pool_connections": self.max_pool_connections,
                    "read_timeout": self.read_timeout,
                }
                given = self._config
                if "connect_timeout" not in _user_options(given):
                    options["connect_timeout"] = 10
                # Config.merge lets the argument win: the user's settings first, then ours on top, so the
                # library's retry setting (one botocore attempt) always holds.
                config = given.merge(Config(**options)) if given is not None else Config(**options)
                built = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self._endpoint_urls.get(service),
                    config=config,
                )
                _guard_hermetic(built)
                self._clients[service] = built
            return self._clients[service]

    # -- calls --------------------------------------------------------------------------------------

    def call(
        self,
        service: str,
        operation: str,
        /,
        *,
        on_retry: Callable[[BaseException], None] | None = None,
        retry_if: Callable[[BaseException], bool] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Call one AWS API operation with retries and error mapping.

        Args:
            service: ``"bedrock"``, ``"bedrock-runtime"``, ``"s3"``, ``"iam"`` or ``"sts"``.
            operation: The API operation name as AWS spells it, e.g. ``"GetModelCustomizationJob"``.
            on_retry: Told of each error that is about to be retried (AWS parameters are camelCase, so
                this snake_case name never collides with one).
            retry_if: Decides which errors are retried, in place of ``is_retryable`` (see
                [`RetryPolicy.run`][haiku_finetune.RetryPolicy.run]).
            **params: The request parameters, as boto3 takes them.

        Returns:
            The response dict.

        Raises:
            ServiceError: A subclass naming what went wrong, after retries when it was retryable.
            ConnectionFailedError: The endpoint did not answer, after retries.
            UnparseableResponseError: The endpoint's answer is not this operation's response.
            CredentialsError: botocore found no usable credentials or profile; nothing was sent.
            ValueError: botocore refused the parameters before sending (one line naming the operation).
        """
        try:
            client = self.client(service)
        except Exception as error:
            _raise_mapped(error, operation)
            raise
        named_model = next((params[n] for n in _MODEL_PARAMETERS if isinstance(params.get(n), str)), None)
        model = client.meta.service_model
        if operation not in model.operation_names:
            raise ValueError(f"{service} has no operation {operation!r}")
        method = getattr(client, _snake(client, operation))
        # One idempotency token per logical call, reused on every attempt: botocore would otherwise draw a
        # new one per attempt, and a retried create could then make two resources.
        token = model.operation_model(operation).idempotent_members
        for name in token:
            params.setdefault(name, uuid.uuid4().hex)

        def _attempt() -> dict[str, Any]:
            try:
                response: dict[str, Any] = method(**params)
            except Exception as error:
                try:
                    _raise_mapped(error, operation)
                except (ResourceNotFoundError, ServiceValidationError) as mapped:
                    if is_end_of_life_message(mapped.message):
                        raise self._end_of_life(mapped, named_model) from error
                    raise
                raise
            return response

        return self.retry.run(operation, _attempt, on_retry=on_retry, retry_if=retry_if)

    def _end_of_life(self, error: ServiceError, model_id: str | None) -> ModelEndOfLifeError:
        """The service said the model reached its end of life: name the date and the successor.

        A call that names a custom model or a Provisioned Throughput does not name the base model; then the one
        registered profile at end of life in this region today (if exactly one) supplies the date and successor.
        """
        mapped = end_of_life_error(error, model_id=model_id, region=self.region)
        if mapped.end_of_life is None and mapped.successor is None:
            today = self.now().date()
            ended = [
                p for p in profiles() if lifecycle_state(p, self.region, today).stage is LifecycleStage.END_OF_LIFE
            ]
            if len(ended) == 1:
                known = ended[0].region_lifecycle(self.region)
                mapped.end_of_life = known.end_of_life if known else None
                mapped.successor = ended[0].successor
        return mapped

    def now(self) -> datetime:
        """The wall-clock time (UTC) as this transport's clock sees it.

        A clock with a ``now()`` of its own (LocalBedrock's emulated clock) decides; otherwise the real time.
        """
        clock_now = getattr(self.clock, "now", None)
        if callable(clock_now):
            value = clock_now()
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc)

    def response_time(self, response: Mapping[str, Any]) -> datetime:
        """The time the service answered ``response`` (its HTTP ``Date`` header), else
        [`now`][haiku_finetune._transport.BedrockTransport.now]."""
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        raw = headers.get("date") if isinstance(headers, Mapping) else None
        if isinstance(raw, str):
            try:
                parsed = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return self.now()

    def read_body(self, operation: str, body: Any) -> bytes:
        """Read a streamed response body (e.g. InvokeModel's ``body``) to the end, with errors mapped.

        Args:
            operation: The operation the body answers, for error messages.
            body: botocore's ``StreamingBody`` (anything with ``read()``).

        Raises:
            ConnectionFailedError: The connection broke or timed out while reading (not retried: the
                call has been answered, and replaying it is the caller's decision).
        """
        try:
            data: bytes = body.read()
        except Exception as error:
            _raise_mapped(error, operation)
            raise
        return data

    def iter_events(self, operation: str, events: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield the events of a response event stream (e.g. InvokeModelWithResponseStream's ``body``).

        An error event inside the stream is raised as the matching
        [`ServiceError`][haiku_finetune._transport.ServiceError]; a connection
        that breaks or times out mid-stream as [`ConnectionFailedError`][haiku_finetune.ConnectionFailedError]. A
        half-read stream is never
        replayed. The stream is closed when the iteration ends, however it ends.

        Args:
            operation: The streaming operation, for error messages.
            events: botocore's ``EventStream`` (any iterable of event dicts with an optional ``close()``).
        """
        try:
            for event in events:
                yield dict(event)
        except Exception as error:
            _raise_mapped(error, operation)
            raise
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()

    def paginate(self, service: str, operation: str, /, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield every page of a paginated operation, each page fetched through
        [`call`][haiku_finetune._transport.BedrockTransport.call].

        Args:
            service: The service name.
            operation: A paginated operation, e.g. ``"ListModelCustomizationJobs"``.
            **params: Request parameters for every page.

        Yields:
            Each response page.
        """
        config = _paginator_config(service, operation)
        input_token, output_token = config["input_token"], config["output_token"]
        if isinstance(input_token, list) or isinstance(output_token, list):
            raise ValueError(f"{operation} uses a multi-token paginator, which is not supported")
        params = dict(params)
        seen: set[str] = set()
        while True:
            page = self.call(service, operation, **params)
            yield page
            token = page.get(output_token)
            if not token or token in seen:
                return
            seen.add(token)
            params[input_token] = token

    def with_pool(self, connections: int) -> BedrockTransport:
        """Return a transport whose clients keep at least ``connections`` HTTP connections open.

        Returns ``self`` when its pool is already large enough; otherwise a sibling sharing the session,
        region, endpoints, ready-made clients, retry policy and clock. Batch invocation uses this so its
        threads do not queue for connections.
        """
        if connections <= self.max_pool_connections:
            return self
        sibling = BedrockTransport(
            session=self._session,
            region=self._region,
            endpoint_urls=self._endpoint_urls,
            clients={k: v for k, v in self._clients.items() if k in self._given},
            retry=self.retry,
            clock=self.clock,
            max_pool_connections=connections,
            read_timeout=self.read_timeout,
            config=self._config,
        )
        with self._lock:
            self._siblings.append(sibling)  # closed with this transport
        return sibling

    # -- closing ------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether [`close`][haiku_finetune._transport.BedrockTransport.close] was called."""
        return self._closed

    def close(self) -> None:
        """Close the clients this transport built (and those of its
        [`with_pool`][haiku_finetune._transport.BedrockTransport.with_pool] siblings).

        Ready-made clients given to the constructor belong to the caller and stay open. Safe to call more
        than once; a closed transport refuses new calls.
        """
        with self._lock:
            self._closed = True
            built = [c for name, c in self._clients.items() if name not in self._given]
            for name in [name for name in self._clients if name not in self._given]:
                del self._clients[name]
            siblings, self._siblings = self._siblings, []
        for client in built:
            client.close()
        for sibling in siblings:
            sibling.close()

    def __enter__(self) -> BedrockTransport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def account_id(self) -> str:
        """Return the caller's AWS account id (from STS, cached)."""
        if self._account_id is None:
            self._account_id = str(self.call("sts", "GetCallerIdentity")["Account"])
        return self._account_id

    def __repr__(self) -> str:
        endpoints = f", endpoints={self._endpoint_urls}" if self._endpoint_urls else ""
        return f"BedrockTransport(region={self._region!r}{endpoints})"


def _raise_mapped(error: BaseException, operation: str) -> None:
    """Raise the library error for a botocore, urllib3 or parser error; return for anything else."""
    if isinstance(error, ClientError):  # EventStreamError (an error event in a stream) is one too
        raise_for_client_error(error, operation)
    if isinstance(error, _CREDENTIALS_ERRORS):
        raise CredentialsError(str(error), operation=operation) from error
    if isinstance(error, _CONNECTION_ERRORS):
        raise_for_connection_error(error, operation)
    if isinstance(error, ResponseParserError):
        raise_for_unparseable_response(error, operation)
    if isinstance(error, ParamValidationError):
        # Caught by botocore before sending: bad input, one line.
        message = " ".join(str(error).split())
        raise ValueError(f"{operation}: {message}") from error


def _user_options(config: Config | None) -> dict[str, Any]:
    """The options a botocore ``Config`` was given explicitly (its defaults left out)."""
    if config is None:
        return {}
    return dict(getattr(config, "_user_provided_options", {}))


def _snake(client: BaseClient, operation: str) -> str:
    return _snake_names(client.meta.service_model.service_name)[operation]


_SNAKE: dict[str, dict[str, str]] = {}
_LOADER: list[Any] = []


def _loader() -> Any:
    if not _LOADER:
        _LOADER.append(create_loader())
    return _LOADER[0]


def _snake_names(service: str) -> dict[str, str]:
    names = _SNAKE.get(service)
    if names is None:
        # botocore's own loader, not a botocore Session: a session would read AWS_PROFILE (and fail on a typo).
        model = ServiceModel(_loader().load_service_model(service, "service-2"), service_name=service)
        names = {op: xform_name(op) for op in model.operation_names}
        _SNAKE[service] = names
    return names


_PAGINATORS: dict[str, Any] = {}


def _paginator_config(service: str, operation: str) -> dict[str, Any]:
    if service not in _PAGINATORS:
        _PAGINATORS[service] = PaginatorModel(_loader().load_service_model(service, "paginators-1"))
    try:
        config: dict[str, Any] = _PAGINATORS[service].get_paginator(operation)
    except ValueError as error:
        raise ValueError(f"{service} {operation} is not paginated") from error
    return config


_default_transport: BedrockTransport | None = None
_default_lock = threading.Lock()


def get_default_transport() -> BedrockTransport:
    """Return the process-wide default transport, creating one from the default boto3 session."""
    global _default_transport
    with _default_lock:
        if _default_transport is None:
            _default_transport = BedrockTransport()
        return _default_transport


def set_default_transport(transport: BedrockTransport | None) -> None:
    """Replace the process-wide default transport (``None`` resets it to be built on next use)."""
    global _default_transport
    with _default_lock:
        _default_transport = transport


def resolve_transport(transport: BedrockTransport | None, *lenders: object) -> BedrockTransport:
    """Return the transport a call or a new object uses: the one given, else a lender's, else the default.

    The one rule for the library's own use: an object resolves its transport once, when it is built; a call
    given no transport but an object that carries one (a ``CustomModel``, a deployment, a job, ...) uses that
    object's; only then the process default.

    Args:
        transport: The transport given explicitly, if any.
        *lenders: Arguments that may carry a transport (in their ``transport`` attribute); ``None`` and
            plain values (ARN strings) are skipped.
    """
    if transport is not None:
        return transport
    for lender in lenders:
        carried = getattr(lender, "transport", None) if lender is not None and not isinstance(lender, str) else None
        if isinstance(carried, BedrockTransport):
            return carried
    return get_default_transport()


# -- hermetic mode -------------------------------------------------------------------------------------------
# While an emulator (LocalBedrock) runs in the process, the library must not reach real AWS by accident: the
# process default transport is the emulator's, a transport built with nothing saying where to go adopts the
# emulator's endpoints, and every request any transport's client is about to send to a non-loopback address
# is refused (botocore's before-send event fires after signing, before any socket is opened). The emulator
# calls these private hooks; the product never imports it.


class _Hermetic:
    """One emulator's hermetic period: its endpoints, its transport, and the default it replaced."""

    def __init__(self, endpoint_urls: Mapping[str, str], transport: BedrockTransport) -> None:
        self.endpoint_urls = dict(endpoint_urls)
        self.transport = transport
        self.previous: BedrockTransport | None = None


_hermetic: list[_Hermetic] = []


def _active_hermetic() -> _Hermetic | None:
    # No lock: get_default_transport() builds a transport while holding _default_lock; a slice is atomic.
    last = _hermetic[-1:]
    return last[0] if last else None


def _enter_hermetic(endpoint_urls: Mapping[str, str], transport: BedrockTransport) -> object:
    """Make ``transport`` the process default and refuse non-loopback requests until `_exit_hermetic`.

    Args:
        endpoint_urls: The emulator's endpoints by service (all on loopback).
        transport: The emulator's transport, the process default meanwhile.

    Returns:
        A token for `_exit_hermetic`.
    """
    global _default_transport
    token = _Hermetic(endpoint_urls, transport)
    with _default_lock:
        token.previous = _default_transport
        _hermetic.append(token)
        _default_transport = transport
    return token


def _exit_hermetic(token: object) -> None:
    """End the hermetic period ``token`` began and restore the default transport it replaced. Safe twice."""
    global _default_transport
    with _default_lock:
        if token in _hermetic:
            assert isinstance(token, _Hermetic)
            _hermetic.remove(token)
            _default_transport = token.previous


def _guard_hermetic(client: BaseClient) -> None:
    """Have ``client`` refuse, while an emulator runs, to send anything to a non-loopback address."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is not None:  # a stand-in without botocore's event system sends nothing itself
        events.register("before-send", _refuse_unless_loopback, unique_id="haiku_finetune.hermetic")


def _refuse_unless_loopback(request: Any, event_name: str = "", **kwargs: Any) -> None:
    if not _hermetic:  # read without the lock: a list's truth is atomic, and this runs on every request
        return
    parts = urlsplit(str(getattr(request, "url", "")))
    if _is_loopback(parts.hostname):
        return
    # event_name is "before-send.<service id>.<Operation>"
    _, _, operation = event_name.partition(".")
    raise HermeticError(operation or "a request", f"{parts.scheme}://{parts.netloc}")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
