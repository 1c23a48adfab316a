"""ProvisionedDeployment: serve a custom model on Provisioned Throughput without leaking an hourly bill.

A Provisioned Throughput bills every hour, per model unit, until it is deleted. Opened in a ``with`` block, a
deployment is deleted on every way out of the block — normal exit, exception, Ctrl-C — and the delete is
confirmed. Everything this module creates carries the library's tag, so :func:`find_orphans` can list what
was forgotten. It does not create custom models (that is the job's business) and does not invoke them (that
is :class:`~haiku_finetune.model.FineTunedModel`'s).
"""

from __future__ import annotations

import builtins
import logging
import re
import sys
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Literal

from ._names import generate_name
from ._tags import has_library_tag, with_library_tag
from ._transport import BedrockTransport, resolve_transport
from ._wait import PollInterval, PollState, wait_for
from .custom_model import CustomModel
from .errors import DeploymentError, ResourceNotFoundError, WaitTimeoutError
from .model import FineTunedModel
from .pricing import Pricing

__all__ = ["BillingWarning", "Commitment", "ProvisionedDeployment", "find_orphans"]

_log = logging.getLogger(__name__)

Commitment = Literal["OneMonth", "SixMonths"]
# provisionedModelName in botocore's model: 1-63 characters, letters and digits, each optionally followed by one
# "-" or "_".
_NAME = re.compile(r"([0-9a-zA-Z][_-]?)+")
_TERMINAL = {"InService", "Failed"}
# Provisioned Throughput takes 20-30 minutes to come up: poll gently.
_INTERVAL = PollInterval(initial=30.0, maximum=120.0, growth=1.25)
# A delete is confirmed within seconds to minutes: poll every 5 s.
_DELETE_INTERVAL = PollInterval(initial=5.0, maximum=5.0, growth=1.0)


class BillingWarning(UserWarning):
    """A deployment billed by the hour is used outside a ``with`` block (which would delete it on exit).

    Issued once per created deployment, at its first :meth:`~ProvisionedDeployment.wait` or
    :attr:`~ProvisionedDeployment.model` outside a ``with`` block; never inside one. Filter it with
    ``warnings.simplefilter("ignore", BillingWarning)``.
    """


