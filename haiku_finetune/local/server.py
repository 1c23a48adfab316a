"""The HTTP side of LocalBedrock: a threaded loopback server speaking bedrock's and bedrock-runtime's REST-JSON.

Each response goes out in one write with TCP_NODELAY set: Python's http.server would otherwise send headers
and body separately, and on a keep-alive connection Nagle's algorithm meeting the client's delayed ACK stalls
every response by about 40 ms. The listen backlog is 128 (socketserver's default of 5 drops the SYNs of a burst
of new connections, which then wait a second for the retransmit). A request whose ``Content-Length`` is not a
whole number, or promises more than arrives, gets a 400 and the connection is closed; nothing is printed.

This module must not emulate an operation (``service.py`` does) or know an operation's wire shape (``wire.py``).
"""

from __future__ import annotations

import email.utils
import http
import logging
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from .faults import FaultDecision, Faults
from .scheduler import Scheduler
from .service import Service
from .wire import (
    EVENT_STREAM,
    STREAMING_OPERATIONS,
    ApiError,
    match,
    parse_request,
    serialize_output,
    streamed_events,
)

__all__ = ["BedrockServer"]

_log = logging.getLogger(__name__)

_DIGITS = re.compile(r"[0-9]{1,12}")


class BedrockServer(ThreadingHTTPServer):
    """The loopback server on ``port`` (0: a free one); ``service`` does the work, ``faults`` may get in the way."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    #: Real seconds to wait for the rest of a request body before answering 400 (a client that promised more
    #: bytes than it sends must not hold a thread forever).
    body_timeout = 10.0
    #: The largest body accepted (CPython would allocate a promised length up front).
    max_body = 64 * 1024 * 1024

    def __init__(self, service: Service, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        self.faults: Faults | None = None
        self.scheduler: Scheduler | None = None  # EventBridge Scheduler emulation, on the same port
        self.responses: deque[tuple[str, dict[str, Any]]] = deque(maxlen=20_000)
        self._sockets: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()  # connection threads, joined by stop()
        self._sockets_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close every open connection, and wait for the threads to end.

        Safe on a server that never started: ``shutdown()`` waits for ``serve_forever`` to acknowledge, which
        a server that never served would never do, so it is only asked of a running one.
        """
        if self._thread is not None and self._thread.is_alive():
            self.shutdown()
        with self._sockets_lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                _log.debug("connection already closed")
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # A connection thread outlives its socket's untracking by a little (socketserver closes the socket
        # after finish()): join the threads themselves, within one bound for all.
        deadline = time.monotonic() + 5
        with self._sockets_lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.join(timeout=max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is routine (one DEBUG line); anything else is an emulator bug, logged as one."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            _log.debug("LocalBedrock: the connection from %s ended: %s", client_address, error)
        else:
            _log.error("LocalBedrock: the connection from %s failed", client_address, exc_info=True)

    def track(self, sock: socket.socket, add: bool) -> None:
        """Remember (or forget) an open connection so `stop` can close it."""
        with self._sockets_lock:
            if add:
                self._sockets.add(sock)
                self._handlers = {t for t in self._handlers if t.is_alive()}
                self._handlers.add(threading.current_thread())
            else:
                self._sockets.discard(sock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: BedrockServer

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.request, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._body()
        if body is None:
            return
        parts = urllib.parse.urlsplit(self.path)
        if self.server.scheduler is not None:  # fires due schedules; answers /schedules requests
            answered = self.server.scheduler.answer(
                self.command, parts.path, parts.query, dict(self.headers.items()), body
            )
            if answered is not None:
                self._send(answered[0], answered[1], "application/json", answered[2])
                return
        found = match(self.command, parts.path, runtime=True) or match(self.command, parts.path, runtime=False)
        if found is None:
            self._error(ApiError("UnknownOperationException", f"no route for {self.command} {parts.path}", 404))
            return
        route, path_params = found
        faults = self.server.faults
        decision = faults.decide(route.name) if faults is not None else FaultDecision()
        if decision.delay:
            time.sleep(decision.delay)  # emulated network latency: real time on purpose
        if decision.drop:
            self.close_connection = True
            return
        if decision.throttle:
            self._error(ApiError("ThrottlingException", "Rate exceeded (injected by LocalBedrock)", 429))
            return
        if decision.server_error:
            self._error(ApiError("InternalServerException", "Internal error (injected by LocalBedrock)", 500))
            return
        lose = decision.lose_response
        try:
            params = parse_request(route, path_params, parts.query, dict(self.headers.items()), body)
            output = self.server.service.handle(route.name, params)
        except ApiError as error:
            if lose:
                self._lose(route.name)
                return
            self._error(error)
            return
        except Exception as error:  # noqa: BLE001 - an emulator bug must reach the client as a 500, and the log
            _log.exception("LocalBedrock failed on %s", route.name)
            self._error(ApiError("InternalServerException", f"LocalBedrock error: {error}", 500))
            return
        if lose:
            self._lose(route.name)
            return
        headers, payload = serialize_output(route, output)
        if route.name in STREAMING_OPERATIONS:
            self.server.responses.extend(streamed_events(route.name, output))
            self._send(route.status, payload, EVENT_STREAM, headers)
            return
        if route.name != "InvokeModel":
            self.server.responses.append((route.name, orjson.loads(payload)))
        content_type = headers.pop("Content-Type", "application/json")
        self._send(route.status, payload, content_type, headers)

    def _body(self) -> bytes | None:
        """The request body, or ``None`` once a malformed ``Content-Length`` has been answered with a 400."""
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        # int() alone would take "+5", " 5" and "1_0", and a negative length would read to the end of the stream.
        if not _DIGITS.fullmatch(raw.strip()):
            self._bad_request(f"Content-Length must be a whole number of bytes, got {raw!r}")
            return None
        length = int(raw)
        if length > self.server.max_body:
            self._bad_request(f"Content-Length {length} is more than LocalBedrock accepts")
            return None
        body = b""
        self.connection.settimeout(self.server.body_timeout)
        try:
            body = self.rfile.read(length)
        except OSError:  # timed out (or reset): what arrived is too short, and the stream is out of step
            pass
        finally:
            self.connection.settimeout(None)
        if len(body) < length:
            self._bad_request(f"the body is shorter than the {length} bytes its Content-Length gave")
            return None
        return body

    def _bad_request(self, message: str) -> None:
        """Answer 400 and close: after a bad length, where the next request starts is unknown."""
        _log.debug("bad request: %s", message)
        self.close_connection = True
        body = orjson.dumps({"message": message})
        self._send(400, body, "application/json", {"x-amzn-ErrorType": "SerializationException", "Connection": "close"})

    def _lose(self, operation: str) -> None:
        """Close the connection without answering a request that was handled (the ``lose_response`` fault)."""
        _log.debug("losing the response to %s (injected)", operation)
        self.close_connection = True

    def _error(self, error: ApiError) -> None:
        body = orjson.dumps({"message": error.message})
        self._send(error.status, body, "application/json", {"x-amzn-ErrorType": error.code})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Status"
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            f"x-amzn-RequestId: {uuid.uuid4()}",
            # The emulated date: a client that reads the service's date (the lifecycle check) sees emulated time.
            f"Date: {email.utils.formatdate(self.server.service.clock.now().timestamp(), usegmt=True)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
