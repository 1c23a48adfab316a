"""Tool use for a fine-tuned model: the tools it may call, the calls it makes, and the results sent back.

`Tool` is one tool definition (name, description, JSON Schema of its input), checked against the
Messages API's rules when built; `ToolCall` is one call the model made (on ``Completion.tool_calls``);
`ToolResult` is what the caller sends back in the next user turn. `tool_choice_body` and
`converse_tool_config` turn tools and a choice into the InvokeModel and Converse request shapes, and
`message_blocks` the content blocks of a message into the Messages API's form.

This module only builds and checks values: it never calls the runtime and never validates the model's
arguments against a schema (that is `ToolCallMatch`'s job).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "check_tools",
    "converse_blocks",
    "converse_tool_config",
    "message_blocks",
    "tool_choice_body",
]

#: ``"auto"`` (the model decides), ``"any"`` (it must call some tool), ``"none"`` (it must not), or a tool's name.
ToolChoice = Literal["auto", "any", "none"] | str

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_CHOICES = ("auto", "any", "none")


@dataclass(frozen=True)
class Tool:
    """A tool the model may call.

    Args:
        name: 1 to 64 letters, digits, ``_`` or ``-`` (the Messages API's rule), unique among a call's tools.
        description: What the tool does and when to use it (the model reads it).
        input_schema: A JSON Schema for the arguments; it must describe an object (``{"type": "object", ...}``).

    Raises:
        ValueError: The name, description or schema breaks the rules (one line naming which).

    Example:
        >>> schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        >>> Tool("get_weather", "The weather in a city", schema).name
        'get_weather'
    """

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                f"tool name {self.name!r} must be 1 to 64 letters, digits, '_' or '-' (pattern ^[a-zA-Z0-9_-]{{1,64}}$)"
            )
        if not isinstance(self.description, str):
            raise ValueError(f"tool {self.name!r}: description must be a string")
        schema = self.input_schema
        if not isinstance(schema, Mapping):
            raise ValueError(f"tool {self.name!r}: input_schema must be a JSON Schema object (a dict)")
        if schema.get("type") != "object":
            raise ValueError(
                f"tool {self.name!r}: input_schema must be an object schema ({{'type': 'object', ...}}), "
                f"got type {schema.get('type')!r}"
            )
        properties = schema.get("properties", {})
        if not isinstance(properties, Mapping):
            raise ValueError(f"tool {self.name!r}: input_schema.properties must be a dict")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ValueError(f"tool {self.name!r}: input_schema.required must be a list of property names")
        # Stored as a plain dict so the body is JSON-encodable whatever mapping was given.
        object.__setattr__(self, "input_schema", dict(schema))

    def to_api(self) -> dict[str, Any]:
        """The InvokeModel (Messages API) form: ``{"name", "description"?, "input_schema"}``."""
        body: dict[str, Any] = {"name": self.name, "input_schema": dict(self.input_schema)}
        if self.description:
            body["description"] = self.description
        return body

    def to_converse(self) -> dict[str, Any]:
        """The Converse form: ``{"toolSpec": {"name", "description"?, "inputSchema": {"json": ...}}}``."""
        spec: dict[str, Any] = {"name": self.name, "inputSchema": {"json": dict(self.input_schema)}}
        if self.description:
            spec["description"] = self.description
        return {"toolSpec": spec}


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model made.

    Attributes:
        id: The call's id (``toolu_...`` from InvokeModel, ``tooluse_...`` from Converse); a result names it.
        name: The tool called.
        input: The arguments, a JSON object decoded into a dict.
    """

    id: str
    name: str
    input: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The Messages API ``tool_use`` block (for sending the assistant turn back in a conversation)."""
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": dict(self.input)}


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned, sent back to the model in the next user message.

    Args:
        tool_use_id: The `ToolCall.id` this answers.
        content: The result: text, or a JSON-encodable dict (sent as its JSON text).
        is_error: The tool failed; ``content`` says why.

    Raises:
        ValueError: ``tool_use_id`` is empty or ``content`` is neither text nor a dict.
    """

    tool_use_id: str
    content: str | Mapping[str, Any] = ""
    is_error: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.tool_use_id, str) or not self.tool_use_id:
            raise ValueError("ToolResult.tool_use_id must be the id of the ToolCall it answers")
        if not isinstance(self.content, (str, Mapping)):
            raise ValueError(f"ToolResult.content must be text or a dict, got {type(self.content).__name__}")

    def to_api(self) -> dict[str, Any]:
        """The Messages API ``tool_result`` block."""
        import orjson

        text = self.content if isinstance(self.content, str) else orjson.dumps(dict(self.content)).decode()
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": self.tool_use_id}
        if text:
            block["content"] = [{"type": "text", "text": text}]
        if self.is_error:
            block["is_error"] = True
        return block


