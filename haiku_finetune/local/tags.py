"""Emulated tagging: ListTagsForResource, TagResource and UntagResource over every resource the emulator made.

A resource's tags start as the ones its create call gave; each area registers its ARNs in ``_tags`` when it
creates one. It must not create or delete resources.
"""

from __future__ import annotations

from typing import Any

from ._common import ServiceState
from .wire import not_found

__all__ = ["Tags"]


class Tags(ServiceState):
    """The tagging operations."""

    def _tag_target(self, arn: str) -> list[dict[str, str]]:
        if arn not in self._tags:
            raise not_found(f"Could not find resource {arn}")
        return self._tags[arn]

    def op_ListTagsForResource(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": list(self._tag_target(params["resourceARN"]))}

    def op_TagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._tag_target(params["resourceARN"])
        self._limit_tags(params["resourceARN"], [*tags, *params["tags"]])
        new = {t["key"]: t["value"] for t in [*tags, *params["tags"]]}
        self._tags[params["resourceARN"]] = [{"key": k, "value": v} for k, v in new.items()]
        return {}

    def op_UntagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._tag_target(params["resourceARN"])
        self._tags[params["resourceARN"]] = [t for t in tags if t["key"] not in params["tagKeys"]]
        return {}
