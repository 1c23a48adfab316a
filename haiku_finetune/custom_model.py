"""CustomModel: a fine-tuned model that a customization job produced, as a value you can pass around.

A ``CustomModel`` is what :attr:`CustomizationJob.custom_model` returns and what
:meth:`ProvisionedDeployment.create` takes. It only reads and deletes custom models; creating one is the job's
business.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._transport import BedrockTransport, resolve_transport
from .hyperparameters import Hyperparameters

__all__ = ["CustomModel"]


class CustomModel(BaseModel):
    """A custom (fine-tuned) model in Bedrock.

    Attributes:
        arn: The custom model's ARN (what Provisioned Throughput takes as ``modelId``).
        name: The custom model's name.
        base_model: The base model's ARN or id, when known.
        job_arn: The ARN of the customization job that made it, when known.
        hyperparameters: The job's hyperparameters, when known.
        created_at: When it was created, when known.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    arn: str
    name: str
    base_model: str | None = None
    job_arn: str | None = None
    hyperparameters: Hyperparameters | None = None
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, response: Mapping[str, Any]) -> CustomModel:
        """Build from a ``GetCustomModel`` response (or a ``ListCustomModels`` summary)."""
        raw_hp = response.get("hyperParameters")
        return cls(
            arn=response["modelArn"],
            name=response["modelName"],
            base_model=response.get("baseModelArn") or response.get("baseModelName"),
            job_arn=response.get("jobArn"),
            hyperparameters=Hyperparameters.from_api(raw_hp) if raw_hp else None,
            created_at=response.get("creationTime"),
        )

    @classmethod
    def get(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> CustomModel:
        """Look up a custom model by name or ARN.

        Raises:
            ResourceNotFoundError: No such model.
        """
        response = resolve_transport(transport).call("bedrock", "GetCustomModel", modelIdentifier=name_or_arn)
        return cls.from_api(response)

    @classmethod
    def list(cls, *, name_contains: str | None = None, transport: BedrockTransport | None = None) -> list[CustomModel]:
        """Return every custom model in the region (all pages), optionally filtered by name."""
        params: dict[str, Any] = {"nameContains": name_contains} if name_contains else {}
        found: builtins.list[CustomModel] = []
        for page in resolve_transport(transport).paginate("bedrock", "ListCustomModels", **params):
            found.extend(cls.from_api(summary) for summary in page.get("modelSummaries", []))
        return found

    def delete(self, *, transport: BedrockTransport | None = None) -> None:
        """Delete this custom model (it must not be in use by a Provisioned Throughput)."""
        resolve_transport(transport).call("bedrock", "DeleteCustomModel", modelIdentifier=self.arn)
