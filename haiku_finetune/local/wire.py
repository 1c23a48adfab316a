"""The REST-JSON wire format of bedrock and bedrock-runtime, read from botocore's service models.

Routes, request members (path, query string, headers, JSON body, payload), the checks the real service
applies to input (required members, patterns, lengths, ranges, enums) and the serialization of responses
(timestamps, blobs, headers) all come from the same models the real boto3 client uses, so the emulator speaks
exactly what botocore expects.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any

import botocore.session
import orjson
from botocore.model import OperationModel, Shape

__all__ = [
    "EVENT_STREAM",
    "EXTRA_HEADERS",
    "STREAMED_EVENTS",
    "STREAMING_OPERATIONS",
    "ApiError",
    "Route",
    "event_frame",
    "event_message",
    "parse_request",
    "routes",
    "serialize_output",
    "streamed_events",
]

EVENT_STREAM = "application/vnd.amazon.eventstream"
# Operations whose answer is an AWS event stream (the payload member is an eventstream structure).
STREAMING_OPERATIONS = frozenset({"InvokeModelWithResponseStream", "ConverseStream"})
# Output keys the service model does not know: headers the real service sends anyway (InvokeModel's token
# counts), and a stream's events as JSON (so the suite can check each event against its shape).
EXTRA_HEADERS = "_headers"
STREAMED_EVENTS = "_events"


class ApiError(Exception):
    """An error the emulator answers with, the way the service would (code and HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}")


def validation(message: str) -> ApiError:
    """A 400 ValidationException."""
    return ApiError("ValidationException", message, 400)


def not_found(message: str) -> ApiError:
    """A 404 ResourceNotFoundException."""
    return ApiError("ResourceNotFoundException", message, 404)


def conflict(message: str) -> ApiError:
    """A 400 ConflictException (Bedrock models it as 400)."""
    return ApiError("ConflictException", message, 400)


@dataclass(frozen=True)
class Route:
    """One operation's HTTP route."""

    service: str
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    status: int

    @property
    def name(self) -> str:
        """The operation's name."""
        return str(self.operation.name)


@cache
def routes() -> tuple[Route, ...]:
    """Every route of bedrock and bedrock-runtime, most specific first."""
    session = botocore.session.get_session()
    found = []
    for service in ("bedrock", "bedrock-runtime"):
        model = session.get_service_model(service)
        for name in model.operation_names:
            op = model.operation_model(name)
            uri = op.http["requestUri"].split("?", 1)[0]
            regex = re.sub(r"\{(\w+)\+\}", r"(?P<\1>.+)", uri)
            regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
            found.append(
                Route(service, op, op.http["method"], re.compile(f"^{regex}$"), op.http.get("responseCode", 200))
            )
    # Literal segments beat placeholders: sort by the number of placeholders, then by length.
    found.sort(key=lambda r: (r.pattern.pattern.count("(?P<"), -len(r.pattern.pattern)))
    return tuple(found)


def match(method: str, path: str, runtime: bool) -> tuple[Route, dict[str, str]] | None:
    """Find the route for a request; ``runtime`` picks bedrock-runtime's routes over bedrock's."""
    service = "bedrock-runtime" if runtime else "bedrock"
    for route in routes():
        if route.service != service or route.method != method:
            continue
        found = route.pattern.match(path)
        if found:
            return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
    return None


