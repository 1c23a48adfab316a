"""One profile per base model: ids, regions, data limits, hyperparameter ranges, runtime rules, lifecycle.

Every fact the library knows about a base model lives here, once, with its source. Other modules read a
:class:`BaseModelProfile` (the default is :data:`CLAUDE_3_HAIKU`, the seed's model) and never keep their own copy.
This module does no I/O and must not import any other module of the package except ``errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["BASE_MODEL_ID", "CLAUDE_3_HAIKU", "DEFAULT_BASE_MODEL", "BaseModelProfile"]


@dataclass(frozen=True)
class BaseModelProfile:
    """What the library knows about one fine-tunable base model.

    Attributes:
        key: A short stable name, e.g. ``"claude-3-haiku"``.
        display_name: The model's name as AWS writes it.
        model_id: The base model identifier for ``CreateModelCustomizationJob``.
        invoke_model_id: The on-demand runtime model id, to compare a custom model against.
        anthropic_version: The ``anthropic_version`` the library sends in InvokeModel bodies.
    """

    key: str
    display_name: str
    model_id: str
    invoke_model_id: str
    anthropic_version: str


#: Claude 3 Haiku (200k context), the seed's model; fine-tuning documented in us-west-2.
CLAUDE_3_HAIKU: Final = BaseModelProfile(
    key="claude-3-haiku",
    display_name="Claude 3 Haiku",
    model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
    invoke_model_id="anthropic.claude-3-haiku-20240307-v1:0",
    anthropic_version="bedrock-2023-05-31",
)

#: The profile used when none is given.
DEFAULT_BASE_MODEL: Final = CLAUDE_3_HAIKU

#: The default profile's fine-tuning base model id.
BASE_MODEL_ID: Final = DEFAULT_BASE_MODEL.model_id
