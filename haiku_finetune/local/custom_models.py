"""Emulated custom models: Get, List and Delete CustomModel.

A custom model is the record a completed customization job creates (``jobs.py`` makes it); this module only
looks models up, lists and deletes them. It must not invoke them (a custom model answers only through a
Provisioned Throughput, see ``invocation.py``) and must not create them outside a job.
"""

from __future__ import annotations

from typing import Any

from ._common import ACCOUNT, page, sift
from .jobs import CustomizationJobs
from .wire import conflict

__all__ = ["CustomModels"]


class CustomModels(CustomizationJobs):
    """The custom-model operations (over the jobs that create the models)."""

    def _model(self, identifier: str) -> dict[str, Any]:
        self._advance_jobs()  # a job that finished since the last look creates its model now
        return self._find(self._models, identifier, lambda m: str(m["modelName"]), "custom model")

    def _base_name(self, base_arn: str) -> str:
        """The display name of the base model a custom model was made from (as ListCustomModels shows it)."""
        profile = self._base_profile(base_arn)
        return profile.display_name if profile is not None else base_arn.rsplit("/", 1)[-1]

    def op_GetCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._model(params["modelIdentifier"]))

    def op_ListCustomModels(self, params: dict[str, Any]) -> dict[str, Any]:
        self._advance_jobs()
        models = list(self._models.values())
        if params.get("nameContains"):
            models = [m for m in models if params["nameContains"] in m["modelName"]]
        summaries = [
            {
                "modelArn": m["modelArn"],
                "modelName": m["modelName"],
                "creationTime": m["creationTime"],
                "baseModelArn": m["baseModelArn"],
                "baseModelName": self._base_name(str(m["baseModelArn"])),
                "customizationType": "FINE_TUNING",
                "ownerAccountId": ACCOUNT,
                "modelStatus": "Active",
            }
            for m in models
        ]
        # Every model here is the account's own: none was shared with it.
        owned = params.get("isOwned") is not False
        equals = {
            "baseModelArnEquals": "baseModelArn",
            "foundationModelArnEquals": "baseModelArn",
            "modelStatus": "modelStatus",
        }
        shown, token = page(sift(summaries, params, "creationTime", equals) if owned else [], params)
        return {"modelSummaries": shown, "nextToken": token}

    def op_ListCustomModelDeployments(self, params: dict[str, Any]) -> dict[str, Any]:
        # On-demand custom model deployments are not emulated: there are none to list (an honest answer, so
        # code that checks whether a custom model is in use can run here).
        return {"modelDeploymentSummaries": []}

    def op_DeleteCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self._model(params["modelIdentifier"])
        if any(t.model_arn == model["modelArn"] for t in self._throughputs.values()):
            raise conflict(f"Custom model {model['modelName']} is in use by a Provisioned Throughput")
        del self._models[model["modelArn"]]
        return {}
