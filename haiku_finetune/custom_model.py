"""CustomModel: a fine-tuned model that a customization job produced, as a value you can pass around.

A ``CustomModel`` is what [`CustomizationJob.custom_model`][haiku_finetune.jobs.CustomizationJob.custom_model] returns
and what
[`ProvisionedDeployment.create`][haiku_finetune.deployment.ProvisionedDeployment.create] takes. It only reads and
deletes custom models; creating one is the job's
business.

A ``CustomModel`` carries the transport it was found (or made) with, resolved once when it is built, so that
``job.custom_model.delete()`` and ``ProvisionedDeployment.create(job.custom_model)`` talk to the same endpoint
as the job. The transport is not part of the value: two models with the same fields are equal.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ConfigDict

from ._carried import CarriesTransport
from ._transport import BedrockTransport, resolve_transport
from .hyperparameters import Hyperparameters

__all__ = ["CustomModel"]


class CustomModel(CarriesTransport):
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

    def with_transport(self, transport: BedrockTransport | None) -> CustomModel:
        """Return this model carrying ``transport`` (``None``: the process default)."""
        copy = self.model_copy()
        copy._transport = resolve_transport(transport)
        return copy

    def __hash__(self) -> int:
        return hash(self.arn)

    @classmethod
    def from_api(cls, response: Mapping[str, Any], *, transport: BedrockTransport | None = None) -> CustomModel:
        """Build from a ``GetCustomModel`` response (or a ``ListCustomModels`` summary), carrying ``transport``."""
        raw_hp = response.get("hyperParameters")
        return cls.create(
            arn=response["modelArn"],
            name=response["modelName"],
            base_model=response.get("baseModelArn") or response.get("baseModelName"),
            job_arn=response.get("jobArn"),
            hyperparameters=Hyperparameters.from_api(raw_hp) if raw_hp else None,
            created_at=response.get("creationTime"),
            transport=transport,
        )

    @classmethod
    def create(cls, *, transport: BedrockTransport | None = None, **fields: Any) -> CustomModel:
        """Build a model value from its fields, carrying ``transport`` (default: the process default)."""
        model = cls(**fields)
        if transport is not None:
            model._transport = transport
        return model

    @classmethod
    def get(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> CustomModel:
        """Look up a custom model by name or ARN.

        Raises:
            ResourceNotFoundError: No such model.
        """
        resolved = resolve_transport(transport)
        response = resolved.call("bedrock", "GetCustomModel", modelIdentifier=name_or_arn)
        return cls.from_api(response, transport=resolved)

    @classmethod
    def list(cls, *, name_contains: str | None = None, transport: BedrockTransport | None = None) -> list[CustomModel]:
        """Return every custom model in the region (all pages), optionally filtered by name."""
        params: dict[str, Any] = {"nameContains": name_contains} if name_contains else {}
        found: builtins.list[CustomModel] = []
        resolved = resolve_transport(transport)
        for page in resolved.paginate("bedrock", "ListCustomModels", **params):
            found.extend(cls.from_api(summary, transport=resolved) for summary in page.get("modelSummaries", []))
        return found

    def delete(self, *, transport: BedrockTransport | None = None) -> None:
        """Delete this custom model (it must not be in use by a Provisioned Throughput).

        Args:
            transport: Another transport to delete it through (default: the one this model carries).
        """
        resolve_transport(transport, self).call("bedrock", "DeleteCustomModel", modelIdentifier=self.arn)
