"""The HTTP side of LocalBedrock: a threaded loopback server speaking bedrock's and bedrock-runtime's REST-JSON.

Each response goes out in one write with TCP_NODELAY set: Python's http.server would otherwise send headers
and body separately, and on a keep-alive connection Nagle's algorithm meeting the client's delayed ACK stalls
every response by about 40 ms.
"""

from __future__ import annotations

import email.utils
import http
import logging
import socket
import threading
import time
import urllib.parse
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from .faults import FaultDecision, Faults
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


class BedrockServer(ThreadingHTTPServer):
    """The loopback server; ``service`` does the work, ``faults`` may get in the way."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, service: Service) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.service = service
        self.faults: Faults | None = None
        self.responses: deque[tuple[str, dict[str, Any]]] = deque(maxlen=20_000)
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close every open connection, and wait for the threads to end."""
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
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._sockets_lock:
                if not self._sockets:
                    break
            time.sleep(0.01)

    def track(self, sock: socket.socket, add: bool) -> None:
        """Remember (or forget) an open connection so :meth:`stop` can close it."""
        with self._sockets_lock:
            if add:
                self._sockets.add(sock)
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
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urllib.parse.urlsplit(self.path)
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
            f"Date: {email.utils.formatdate(usegmt=True)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
