"""Check LocalBedrock's JSON response bodies against the real output shapes in botocore's service models.

``violations(operation, body)`` walks the operation's output shape: required members present, each member's
JSON type right for its shape type, enum values in their set, string and list lengths within bounds, and no
member the model does not know. Members the protocol carries outside the JSON body (headers, a raw payload)
are skipped. For a streaming operation (ConverseStream, InvokeModelWithResponseStream) ``body`` is one event,
``{event name: event body}``, checked against the event's shape in the output's eventstream member (botocore's
``ConverseStreamOutput`` / ``ResponseStream``). The suite applies it to every response and every streamed event
of every LocalBedrock it starts (see ``conftest.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape

__all__ = ["operation_model", "violations"]


@cache
def _models() -> dict[str, Any]:
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in ("bedrock", "bedrock-runtime")}


@cache
def operation_model(operation: str) -> OperationModel:
    """The operation's model, from whichever of bedrock / bedrock-runtime defines it."""
    for model in _models().values():
        if operation in model.operation_names:
            return model.operation_model(operation)
    raise KeyError(f"no bedrock or bedrock-runtime operation named {operation}")


def violations(operation: str, body: Any) -> list[str]:
    """Every way ``body`` (a parsed JSON response body) departs from ``operation``'s output shape."""
    shape = operation_model(operation).output_shape
    if shape is None:
        return [] if body in ({}, None) else [f"{operation}: expected an empty body, got {body!r}"]
    found: list[str] = []
    payload = shape.serialization.get("payload")
    stream = shape.members.get(payload) if payload else None
    if stream is not None and stream.serialization.get("eventstream"):
        return _event(stream, body, operation)
    members = {
        name: member
        for name, member in shape.members.items()
        if "location" not in member.serialization and name != shape.serialization.get("payload")
    }
    if not isinstance(body, dict):
        return [f"{operation}: body must be a JSON object, got {type(body).__name__}"]
    required = [name for name in shape.required_members if name in members]
    _structure(members, required, shape.name, body, operation, found)
    return found


def _event(stream: Shape, body: Any, operation: str) -> list[str]:
    if not isinstance(body, dict) or len(body) != 1:
        return [f"{operation}: an event must be one {{name: body}} pair, got {body!r}"]
    ((name, value),) = body.items()
    events = {k: v for k, v in stream.members.items() if not v.metadata.get("exception")}  # type: ignore[attr-defined]
    if name not in events:
        return [f"{operation}: {name!r} is not an event of {stream.name} ({', '.join(events)})"]
    found: list[str] = []
    _walk(events[name], value, f"{operation}.{name}", found)
    return found


def _structure(
    members: dict[str, Shape], required: list[str], name: str, value: dict[str, Any], path: str, found: list[str]
) -> None:
    for member in required:
        if value.get(member) is None:
            found.append(f"{path}.{member}: required member missing")
    for member, item in value.items():
        if member not in members:
            found.append(f"{path}.{member}: not a member of {name}")
        elif item is not None:
            _walk(members[member], item, f"{path}.{member}", found)


def _walk(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if getattr(shape, "is_document_type", False):
        return  # free-form JSON (a tool's input, additional model fields)
    if kind == "structure":
        if not isinstance(value, dict):
            found.append(f"{path}: expected an object ({shape.name}), got {type(value).__name__}")
            return
        _structure(dict(shape.members), list(shape.required_members), shape.name, value, path, found)  # type: ignore[attr-defined]
        return
    if kind == "list":
        if not isinstance(value, list):
            found.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        _length(len(value), meta, path, found)
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", found)  # type: ignore[attr-defined]
        return
    if kind == "map":
        if not isinstance(value, dict):
            found.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for key, item in value.items():
            _walk(shape.value, item, f"{path}[{key!r}]", found)  # type: ignore[attr-defined]
        return
    if kind == "string":
        if not isinstance(value, str):
            found.append(f"{path}: expected a string, got {type(value).__name__}")
            return
        _length(len(value), meta, path, found)
        if "enum" in meta and value not in meta["enum"]:
            found.append(f"{path}: {value!r} is not one of {meta['enum']}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{path}: expected an integer, got {value!r}")
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            found.append(f"{path}: expected a number, got {value!r}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: expected a boolean, got {value!r}")
        return
    if kind == "timestamp":
        iso = shape.serialization.get("timestampFormat") == "iso8601"
        if iso and not isinstance(value, str):
            found.append(f"{path}: expected an ISO 8601 string, got {value!r}")
        if not iso and (isinstance(value, bool) or not isinstance(value, (int, float))):
            found.append(f"{path}: expected epoch seconds, got {value!r}")
        return
    if kind == "blob" and not isinstance(value, str):
        found.append(f"{path}: expected base64 text, got {type(value).__name__}")


def _length(length: int, meta: dict[str, Any], path: str, found: list[str]) -> None:
    if "min" in meta and length < meta["min"]:
        found.append(f"{path}: length {length} < min {meta['min']}")
    if "max" in meta and length > meta["max"]:
        found.append(f"{path}: length {length} > max {meta['max']}")
