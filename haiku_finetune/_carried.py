"""CarriesTransport: a pydantic value that carries the transport it was made through, outside its value.

Results such as a search's trials or a submitted batch-inference job are plain values (compared, saved,
printed), yet what they hand out later (``trial.job()``, waiting for a batch job) must reach the same
endpoint. The transport is a private attribute: resolved once when the value is built, then set by whatever
made it. This module must not call AWS.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, PrivateAttr

from ._transport import BedrockTransport, resolve_transport

__all__ = ["CarriesTransport"]


class CarriesTransport(BaseModel):
    """Base for values that carry a transport (not part of their value: equality and dumps ignore it)."""

    _transport: BedrockTransport = PrivateAttr(default=None)  # type: ignore[assignment]  # set in model_post_init

    def model_post_init(self, context: Any, /) -> None:
        """Resolve the transport once, now; the code that made the value then sets the one it used."""
        self._transport = resolve_transport(None)

    @property
    def transport(self) -> BedrockTransport:
        """The transport this value was made through."""
        return self._transport

    def __eq__(self, other: object) -> bool:
        # The transport is how the value is reached, not part of what it is: compare the fields only.
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.__dict__ == other.__dict__