def parse_request(
    route: Route, path_params: Mapping[str, str], query: str, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's parameters and check them against the input shape.

    Raises:
        ApiError: A ValidationException naming the member that is wrong, as the service would.
    """
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    payload = shape.serialization.get("payload")
    parsed_query = urllib.parse.parse_qs(query, keep_blank_values=True)
    lower_headers = {k.lower(): v for k, v in headers.items()}
    json_body: dict[str, Any] = {}
    if body and payload is None:
        try:
            loaded = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise ApiError("SerializationException", f"request body is not valid JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise ApiError("SerializationException", "request body must be a JSON object")
        json_body = loaded
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in path_params:
                params[name] = path_params[wire]
        elif location == "querystring":
            if wire in parsed_query:
                values = parsed_query[wire]
                params[name] = values if member.type_name == "list" else _scalar(member, values[0])
        elif location == "header":
            if wire.lower() in lower_headers:
                params[name] = _scalar(member, lower_headers[wire.lower()])
        elif name == payload:
            if member.type_name == "blob":
                params[name] = body
            elif body:
                params[name] = _from_json(member, orjson.loads(body))
        elif name in json_body:
            params[name] = _from_json(member, json_body[name])
    check_shape(shape, params, "")
    return params


def _scalar(shape: Shape, raw: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise validation(f"{shape.name} must be an integer, got {raw!r}") from None
    if shape.type_name in ("float", "double"):
        return float(raw)
    if shape.type_name == "boolean":
        return raw.lower() == "true"
    if shape.type_name == "timestamp":
        return _parse_time(raw)
    return raw


def _parse_time(raw: Any) -> datetime:
    if isinstance(raw, (int, float)):
        return datetime.fromtimestamp(raw, timezone.utc)
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def _from_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _from_json(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value)
        except ValueError:
            raise validation(f"{shape.name} is not valid base64") from None
    if kind == "timestamp":
        return _parse_time(value)
    return value


def check_shape(shape: Shape, value: Any, where: str) -> None:
    """Check a value against a shape's constraints, as the service does.

    Raises:
        ApiError: ValidationException naming the member.
    """
    kind = shape.type_name
    meta = shape.metadata
    label = where or "request"
    if kind == "structure":
        if not isinstance(value, dict):
            raise validation(f"{label} must be an object")
        members = shape.members  # type: ignore[attr-defined]
        if shape.metadata.get("union"):
            chosen = [name for name in members if value.get(name) is not None]
            if len(chosen) != 1:
                raise validation(
                    f"1 validation error detected: Value at '{label}' failed to satisfy constraint: Member must "
                    f"set exactly one of {', '.join(members)}, got {len(chosen)}"
                )
        for required in shape.required_members:
            if value.get(required) is None:
                raise validation(
                    f"1 validation error detected: Value null at '{_join(where, required)}' failed to "
                    "satisfy constraint: Member must not be null"
                )
        for name, item in value.items():
            if name in members and item is not None:
                check_shape(members[name], item, _join(where, name))
        return
    if kind == "list":
        if not isinstance(value, list):
            raise validation(f"{label} must be a list")
        _check_length(len(value), meta, label)
        for index, item in enumerate(value):
            check_shape(shape.member, item, f"{label}.{index + 1}")  # type: ignore[attr-defined]
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise validation(f"{label} must be a map")
        _check_length(len(value), meta, label)
        for key, item in value.items():
            check_shape(shape.key, key, f"{label}.key")  # type: ignore[attr-defined]
            # A document value (additionalModelRequestFields) is any JSON value: a number, a string, a list...
            if item is not None and not shape.value.metadata.get("document"):  # type: ignore[attr-defined]
                check_shape(shape.value, item, f"{label}.{key}")  # type: ignore[attr-defined]
        return
    if kind == "string":
        if not isinstance(value, str):
            raise validation(f"{label} must be a string")
        _check_length(len(value), meta, label)
        if "enum" in meta and value not in meta["enum"]:
            raise validation(
                f"1 validation error detected: Value '{value}' at '{label}' failed to satisfy constraint: Member "
                f"must satisfy enum value set: [{', '.join(meta['enum'])}]"
            )
        pattern = meta.get("pattern")
        if pattern and _compiled(pattern).fullmatch(value) is None:
            raise validation(
                f"1 validation error detected: Value '{value}' at '{label}' failed to satisfy constraint: Member "
                f"must satisfy regular expression pattern: {pattern}"
            )
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise validation(f"{label} must be an integer")
        if ("min" in meta and value < meta["min"]) or ("max" in meta and value > meta["max"]):
            raise validation(
                f"1 validation error detected: Value '{value}' at '{label}' failed to satisfy constraint: Member "
                f"must have value {_bounds(meta)}"
            )


def _check_length(length: int, meta: Mapping[str, Any], label: str) -> None:
    if ("min" in meta and length < meta["min"]) or ("max" in meta and length > meta["max"]):
        raise validation(
            f"1 validation error detected: Value at '{label}' failed to satisfy constraint: Member must have "
            f"length {_bounds(meta)}"
        )


def _bounds(meta: Mapping[str, Any]) -> str:
    """A range as the service words it: ``between 1 and 63``, or one side only (``greater than or equal to 1``)."""
    if "min" in meta and "max" in meta:
        return f"between {meta['min']} and {meta['max']}"
    if "min" in meta:
        return f"greater than or equal to {meta['min']}"
    return f"less than or equal to {meta['max']}"


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def serialize_output(route: Route, output: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Serialize an operation's output: (headers, body). Unknown members are dropped, as the model says."""
    shape = route.operation.output_shape
    headers: dict[str, str] = dict(output.get(EXTRA_HEADERS) or {})
    if shape is None:
        return headers, b"{}"
    payload = shape.serialization.get("payload")
    body_members: dict[str, Any] = {}
    raw: bytes | None = None
    for name, member in shape.members.items():
        if name not in output or output[name] is None:
            continue
        value = output[name]
        location = member.serialization.get("location")
        if location == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif name == payload:
            raw = value if isinstance(value, bytes) else orjson.dumps(_to_json(member, value))
        else:
            body_members[name] = _to_json(member, value)
    return headers, raw if raw is not None else orjson.dumps(body_members)


def streamed_events(operation: str, output: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(operation, event) for each event a streaming answer carried, as ``{event name: event body}``."""
    return [(operation, event) for event in output.get(STREAMED_EVENTS) or []]


def event_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, prelude CRC, string headers, payload, message CRC."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def event_message(name: str, body: Mapping[str, Any]) -> bytes:
    """An event-stream frame for one event of a streaming operation (``:event-type`` = ``name``)."""
    return event_frame(
        {":event-type": name, ":content-type": "application/json", ":message-type": "event"}, orjson.dumps(body)
    )


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value  # a free-form JSON document (tool input, additional fields): passed through as is
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {k: _to_json(members[k], v) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        return [_to_json(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "timestamp":
        if shape.serialization.get("timestampFormat") == "iso8601":
            return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        return value.timestamp()
    return value
