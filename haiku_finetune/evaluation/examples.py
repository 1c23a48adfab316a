"""Test sets for evaluation: turn records into prompts with a reference answer.

A test record has the same shape as a training record (``{"system"?, "messages": [...]}``). Its final
assistant message is the *reference*; everything before it, with the system prompt, is the *prompt* sent to
each model. This module reads JSON Lines files, [`DatasetBuilder`][haiku_finetune.datasets.DatasetBuilder] objects (or
anything with a ``records`` list) and plain record dicts. It does no network I/O and imports no extras.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import orjson

__all__ = ["Example", "TestData", "load_examples"]

#: What ``evaluate`` accepts as a test set: a JSONL path, a DatasetBuilder (it iterates over record dicts),
#: or any other iterable of record dicts.
TestData = Union[str, "os.PathLike[str]", Iterable[Mapping[str, Any]]]

# Keys a test record may carry besides the training-format ones: an identifier for the report rows.
_ID_KEYS = ("id", "recordId")


@dataclass(frozen=True)
class Example:
    """One test case: a prompt (system prompt + conversation so far) and the reference answer.

    Attributes:
        id: The prompt id used in report rows (the record's ``id``/``recordId``, else its 0-based position).
        messages: The conversation up to (not including) the reference, ``[{"role", "content"}, ...]``;
            it starts with a user message and ends with one.
        reference: The final assistant message of the record: the answer a model should give.
        system: The record's system prompt, if any.
    """

    id: str
    messages: tuple[Mapping[str, str], ...]
    reference: str
    system: str | None = None

    @property
    def last_user_message(self) -> str:
        """The text of the final user turn (the question being answered)."""
        return str(self.messages[-1]["content"])

    def render(self) -> str:
        """Return the prompt as readable text (``System:``/``User:``/``Assistant:`` lines), e.g. for a judge."""
        parts = [f"System: {self.system}"] if self.system else []
        parts += [f"{m['role'].capitalize()}: {m['content']}" for m in self.messages]
        return "\n\n".join(parts)

    def to_record(self) -> dict[str, Any]:
        """Return the prompt as a message-format dict (``system`` only when set), without the reference."""
        record: dict[str, Any] = {"messages": [dict(m) for m in self.messages]}
        if self.system is not None:
            record["system"] = self.system
        return record


def example_from_record(record: Mapping[str, Any], *, index: int, where: str = "record") -> Example:
    """Split one record into prompt and reference.

    Args:
        record: ``{"system"?: str, "messages": [{"role", "content"}, ...], "id"?: str}``.
        index: The record's 0-based position (the id when the record has none).
        where: How to name the record in errors, e.g. ``"test.jsonl line 3"``.

    Returns:
        The example.

    Raises:
        ValueError: The record is not a conversation ending with an assistant message after a user message.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError(f"{where}: 'messages' must be a list of at least two messages (a prompt and a reference)")
    for position, message in enumerate(messages):
        if (
            not isinstance(message, Mapping)
            or message.get("role") not in ("user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError(f"{where}: message {position} must be {{'role': 'user'|'assistant', 'content': <string>}}")
    if messages[-1]["role"] != "assistant":
        raise ValueError(f"{where}: the last message must be the assistant's reference answer")
    if messages[-2]["role"] != "user":
        raise ValueError(f"{where}: the message before the reference must be a user message")
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise ValueError(f"{where}: 'system' must be a string")
    ident = next((record[k] for k in _ID_KEYS if record.get(k) is not None), index)
    return Example(
        id=str(ident),
        messages=tuple({"role": m["role"], "content": m["content"]} for m in messages[:-1]),
        reference=messages[-1]["content"],
        system=system,
    )


def load_examples(data: TestData, *, max_examples: int | None = None) -> list[Example]:
    """Load a test set as examples.

    Args:
        data: A JSON Lines path, a ``DatasetBuilder``, or any iterable of record dicts.
        max_examples: Keep only the first this many records (``None`` keeps all).

    Returns:
        The examples, in input order.

    Raises:
        ValueError: A record is malformed (the message names the line or position), two records share an
            id, or the test set is empty.
        FileNotFoundError: The path does not exist.
    """
    if max_examples is not None and max_examples < 1:
        raise ValueError(f"max_examples must be at least 1 or None, got {max_examples}")
    examples: list[Example] = []
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        with path.open("rb") as handle:
            for line_number, line in enumerate(handle, start=1):
                if max_examples is not None and len(examples) >= max_examples:
                    break
                if not line.strip():
                    continue
                where = f"{path.name} line {line_number}"
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as error:
                    raise ValueError(f"{where}: not valid JSON ({error})") from error
                examples.append(example_from_record(record, index=len(examples), where=where))
    else:
        records: Iterable[Any] = data
        if isinstance(records, bytes) or not isinstance(records, Iterable):
            raise TypeError(
                f"data must be a JSONL path, a DatasetBuilder or an iterable of record dicts, got {type(data).__name__}"
            )
        for position, record in enumerate(records):
            if max_examples is not None and position >= max_examples:
                break
            examples.append(example_from_record(record, index=position, where=f"record {position}"))
    if not examples:
        raise ValueError("the test set is empty")
    _check_unique_ids(examples)
    return examples


def _check_unique_ids(examples: Sequence[Example]) -> None:
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise ValueError(f"two test records share the id {example.id!r}; ids must be unique")
        seen.add(example.id)
