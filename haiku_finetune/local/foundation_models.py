"""Emulated foundation models: ListFoundationModels and GetFoundationModel, for every registered base-model profile.

Each profile offered in the emulator's region appears twice, as the service shows it: its on-demand id and its
fine-tunable ``:200k`` id (fine-tunable only in the regions the profile documents for fine-tuning). Its
``modelLifecycle`` follows the profile's lifecycle in the region on the emulated date: ``ACTIVE`` or ``LEGACY``
with the dates the profile knows; past its end of life the model is no longer listed and GetFoundationModel
answers ``ResourceNotFoundException: This model version has reached the end of its life.``

It must not hold state, nor keep a model fact of its own (the profiles in ``base_models.py`` hold them).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from ..base_models import BaseModelProfile, profiles
from ..lifecycle import LifecycleStage, LifecycleState
from ._common import ServiceState
from .wire import not_found

__all__ = ["FoundationModels"]


def _time(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) if day else None


class FoundationModels(ServiceState):
    """The foundation-model operations."""

    def _offered(self) -> list[tuple[BaseModelProfile, str, LifecycleState]]:
        """(profile, model id, state) of every model id offered in the region on the emulated date."""
        found = []
        for profile in profiles():
            state = self._lifecycle(profile)
            if state.stage is LifecycleStage.NOT_OFFERED:
                continue
            found += [(profile, profile.invoke_model_id, state), (profile, profile.model_id, state)]
        return found

    def _foundation(self, profile: BaseModelProfile, model_id: str, state: LifecycleState) -> dict[str, Any]:
        fine_tunable = model_id == profile.model_id and self.region in profile.fine_tuning_regions
        lifecycle: dict[str, Any] = {"status": "ACTIVE" if state.stage is LifecycleStage.ACTIVE else "LEGACY"}
        for key, day in (
            ("startOfLifeTime", state.launched),
            ("legacyTime", state.legacy),
            ("publicExtendedAccessTime", state.extended_access),
            ("endOfLifeTime", state.end_of_life),
        ):
            if day is not None:
                lifecycle[key] = _time(day)
        return {
            "modelArn": f"{self.foundation}/{model_id}",
            "modelId": model_id,
            "modelName": profile.display_name,
            "providerName": "Anthropic",
            "inputModalities": ["TEXT", "IMAGE"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": ["FINE_TUNING"] if fine_tunable else [],
            "inferenceTypesSupported": ["PROVISIONED"] if model_id == profile.model_id else ["ON_DEMAND"],
            "modelLifecycle": lifecycle,
        }

    def op_ListFoundationModels(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [self._foundation(*offered) for offered in self._offered() if offered[2].usable]
        wanted = params.get("byCustomizationType")
        if wanted:
            models = [m for m in models if wanted in m["customizationsSupported"]]
        if params.get("byProvider") and params["byProvider"].lower() != "anthropic":
            models = []
        if params.get("byInferenceType"):
            models = [m for m in models if params["byInferenceType"] in m["inferenceTypesSupported"]]
        if params.get("byOutputModality"):
            models = [m for m in models if params["byOutputModality"] in m["outputModalities"]]
        return {"modelSummaries": models}

    def op_GetFoundationModel(self, params: dict[str, Any]) -> dict[str, Any]:
        model_id = params["modelIdentifier"].rsplit("/", 1)[-1]
        for profile, offered_id, state in self._offered():
            if offered_id == model_id:
                self._require_alive(profile)
                return {"modelDetails": self._foundation(profile, model_id, state)}
        raise not_found(f"The model {params['modelIdentifier']} does not exist or is not available")
