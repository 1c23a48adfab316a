"""Emulated Provisioned Throughput: Create, Get, List, Update and Delete ProvisionedModelThroughput, and its meter.

A deployment is ``Creating`` for ``pt_ready_seconds`` of emulated time, then ``InService``; a commitment term
blocks deletion until it ends; the meter counts model-unit-hours from creation to deletion, deleted deployments
included, so a test can prove nothing keeps billing. It must not answer runtime calls (``invocation.py`` does,
through `ProvisionedThroughput._throughput`) and must not bill anything but model units over emulated time.

Seam: scheduled creation and deletion (EventBridge Scheduler emulation) belongs in a module of its own over
this class, calling ``_create_throughput`` and ``op_DeleteProvisionedModelThroughput`` when a schedule is due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._common import HAIKU_FT, page, sift
from .custom_models import CustomModels
from .wire import conflict, validation

__all__ = ["ProvisionedThroughput", "Throughput"]


@dataclass
class Throughput:
    """One Provisioned Throughput; ``Creating`` until ``ready_at``, then ``InService``."""

    arn: str
    name: str
    model_arn: str
    units: int
    created: float
    ready_at: float
    commitment: str | None
    status: str = "Creating"
    deleted: float | None = None
    calls: list[float] = field(default_factory=list)


class ProvisionedThroughput(CustomModels):
    """The Provisioned Throughput operations (over the custom models they serve)."""

    _throughputs: dict[str, Throughput]
    _retired: list[Throughput]

    def _throughput(self, identifier: str) -> Throughput:
        found = self._find(self._throughputs, identifier, lambda t: t.name, "provisioned model")
        if found.status == "Creating" and self.clock.monotonic() >= found.ready_at:
            found.status = "InService"
        return found

    def op_CreateProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"provisionedModelArn": self._idempotent("pt", params, lambda: self._create_throughput(params))}

    def _create_throughput(self, params: dict[str, Any]) -> str:
        model = self._model(params["modelId"])
        # A Provisioned Throughput for a custom model whose base reached its end of life here: refused, as the
        # service refuses new work on such a model.
        self._require_alive(self._base_profile(str(model.get("baseModelArn", ""))))
        if any(t.name == params["provisionedModelName"] for t in self._throughputs.values()):
            raise conflict(f"A provisioned model named {params['provisionedModelName']} already exists")
        self._limit_tags(params["provisionedModelName"], params.get("tags") or [])
        now = self.clock.monotonic()
        arn = f"{self.arn}:provisioned-model/{self._new_id()}"
        self._throughputs[arn] = Throughput(
            arn=arn,
            name=params["provisionedModelName"],
            model_arn=model["modelArn"],
            units=params["modelUnits"],
            created=now,
            ready_at=now + self.pt_ready_seconds,
            commitment=params.get("commitmentDuration"),
        )
        self._tags[arn] = list(params.get("tags") or [])
        return arn

    def _throughput_view(self, pt: Throughput) -> dict[str, Any]:
        view: dict[str, Any] = {
            "modelUnits": pt.units,
            "desiredModelUnits": pt.units,
            "provisionedModelName": pt.name,
            "provisionedModelArn": pt.arn,
            "modelArn": pt.model_arn,
            "desiredModelArn": pt.model_arn,
            "foundationModelArn": self._models.get(pt.model_arn, {}).get(
                "baseModelArn", f"{self.foundation}/{HAIKU_FT}"
            ),
            "status": pt.status,
            "creationTime": self.clock.at(pt.created),
            "lastModifiedTime": self.clock.at(pt.created),
        }
        if pt.commitment:
            view["commitmentDuration"] = pt.commitment
            view["commitmentExpirationTime"] = self.clock.at(pt.created + _term_seconds(pt.commitment))
        return view

    def op_GetProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._throughput_view(self._throughput(params["provisionedModelId"]))

    def op_ListProvisionedModelThroughputs(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [self._throughput_view(self._throughput(arn)) for arn in list(self._throughputs)]
        if params.get("nameContains"):
            items = [i for i in items if params["nameContains"] in i["provisionedModelName"]]
        if params.get("statusEquals"):
            items = [i for i in items if i["status"] == params["statusEquals"]]
        for item in items:
            item.pop("failureMessage", None)
        shown, token = page(sift(items, params, "creationTime", {"modelArnEquals": "modelArn"}), params)
        return {"provisionedModelSummaries": shown, "nextToken": token}

    def op_UpdateProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        pt = self._throughput(params["provisionedModelId"])
        if params.get("desiredProvisionedModelName"):
            pt.name = params["desiredProvisionedModelName"]
        if params.get("desiredModelId"):
            pt.model_arn = self._model(params["desiredModelId"])["modelArn"]
        return {}

    def op_DeleteProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        pt = self._throughput(params["provisionedModelId"])
        now = self.clock.monotonic()
        if pt.commitment and now < pt.created + _term_seconds(pt.commitment):
            raise validation(
                f"Provisioned model {pt.name} has a {pt.commitment} commitment and cannot be deleted before it ends"
            )
        pt.deleted = now
        del self._throughputs[pt.arn]
        self._retired.append(pt)
        return {}

    def meter(self, arn: str | None = None) -> float:
        """Model-unit-hours accrued (by one deployment, or all, live and deleted)."""
        with self._lock:
            now = self.clock.monotonic()
            total = 0.0
            for pt in [*self._throughputs.values(), *self._retired]:
                if arn is None or pt.arn == arn:
                    end = pt.deleted if pt.deleted is not None else now
                    total += pt.units * max(0.0, end - pt.created) / 3600.0
            return total


def _term_seconds(commitment: str) -> float:
    return {"OneMonth": 30 * 86400.0, "SixMonths": 182 * 86400.0}.get(commitment, 0.0)