def check_tools(tools: Sequence[Tool] | None, choice: ToolChoice | None) -> tuple[tuple[Tool, ...] | None, str | None]:
    """Check tools and a tool choice together; return them as stored on
    [`InferenceParameters`][haiku_finetune.model.InferenceParameters].

    Raises:
        ValueError: A tool is not a `Tool`, names repeat, or the choice is unknown or names no tool.
    """
    stored: tuple[Tool, ...] | None = None
    if tools is not None:
        if isinstance(tools, (Tool, str, Mapping)):
            raise ValueError("tools must be a list of Tool values")
        stored = tuple(tools)
        seen: set[str] = set()
        for tool in stored:
            if not isinstance(tool, Tool):
                raise ValueError(f"each tool must be a haiku_finetune.Tool, got {type(tool).__name__}")
            if tool.name in seen:
                raise ValueError(f"tool names must be unique: {tool.name!r} is given twice")
            seen.add(tool.name)
        if not stored:
            stored = None
    if choice is not None:
        if not isinstance(choice, str) or not choice:
            raise ValueError(f"tool_choice must be 'auto', 'any', 'none' or a tool's name, got {choice!r}")
        names = {t.name for t in stored or ()}
        if not stored and choice != "none":
            raise ValueError("tool_choice needs tools: pass tools=[Tool(...)] too")
        if choice not in _CHOICES and choice not in names:
            raise ValueError(
                f"tool_choice {choice!r} is neither 'auto', 'any', 'none' nor one of the tools {sorted(names)}"
            )
    return stored, choice


def tool_choice_body(choice: str) -> dict[str, Any]:
    """The InvokeModel ``tool_choice`` for a checked choice."""
    return {"type": choice} if choice in _CHOICES else {"type": "tool", "name": choice}


def converse_tool_config(tools: Sequence[Tool], choice: str | None) -> dict[str, Any]:
    """Converse's ``toolConfig`` for checked tools and choice.

    Raises:
        ValueError: ``choice`` is ``"none"``, which Converse cannot express (use ``invoke`` for it).
    """
    config: dict[str, Any] = {"tools": [tool.to_converse() for tool in tools]}
    if choice == "none":
        raise ValueError("tool_choice='none' has no Converse equivalent; leave tools out, or use invoke()")
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "any":
        config["toolChoice"] = {"any": {}}
    elif choice is not None:
        config["toolChoice"] = {"tool": {"name": choice}}
    return config


def message_blocks(content: Any, where: str) -> str | list[dict[str, Any]]:
    """A message's content in the Messages API's form: text stays text; a list's items become blocks.

    Items may be text, `ToolCall`, `ToolResult` or Messages API block dicts (``{"type": ...}``).

    Raises:
        ValueError: An item is none of these (``where`` names the message).
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, Sequence) or isinstance(content, (bytes, bytearray)):
        raise ValueError(f"{where}: content must be text or a list of content blocks, got {type(content).__name__}")
    blocks: list[dict[str, Any]] = []
    for number, item in enumerate(content):
        if isinstance(item, str):
            blocks.append({"type": "text", "text": item})
        elif isinstance(item, (ToolCall, ToolResult)):
            blocks.append(item.to_api())
        elif isinstance(item, Mapping) and isinstance(item.get("type"), str):
            blocks.append(dict(item))
        else:
            raise ValueError(
                f"{where}: content block {number} must be text, a ToolCall, a ToolResult or a {{'type': ...}} dict"
            )
    if not blocks:
        raise ValueError(f"{where}: content is an empty list")
    return blocks


def converse_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages API content (as `message_blocks` returns it) in Converse's block form.

    Raises:
        ValueError: A block type Converse cannot carry from here (only text, tool_use, tool_result).
    """
    if isinstance(content, str):
        return [{"text": content}]
    converted: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            converted.append({"text": block["text"]})
        elif kind == "tool_use":
            converted.append(
                {"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": dict(block.get("input") or {})}}
            )
        elif kind == "tool_result":
            inner = block.get("content")
            items: list[dict[str, Any]] = []
            if isinstance(inner, str):
                items.append({"text": inner})
            elif isinstance(inner, list):
                items.extend({"text": str(i.get("text", ""))} for i in inner if isinstance(i, Mapping))
            result: dict[str, Any] = {"toolUseId": block["tool_use_id"], "content": items or [{"text": ""}]}
            if block.get("is_error"):
                result["status"] = "error"
            converted.append({"toolResult": result})
        else:
            raise ValueError(f"a {kind!r} block cannot be sent through converse(); use invoke()")
    return converted
