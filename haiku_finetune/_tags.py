"""The tag haiku_finetune puts on everything it creates, so orphan scans can find it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LIBRARY_TAG_KEY", "LIBRARY_TAG_VALUE", "has_library_tag", "with_library_tag"]

LIBRARY_TAG_KEY = "created-by"
LIBRARY_TAG_VALUE = "haiku-finetune"


def with_library_tag(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """Return ``tags`` in Bedrock's ``[{"key": ..., "value": ...}]`` form, with the library's tag added."""
    merged = dict(tags or {})
    merged.setdefault(LIBRARY_TAG_KEY, LIBRARY_TAG_VALUE)
    return [{"key": k, "value": v} for k, v in merged.items()]


def has_library_tag(tags: Iterable[Mapping[str, str]]) -> bool:
    """Return True when a Bedrock tag list carries the library's tag."""
    return any(t.get("key") == LIBRARY_TAG_KEY and t.get("value") == LIBRARY_TAG_VALUE for t in tags)
