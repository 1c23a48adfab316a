"""Emulated foundation models: ListFoundationModels and GetFoundationModel, for Claude 3 Haiku's two ids.

It describes the on-demand id and the fine-tunable ``:200k`` id as the service does. It must not hold state.

Seam: per-model lifecycle dates (``modelLifecycle``: legacy and end-of-life) belong in :meth:`_foundation`,
read from the model's profile in ``base_models.py``.
"""

from __future__ import annotations

from typing import Any

from ._common import FOUNDATION, HAIKU, HAIKU_FT, ServiceState
from .wire import not_found

__all__ = ["FoundationModels"]


class FoundationModels(ServiceState):
    """The foundation-model operations."""

    def _foundation(self, model_id: str) -> dict[str, Any]:
        fine_tunable = model_id == HAIKU_FT
        return {
            "modelArn": f"{FOUNDATION}/{model_id}",
            "modelId": model_id,
            "modelName": "Claude 3 Haiku",
            "providerName": "Anthropic",
            "inputModalities": ["TEXT", "IMAGE"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": ["FINE_TUNING"] if fine_tunable else [],
            "inferenceTypesSupported": ["PROVISIONED"] if fine_tunable else ["ON_DEMAND"],
            "modelLifecycle": {"status": "ACTIVE"},
        }

    def op_ListFoundationModels(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [self._foundation(HAIKU), self._foundation(HAIKU_FT)]
        wanted = params.get("byCustomizationType")
        if wanted:
            models = [m for m in models if wanted in m["customizationsSupported"]]
        if params.get("byProvider") and params["byProvider"].lower() != "anthropic":
            models = []
        return {"modelSummaries": models}

    def op_GetFoundationModel(self, params: dict[str, Any]) -> dict[str, Any]:
        model_id = params["modelIdentifier"].rsplit("/", 1)[-1]
        if model_id not in (HAIKU, HAIKU_FT):
            raise not_found(f"The model {params['modelIdentifier']} does not exist or is not available")
        return {"modelDetails": self._foundation(model_id)}
