"""The tag haiku_finetune puts on everything it creates, so orphan scans can find it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LIBRARY_TAG_KEY", "LIBRARY_TAG_VALUE", "check_user_tags", "has_library_tag", "with_library_tag"]

LIBRARY_TAG_KEY = "created-by"
LIBRARY_TAG_VALUE = "haiku-finetune"


def check_user_tags(tags: Mapping[str, str] | None) -> None:
    """Refuse user tags that would replace the library's own tag.

    The library's tag is how [`haiku_finetune.deployment.find_orphans`][haiku_finetune.deployment.find_orphans] finds
    what was forgotten; a user
    value under the same key would hide the resource from it. Passing the library's own pair is harmless and
    allowed.

    Raises:
        ValueError: ``tags`` sets the library's key to another value.
    """
    if tags is not None and LIBRARY_TAG_KEY in tags and tags[LIBRARY_TAG_KEY] != LIBRARY_TAG_VALUE:
        raise ValueError(
            f"tag key {LIBRARY_TAG_KEY!r} is reserved: haiku_finetune tags everything it creates with "
            f"{LIBRARY_TAG_KEY}={LIBRARY_TAG_VALUE} so orphan scans can find it; put "
            f"{tags[LIBRARY_TAG_KEY]!r} under another key"
        )


def with_library_tag(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """Return ``tags`` in Bedrock's ``[{"key": ..., "value": ...}]`` form, with the library's tag added.

    Raises:
        ValueError: ``tags`` sets the library's key to another value (see `check_user_tags`).
    """
    check_user_tags(tags)
    merged = {k: v for k, v in (tags or {}).items() if k != LIBRARY_TAG_KEY}
    merged[LIBRARY_TAG_KEY] = LIBRARY_TAG_VALUE
    return [{"key": k, "value": v} for k, v in merged.items()]


def has_library_tag(tags: Iterable[Mapping[str, str]]) -> bool:
    """Return True when a Bedrock tag list carries the library's tag."""
    return any(t.get("key") == LIBRARY_TAG_KEY and t.get("value") == LIBRARY_TAG_VALUE for t in tags)