class ProvisionedDeployment:
    """A Provisioned Throughput serving a custom model.

    Create one with :meth:`create` or find one with :meth:`attach`; use it as a context manager to have it
    deleted on exit. :attr:`model` invokes it.
    """

    def __init__(self, arn: str, *, transport: BedrockTransport | None = None) -> None:
        self.arn = arn
        self._transport = resolve_transport(transport)  # once: everything this hands out carries it
        self._details: dict[str, Any] = {}
        # Set by create() when this call bought it; cleared once warned or once entered as a `with` block.
        self._billing_notice: str | None = None

    # -- creation and lookup ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        model: CustomModel | str,
        *,
        model_units: int = 1,
        name: str | None = None,
        commitment: Commitment | None = None,
        tags: Mapping[str, str] | None = None,
        transport: BedrockTransport | None = None,
    ) -> ProvisionedDeployment:
        """Buy Provisioned Throughput for a custom model. Billing starts now and runs hourly until deleted.

        Args:
            model: The custom model (a :class:`CustomModel`, or its ARN or name).
            model_units: Model units to buy (at least 1).
            name: The deployment's name (default: generated from the model's name and the time).
            commitment: ``None`` for no commitment (deletable any time), or ``"OneMonth"`` /
                ``"SixMonths"`` (cheaper per hour, but cannot be deleted before the term ends).
            tags: Extra tags; the library's own ``created-by=haiku-finetune`` is always added, and a
                different ``created-by`` value is refused (it would hide the deployment from
                :func:`find_orphans`).
            transport: The transport (default: the one ``model`` carries when it is a :class:`CustomModel`,
                else the process default).

        Returns:
            The deployment, usually still ``Creating``: :meth:`wait` for ``InService`` (the ``with`` block
            does that for you).

        Raises:
            ValueError: Bad arguments, including a tag under the library's key (nothing was bought).
            ServiceError: The service refused.
        """
        if isinstance(model_units, bool) or not isinstance(model_units, int) or model_units < 1:
            raise ValueError(f"model_units must be a whole number >= 1, got {model_units!r}")
        if commitment not in (None, "OneMonth", "SixMonths"):
            raise ValueError(f"commitment must be None, 'OneMonth' or 'SixMonths', got {commitment!r}")
        model_id = model.arn if isinstance(model, CustomModel) else model
        if not model_id:
            raise ValueError("model is empty: pass a CustomModel, or a custom model's ARN or name")
        model_name = model.name if isinstance(model, CustomModel) else model_id.rsplit("/", 1)[-1]
        name = name or _generated_name(model_name)
        if len(name) > 63 or not _NAME.fullmatch(name):
            raise ValueError(
                f"deployment name {name!r} is invalid: 1-63 letters and digits, each optionally followed by one "
                "'-' or '_'"
            )
        params: dict[str, Any] = {
            "modelUnits": model_units,
            "provisionedModelName": name,
            "modelId": model_id,
            "tags": with_library_tag(tags),
        }
        if commitment is not None:
            params["commitmentDuration"] = commitment
        term = f" with a {commitment} commitment (cannot be deleted before the term ends)" if commitment else ""
        resolved = resolve_transport(transport, model)
        response = resolved.call("bedrock", "CreateProvisionedModelThroughput", **params)
        arn = response["provisionedModelArn"]
        _log.info("created provisioned throughput %s for %s", arn, model_id)
        deployment = cls(arn, transport=resolved)
        deployment._details = {"provisionedModelName": name, "modelUnits": model_units, "status": "Creating"}
        # The warning waits for the first use: create() cannot know whether a `with` block follows, and a
        # warning inside the block the docs recommend would tell the user to do what they already do. The
        # handle exists by then, so a warning raised as an error (-W error) loses nothing.
        deployment._billing_notice = (
            f"Provisioned Throughput {name} ({model_units} model unit(s)){term} is billed every hour until "
            "it is deleted: use it in a `with` block, or call .delete(); find_orphans() lists forgotten ones"
        )
        if commitment is not None:
            deployment._details["commitmentDuration"] = commitment
        return deployment

    @classmethod
    def attach(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> ProvisionedDeployment:
        """Find an existing deployment by name or ARN.

        Raises:
            ResourceNotFoundError: No such deployment.
        """
        resolved = resolve_transport(transport)
        response = resolved.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=name_or_arn)
        deployment = cls(response["provisionedModelArn"], transport=resolved)
        deployment._details = response
        return deployment

    @classmethod
    def list(
        cls,
        *,
        name_contains: str | None = None,
        status: str | None = None,
        model: CustomModel | str | None = None,
        transport: BedrockTransport | None = None,
    ) -> builtins.list[ProvisionedDeployment]:
        """Return every Provisioned Throughput in the region (all pages), optionally filtered.

        Args:
            name_contains: Only names containing this.
            status: Only this status (``Creating``, ``InService``, ``Updating``, ``Failed``).
            model: Only deployments serving this custom model (a :class:`CustomModel` or its ARN).
            transport: The transport (default: the one ``model`` carries, else the process default).
        """
        resolved = resolve_transport(transport, model)
        params: dict[str, Any] = {"nameContains": name_contains} if name_contains else {}
        if status is not None:
            params["statusEquals"] = status
        if model is not None:
            params["modelArnEquals"] = model.arn if isinstance(model, CustomModel) else model
        found: builtins.list[ProvisionedDeployment] = []
        for page in resolved.paginate("bedrock", "ListProvisionedModelThroughputs", **params):
            for summary in page.get("provisionedModelSummaries", []):
                deployment = cls(summary["provisionedModelArn"], transport=resolved)
                deployment._details = summary
                found.append(deployment)
        return found

    # -- state ---------------------------------------------------------------------------------------

    @property
    def transport(self) -> BedrockTransport:
        """The transport calls go through (fixed when the deployment was built)."""
        return self._transport

    def refresh(self) -> ProvisionedDeployment:
        """Fetch the current state from the service."""
        self._details = self._transport.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=self.arn)
        return self

    @property
    def status(self) -> str:
        """``Creating``, ``InService``, ``Updating`` or ``Failed`` (as of the last refresh)."""
        return str(self._details.get("status") or self.refresh()._details["status"])

    @property
    def name(self) -> str:
        """The deployment's name."""
        return str(self._details.get("provisionedModelName") or self.refresh()._details["provisionedModelName"])

    @property
    def _label(self) -> str:
        return str(self._details.get("provisionedModelName") or self.arn)

    @property
    def model_units(self) -> int:
        """Model units bought."""
        return int(self._details.get("modelUnits") or self.refresh()._details["modelUnits"])

    @property
    def commitment(self) -> str | None:
        """The commitment term, or ``None`` when there is none."""
        if "status" not in self._details or "provisionedModelArn" not in self._details:
            self.refresh()
        value = self._details.get("commitmentDuration")
        return str(value) if value else None

    @property
    def failure_message(self) -> str | None:
        """Why it failed, when it did."""
        value = self._details.get("failureMessage")
        return str(value) if value else None

    @property
    def model(self) -> FineTunedModel:
        """The model to invoke through this deployment (its ARN is the ``modelId``)."""
        self._warn_billing()
        return FineTunedModel(self.arn, transport=self._transport)

    def hourly_cost(self, pricing: Pricing) -> float | None:
        """What this deployment costs per hour at the given prices (``None`` when no price is given)."""
        return pricing.provisioned_cost(model_units=self.model_units, hours=1.0)

    def wait(self, *, timeout: float | None = 3600.0, progress: bool = True) -> ProvisionedDeployment:
        """Wait until the deployment is ``InService``.

        Args:
            timeout: Seconds to wait at most (``None``: no limit). AWS reports 20-30 minutes to come up.
            progress: Show a progress bar.

        Raises:
            DeploymentError: It failed (carries the service's failure message).
            WaitTimeoutError: Time ran out; the deployment is untouched (and still billed).
        """
        self._warn_billing()
        return self._wait(timeout=timeout, progress=progress)

    def _warn_billing(self) -> None:
        """Issue the :class:`BillingWarning` of a deployment this process bought, once, outside ``with``."""
        notice, self._billing_notice = self._billing_notice, None
        if notice is not None:
            warnings.warn(notice, BillingWarning, stacklevel=3)

    def _wait(self, *, timeout: float | None, progress: bool, in_block: bool = False) -> ProvisionedDeployment:
        def fetch() -> PollState:
            self.refresh()
            status = self.status
            return PollState(status=status, finished=status in _TERMINAL)

        wait_for(
            fetch,
            what=f"provisioned throughput {self._label}",
            clock=self._transport.clock,
            timeout=timeout,
            interval=_INTERVAL,
            progress=progress,
            reattach_hint=f"ProvisionedDeployment.attach({self.arn!r}).wait()",
            # In a with block a Ctrl-C deletes the deployment (and __enter__ says so), so it is not "left running".
            interrupt_message=not in_block,
        )
        if self.status == "Failed":
            raise DeploymentError(
                f"provisioned throughput {self.name} failed: {self.failure_message or 'no reason given'}"
            )
        return self

    def update(self, *, name: str | None = None, model: CustomModel | str | None = None) -> ProvisionedDeployment:
        """Rename the deployment or point it at another custom model (the only changes AWS allows)."""
        if name is None and model is None:
            raise ValueError("update needs a new name or a new model")
        params: dict[str, Any] = {"provisionedModelId": self.arn}
        if name is not None:
            if len(name) > 63 or not _NAME.fullmatch(name):
                raise ValueError(f"deployment name {name!r} is invalid (see create())")
            params["desiredProvisionedModelName"] = name
        if model is not None:
            params["desiredModelId"] = model.arn if isinstance(model, CustomModel) else model
        self._transport.call("bedrock", "UpdateProvisionedModelThroughput", **params)
        return self.refresh()

    def delete(self, *, confirm_timeout: float = 600.0) -> None:
        """Delete the deployment (billing stops) and confirm it is gone.

        Args:
            confirm_timeout: Seconds to wait for the service to stop reporting it.

        Raises:
            DeploymentError: The deployment is committed and its term has not ended, or it was still
                listed after ``confirm_timeout``.
        """
        self._billing_notice = None  # being deleted: nothing left to warn about
        try:
            self._transport.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=self.arn)
        except ResourceNotFoundError:
            _log.info("provisioned throughput %s was already gone", self.arn)
            return

        def fetch() -> PollState:
            try:
                status = self._transport.call(
                    "bedrock", "GetProvisionedModelThroughput", provisionedModelId=self.arn
                ).get("status")
            except ResourceNotFoundError:
                return PollState(status="Deleted", finished=True)
            return PollState(status=str(status or "Deleting"), finished=False)

        try:
            wait_for(
                fetch,
                what=f"deletion of provisioned throughput {self._label}",
                clock=self._transport.clock,
                timeout=confirm_timeout,
                interval=_DELETE_INTERVAL,
                progress=False,
                reattach_hint=f"ProvisionedDeployment.attach({self.arn!r}).delete()",
                interrupt_message=False,
            )
        except WaitTimeoutError as error:
            raise DeploymentError(
                f"provisioned throughput {self.arn} was still listed {confirm_timeout:.0f}s after its delete; "
                "check it in the console: it may still be billed"
            ) from error
        _log.info("deleted provisioned throughput %s", self.arn)

    # -- context manager ------------------------------------------------------------------------------

    def __enter__(self) -> ProvisionedDeployment:
        self._billing_notice = None  # the block deletes it on exit: nothing to warn about
        if self.commitment is not None:
            raise DeploymentError(
                f"provisioned throughput {self.arn} has a {self.commitment} commitment: it cannot be deleted "
                "before its term ends, so a `with` block cannot clean it up. It was left as it is; use it "
                "without `with`, and delete it with .delete() once the term is over."
            )
        try:
            if self.status != "InService":
                self._wait(timeout=3600.0, progress=True, in_block=True)
        except KeyboardInterrupt:
            print(
                f"Interrupted while waiting for provisioned throughput {self.arn} to come up; deleting it, as "
                "the `with` block promises (it bills from creation).",
                file=sys.stderr,
            )
            self._delete_or_say_so()
            raise
        except BaseException:
            # Never leave a billed resource behind because waiting failed.
            self._delete_or_say_so()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._delete_or_say_so()

    def _delete_or_say_so(self) -> None:
        """Delete the deployment for a ``with`` block; when that fails or is interrupted, say it may still bill."""
        try:
            self.delete()
        except Exception as error:
            raise DeploymentError(
                f"could not delete provisioned throughput {self.arn}: {error}. It may still be billed; "
                f"delete it in the console or with ProvisionedDeployment.attach({self.arn!r}).delete()"
            ) from error
        except KeyboardInterrupt:
            # A second Ctrl-C while deleting: say what may be left billing before giving way.
            print(
                f"Interrupted while deleting provisioned throughput {self.arn}; it may still be billed. Delete "
                f"it with ProvisionedDeployment.attach({self.arn!r}).delete()",
                file=sys.stderr,
            )
            raise

    def __repr__(self) -> str:
        status = self._details.get("status", "?")
        return f"ProvisionedDeployment({self.arn!r}, status={status!r})"


def find_orphans(
    *,
    older_than: timedelta = timedelta(0),
    now: datetime | None = None,
    transport: BedrockTransport | None = None,
) -> list[ProvisionedDeployment]:
    """List deployments this library created (they carry its tag) that are older than ``older_than``.

    Args:
        older_than: Only deployments created at least this long ago.
        now: The current time (default: now, UTC).
        transport: The transport.

    Returns:
        The tagged deployments, oldest first. Nothing is deleted.
    """
    resolved = resolve_transport(transport)
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    found = []
    for deployment in ProvisionedDeployment.list(transport=resolved):
        created = deployment._details.get("creationTime")
        if isinstance(created, datetime) and created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        if isinstance(created, datetime) and created > cutoff:
            continue
        try:
            tags = resolved.call("bedrock", "ListTagsForResource", resourceARN=deployment.arn).get("tags", [])
        except ResourceNotFoundError:
            continue  # deleted between the listing and now
        if has_library_tag(tags):
            found.append(deployment)
    found.sort(key=lambda d: d._details.get("creationTime") or datetime.min.replace(tzinfo=timezone.utc))
    return found


def _generated_name(model_name: str) -> str:
    return generate_name(model_name, "deployment", infix="pt", default="model")
