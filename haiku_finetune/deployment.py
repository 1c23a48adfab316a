"""ProvisionedDeployment: serve a custom model on Provisioned Throughput without leaking an hourly bill.

A Provisioned Throughput bills every hour, per model unit, until it is deleted. Opened in a ``with`` block, a
deployment is deleted on every way out of the block — normal exit, exception, Ctrl-C, SIGTERM, SIGHUP, and an
interpreter exit with the block still open — and the delete is confirmed. The create itself survives an
interruption or a lost answer: the name is fixed (and logged) first and the PT is tagged with the call's client
token, so what was bought is found again by name and either returned or deleted. ``max_lifetime=`` arms a guard
(`haiku_finetune.guard`) that deletes the PT even when its owner is killed outright. Everything this module
creates carries the library's tag, so [`find_orphans`][haiku_finetune.deployment.find_orphans] can list what was
forgotten. It does not create custom models (that is the job's business) and does not invoke them (that is
[`FineTunedModel`][haiku_finetune.model.FineTunedModel]'s).

Longer than ~600 lines on purpose: every exit path of a billed resource (create, signals, guard, delete, orphans)
is kept in one place, where a reader can check that none leaks.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import dis
import logging
import re
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import FrameType, TracebackType
from typing import Any, Literal, Protocol

from ._lifecycle_check import profile_lifecycle_now, warn_lifecycle
from ._names import generate_name
from ._signals import HANDLED_SIGNALS, terminate_as_interrupt
from ._tags import with_library_tag
from ._transport import BedrockTransport, resolve_transport
from ._wait import PollInterval, PollState, wait_for
from .base_models import DEFAULT_BASE_MODEL, BaseModelProfile, base_model_in_custom_model_arn, find_profile
from .custom_model import CustomModel
from .errors import (
    AccessDeniedError,
    ConflictError,
    ConnectionFailedError,
    DeploymentError,
    HaikuFinetuneError,
    ModelEndOfLifeError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
    WaitTimeoutError,
)
from .guard import GuardHandle, SchedulerGuard, WatchdogGuard
from .lifecycle import LifecycleStage
from .model import FineTunedModel
from .orphans import find_orphans
from .pricing import Pricing

__all__ = ["BillingWarning", "Commitment", "Guard", "GuardKind", "ProvisionedDeployment", "find_orphans"]

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
#: The tag carrying a create's client token: how a PT whose create was interrupted or lost is recognised as
#: this call's (Get/ListProvisionedModelThroughput do not report the token).
CLIENT_TOKEN_TAG = "haiku-finetune:client-token"
_CREATE = "CreateProvisionedModelThroughput"
# After an interrupted create: how long a request that reached the service may take to show up by name.
_SETTLE_SECONDS = 5.0
_SETTLE_INTERVAL = PollInterval(initial=0.25, maximum=1.0, growth=1.5)

GuardKind = Literal["scheduler", "watchdog"]


class Guard(Protocol):
    """Anything that arms a guard for a PT: `SchedulerGuard`,
    `WatchdogGuard`, or your own."""

    def arm(self, provisioned_arn: str, lifetime: float | timedelta) -> GuardHandle:
        """Arm the guard; returns its handle."""
        ...


class BillingWarning(UserWarning):
    """A deployment billed by the hour is used outside a ``with`` block (which would delete it on exit).

    Issued once per created deployment, at its first [`wait`][haiku_finetune.deployment.ProvisionedDeployment.wait] or
    [`model`][haiku_finetune.deployment.ProvisionedDeployment.model] outside a ``with`` block; never inside one. Filter
    it with
    ``warnings.simplefilter("ignore", BillingWarning)``.
    """


class ProvisionedDeployment:
    """A Provisioned Throughput serving a custom model.

    Create one with [`create`][haiku_finetune.deployment.ProvisionedDeployment.create] or find one with
    [`attach`][haiku_finetune.deployment.ProvisionedDeployment.attach]; use it as a context manager to have it
    deleted on exit. [`model`][haiku_finetune.deployment.ProvisionedDeployment.model] invokes it.
    """

    def __init__(self, arn: str, *, transport: BedrockTransport | None = None) -> None:
        self.arn = arn
        self._transport = resolve_transport(transport)  # once: everything this hands out carries it
        self._details: dict[str, Any] = {}
        #: The base model's profile when known (create() from a CustomModel sets it); `model` passes it on,
        #: reading it from the served model's ARN first when it is not known yet.
        self.base_model: BaseModelProfile | None = None
        self._base_model_read = False  # `model` looked for it once already (and may have warned)
        # Set by create() when this call bought it; cleared once warned or once entered as a `with` block.
        self._billing_notice: str | None = None
        self._guard: GuardHandle | None = None
        # While a `with` block is open: its signal handling (entered in __enter__, left in __exit__).
        self._signals: contextlib.AbstractContextManager[None] | None = None

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
        max_lifetime: float | timedelta | None = None,
        guard: GuardKind | Guard | None = None,
        transport: BedrockTransport | None = None,
    ) -> ProvisionedDeployment:
        """Buy Provisioned Throughput for a custom model. Billing starts now and runs hourly until deleted.

        The name is fixed (and logged) before the call, and the PT is tagged with this call's client token. If
        the answer is lost (no connection after the transport's retries), the PT is looked up by name and
        returned. If the call is interrupted — Ctrl-C, or SIGTERM/SIGHUP, which take the same path while the
        call runs in the main thread — the PT is looked up and, when it was made, deleted before the
        interrupt goes on. When that cannot be found out, the error names the PT and the AWS CLI commands to
        check and delete it.

        Args:
            model: The custom model (a [`CustomModel`][haiku_finetune.deployment.CustomModel], or its ARN or name).
            model_units: Model units to buy (at least 1).
            name: The deployment's name (default: generated from the model's name and the time).
            commitment: ``None`` for no commitment (deletable any time), or ``"OneMonth"`` /
                ``"SixMonths"`` (cheaper per hour, but cannot be deleted before the term ends).
            tags: Extra tags; the library's own ``created-by=haiku-finetune`` is always added, and a
                different ``created-by`` value is refused (it would hide the deployment from
                [`find_orphans`][haiku_finetune.deployment.find_orphans]).
            max_lifetime: Seconds (or a timedelta) after which a guard deletes the PT whatever happens to
                this process (see ``docs/cost-safety.md``). Armed as soon as the create answers, before the
                wait for ``InService``; released when the deployment is deleted; moved by
                [`extend`][haiku_finetune.deployment.ProvisionedDeployment.extend].
            guard: What deletes it: ``"scheduler"`` (the default when ``max_lifetime`` is given: an EventBridge
                Scheduler one-time schedule, which fires even if the machine is gone), ``"watchdog"`` (a
                detached local process holding a lease; needs no IAM of its own), or a guard object with an
                ``arm(arn, lifetime)`` method.
            transport: The transport (default: the one ``model`` carries when it is a
                [`CustomModel`][haiku_finetune.deployment.CustomModel],
                else the process default).

        Returns:
            The deployment, usually still ``Creating``: [`wait`][haiku_finetune.deployment.ProvisionedDeployment.wait]
            for ``InService`` (the ``with`` block
            does that for you).

        Raises:
            ValueError: Bad arguments, including a tag under the library's key (nothing was bought).
            ServiceError: The service refused. ``ConflictError``: the name belongs to a PT this call did not make.
            ConnectionFailedError: No answer, and the lookup could not tell whether the PT exists (the message
                names it and the commands to check and delete it).
            HaikuFinetuneError: The guard could not be armed (the PT was deleted again).
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
        lifetime = _lifetime(max_lifetime, guard, commitment)
        if tags is not None and CLIENT_TOKEN_TAG in tags:
            raise ValueError(f"tag key {CLIENT_TOKEN_TAG!r} is reserved: the library sets it to the create's token")
        token = uuid.uuid4().hex
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
        # The base model's lifecycle here, from its profile (no extra call): Legacy warns before the purchase.
        base = find_profile(model.base_model) if isinstance(model, CustomModel) and model.base_model else None
        legacy = None
        if base is not None:
            state = profile_lifecycle_now(base, resolved)
            warn_lifecycle(base, state, stacklevel=2)
            if state.stage in (LifecycleStage.LEGACY, LifecycleStage.EXTENDED_ACCESS):
                legacy = f"its base model {base.display_name} is {state.describe()}"
        params["tags"].append({"key": CLIENT_TOKEN_TAG, "value": token})
        _log.info(
            "creating provisioned throughput %s (%d model unit(s)) for %s, clientRequestToken %s",
            name,
            model_units,
            model_id,
            token,
        )
        known: list[str] = []  # the ARN, once known: the second-signal message names it
        deployment: ProvisionedDeployment | None = None
        interrupted = False
        # `with ProvisionedDeployment.create(...) as dep:` bought and then interrupted before __enter__ ran would
        # leave the PT with no handle: the block's clean-up must cover that step too. So in that form the PT is an
        # open block (deleted at exit) with this signal handling still on from the moment it is bought, and
        # __enter__ takes both over.
        into_block = _enters_a_with_block(sys._getframe(1))
        # The signal handling is handed over only when SIGTERM/SIGHUP would kill the process: one that is ignored
        # (nohup) or taken by a handler that returns must keep doing so between create() and __enter__.
        hand_over = into_block and all(signal.getsignal(s) in (signal.SIG_DFL, None) for s in HANDLED_SIGNALS)
        signals = terminate_as_interrupt(on_second_signal=lambda signum: _say_what_may_bill(known, name, resolved))
        signals.__enter__()
        try:
            try:
                arn = _buy_refusal_explained(resolved, params, name, token, legacy)
                known.append(arn)
                _log.info("created provisioned throughput %s (%s) for %s", name, arn, model_id)
                deployment = cls(arn, transport=resolved)
                deployment.base_model = base
                deployment._details = {
                    "provisionedModelName": name,
                    "modelArn": model_id,
                    "modelUnits": model_units,
                    "status": "Creating",
                }
                if commitment is not None:
                    deployment._details["commitmentDuration"] = commitment
                if lifetime is not None:
                    deployment._arm_guard(guard or "scheduler", lifetime)
                if into_block:
                    if hand_over:
                        deployment._signals = signals
                    with _open_lock:
                        _open_blocks.add(deployment)
            except KeyboardInterrupt:
                interrupted = True
                held = deployment.guard if deployment is not None else None
                if deployment is not None:  # undone here: not an open block any more
                    deployment._signals = None
                    with _open_lock:
                        _open_blocks.discard(deployment)
                _undo_interrupted_create(resolved, name, token, known, held)
                raise
            except HaikuFinetuneError as error:
                if known:  # bought, but the guard asked for could not be armed: do not leave it unguarded
                    _log.warning("could not arm the guard for %s (%s); deleting it", known[0], error)
                    cls(known[0], transport=resolved).delete()
                raise
        except BaseException:
            if not signals.__exit__(*sys.exc_info()):
                raise
        else:
            if not hand_over:
                signals.__exit__(None, None, None)
        if interrupted or deployment is None:
            # SIGTERM/SIGHUP was handed to a previous handler that let the program go on (a Python handler that
            # returned, or SIG_IGN): what the create bought was undone above, so there is no deployment to return.
            raise DeploymentError(
                f"creating provisioned throughput {name} was interrupted by a signal; what it bought was deleted"
            )
        # The warning waits for the first use: create() cannot know whether a `with` block follows, and a
        # warning inside the block the docs recommend would tell the user to do what they already do. The
        # handle exists by then, so a warning raised as an error (-W error) loses nothing.
        deployment._billing_notice = (
            f"Provisioned Throughput {name} ({model_units} model unit(s)){term} is billed every hour until "
            "it is deleted: use it in a `with` block, or call .delete(); find_orphans() lists forgotten ones"
        )
        return deployment

    def _arm_guard(self, guard: GuardKind | Guard, lifetime: float) -> None:
        """Arm ``guard`` for this PT, its deadline counted on the service's clock from the PT's creation."""
        armer: Guard
        if guard == "scheduler":
            armer = SchedulerGuard(transport=self._transport, now=self._service_clock())
        elif guard == "watchdog":
            armer = WatchdogGuard(transport=self._transport)
        elif isinstance(guard, str):
            raise ValueError(f"guard must be 'scheduler', 'watchdog' or a guard object, got {guard!r}")
        else:
            armer = guard
        self._guard = armer.arm(self.arn, lifetime)
        _log.info("%s", self._guard.describe())

    def _service_clock(self) -> Callable[[], datetime]:
        """The service's wall clock, estimated from the PT's ``creationTime`` (falls back to the local one).

        A schedule's ``at(...)`` is read on the service's clock; a local clock that differs from it (on
        LocalBedrock, emulated time runs ahead) would make the guard fire early or late.
        """
        try:
            created = self.refresh()._details.get("creationTime")
        except (ServiceError, ConnectionFailedError):
            created = None
        if not isinstance(created, datetime):
            return lambda: datetime.now(timezone.utc)
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        offset = created - datetime.now(timezone.utc)
        return lambda: datetime.now(timezone.utc) + offset

    @property
    def guard(self) -> GuardHandle | None:
        """The armed guard (``None`` when none was asked for, or once it is released)."""
        return self._guard

    def extend(self, lifetime: float | timedelta) -> None:
        """Move the guard's deadline to ``lifetime`` (seconds or a timedelta) from now.

        Raises:
            DeploymentError: No guard is armed (create with ``max_lifetime=``).
        """
        if self._guard is None:
            raise DeploymentError(f"provisioned throughput {self._label} has no guard: create it with max_lifetime=")
        self._guard.extend(lifetime)

    @classmethod
    def attach(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> ProvisionedDeployment:
        """Find an existing deployment by name or ARN.

        Raises:
            ResourceNotFoundError: No such deployment.
        """
        resolved = resolve_transport(transport)
        response = resolved.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=name_or_arn)
        return cls._from_api(response, transport=resolved)

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
            model: Only deployments serving this custom model (a [`CustomModel`][haiku_finetune.deployment.CustomModel]
                or its ARN).
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
            found.extend(
                cls._from_api(summary, transport=resolved) for summary in page.get("provisionedModelSummaries", [])
            )
        return found

    @classmethod
    def _from_api(cls, response: dict[str, Any], *, transport: BedrockTransport) -> ProvisionedDeployment:
        """Build from a ``GetProvisionedModelThroughput`` response (or a ``ListProvisionedModelThroughputs`` summary),
        carrying ``transport``, as ``CustomModel.from_api`` does for a custom model."""
        deployment = cls(response["provisionedModelArn"], transport=transport)
        deployment._details = response
        return deployment

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
        """The model to invoke through this deployment (its ARN is the ``modelId``).

        It carries the base model's profile, whose runtime rules (such as the largest ``max_tokens``) it checks:
        the one `create` was given with a `CustomModel`, else the base model the served custom model's ARN names
        (``custom-model/<base model id>/...``; no call). When neither tells (a deployment made with
        ``ProvisionedDeployment(arn)``, an imported model) or the base model has no profile (logged as a warning),
        it is the default's (Claude 3 Haiku); ``FineTunedModel(deployment.arn, base_model=...)`` names another.
        """
        self._warn_billing()
        return FineTunedModel(self.arn, transport=self._transport, base_model=self._served_base_model())

    def _served_base_model(self) -> BaseModelProfile | None:
        if self.base_model is not None or self._base_model_read:
            return self.base_model
        # Known from create, attach or list (not fetched for this); after update(model=) the desired one.
        served = self._details.get("desiredModelArn") or self._details.get("modelArn")
        if not isinstance(served, str) or not served:
            return None  # not known yet: read once a refresh() brings it
        self._base_model_read = True
        # A foundation model served as it is, or the base model a custom model's ARN names: no call needed.
        base = served if ":foundation-model/" in served else base_model_in_custom_model_arn(served)
        profile = find_profile(base) if base else None
        if profile is None and base:
            _log.warning(
                "%s serves a model of base model %s, which has no profile; max_tokens is checked against %s's "
                "limit: register_profile() one, or pass FineTunedModel(%r, base_model=...)",
                self.arn,
                base,
                DEFAULT_BASE_MODEL.display_name,
                self.arn,
            )
        self.base_model = profile
        return profile

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
        """Issue the [`BillingWarning`][haiku_finetune.deployment.BillingWarning] of a deployment this process bought,
        once, outside ``with``."""
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
        if model is not None:  # another model: `model` reads its base model from its ARN (desiredModelArn)
            self.base_model = None
            self._base_model_read = False
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
            self._release_guard()
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
        self._release_guard()

    def _release_guard(self) -> None:
        """Stand the guard down once the PT is confirmed gone (never before: until then it is the safety net)."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        try:
            guard.release()
        except (HaikuFinetuneError, OSError) as error:
            # The PT is gone, so a guard left armed bills nothing; find_orphans() lists its schedule.
            _log.warning("could not release the guard of %s (it bills nothing): %s", self.arn, error)

    # -- context manager ------------------------------------------------------------------------------

    def __enter__(self) -> ProvisionedDeployment:
        self._billing_notice = None  # the block deletes it on exit: nothing to warn about
        # SIGTERM/SIGHUP take the Ctrl-C path until __exit__ (main thread only; see _signals). Installed before
        # anything that may call the service, so a signal during the commitment look-up still deletes the PT;
        # create() hands over its own when it returns straight into this block.
        if self._signals is None:
            signals = terminate_as_interrupt(on_second_signal=lambda signum: _say_what_may_bill([self.arn], None, self))
            signals.__enter__()
            self._signals = signals
        with _open_lock:
            _open_blocks.add(self)
        try:
            commitment = self.commitment
        except BaseException as error:
            if self._leave(error, self._delete_or_say_so):
                raise _deleted_by_signal(self.arn) from None
            raise
        if commitment is not None:
            self._leave(None, lambda: None)  # a committed PT cannot be deleted: leave it as it is
            raise DeploymentError(
                f"provisioned throughput {self.arn} has a {commitment} commitment: it cannot be deleted "
                "before its term ends, so a `with` block cannot clean it up. It was left as it is; use it "
                "without `with`, and delete it with .delete() once the term is over."
            )
        try:
            if self.status != "InService":
                self._wait(timeout=3600.0, progress=True, in_block=True)
        except KeyboardInterrupt as error:
            print(
                f"Interrupted while waiting for provisioned throughput {self.arn} to come up; deleting it, as "
                "the `with` block promises (it bills from creation).",
                file=sys.stderr,
            )
            if self._leave(error, self._delete_or_say_so):
                raise _deleted_by_signal(self.arn) from None
            raise
        except BaseException as error:
            # Never leave a billed resource behind because waiting failed.
            if self._leave(error, self._delete_or_say_so):
                raise _deleted_by_signal(self.arn) from None
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return self._leave(exc, self._delete_or_say_so)

    def _leave(self, error: BaseException | None, clean_up: Callable[[], None]) -> bool:
        """Run ``clean_up``, then end the block's signal handling with ``error`` (or the clean-up's own error).

        Returns True when the error was a signal that has been handed on and the process goes on (the signal
        was ignored before, or a Python handler that did not raise took it): the block's exception is then
        swallowed, as the signal would have been without the block. Otherwise the error propagates.
        """
        signals, self._signals = self._signals, None
        with _open_lock:
            _open_blocks.discard(self)
        try:
            clean_up()
        except BaseException as failure:
            if signals is not None and signals.__exit__(type(failure), failure, failure.__traceback__):
                return True
            raise
        if signals is None:
            return False
        if error is None:
            return bool(signals.__exit__(None, None, None))
        return bool(signals.__exit__(type(error), error, error.__traceback__))

    def _delete_or_say_so(self) -> None:
        """Delete the deployment for a ``with`` block; when that fails or is interrupted, say it may still bill."""
        try:
            self.delete()
        except Exception as error:
            raise DeploymentError(
                f"could not delete provisioned throughput {self.arn}: {error}. It may still be billed; delete "
                f"it with: {_delete_command(self.arn, self._transport.region)}"
            ) from error
        except KeyboardInterrupt:
            # A second Ctrl-C while deleting: say what may be left billing before giving way.
            print(
                f"Interrupted while deleting provisioned throughput {self.arn}; it may still be billed. Delete "
                f"it with ProvisionedDeployment.attach({self.arn!r}).delete() or: "
                f"{_delete_command(self.arn, self._transport.region)}",
                file=sys.stderr,
            )
            raise

    def __repr__(self) -> str:
        status = self._details.get("status", "?")
        return f"ProvisionedDeployment({self.arn!r}, status={status!r})"


def _generated_name(model_name: str) -> str:
    return generate_name(model_name, "deployment", infix="pt", default="model")


def _lifetime(max_lifetime: float | timedelta | None, guard: object, commitment: str | None) -> float | None:
    """Check ``max_lifetime``/``guard`` before anything is bought; the lifetime in seconds, or ``None``."""
    if max_lifetime is None:
        if guard is not None:
            raise ValueError("guard= needs max_lifetime=: the guard deletes the PT when its lifetime ends")
        return None
    if isinstance(max_lifetime, bool) or not isinstance(max_lifetime, (int, float, timedelta)):
        raise ValueError(f"max_lifetime must be seconds or a timedelta, got {max_lifetime!r}")
    seconds = max_lifetime.total_seconds() if isinstance(max_lifetime, timedelta) else float(max_lifetime)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"max_lifetime must be more than 0 seconds, got {max_lifetime!r}")
    if commitment is not None:
        raise ValueError("a committed PT cannot be deleted before its term ends, so it cannot have max_lifetime=")
    if guard is not None and isinstance(guard, str) and guard not in ("scheduler", "watchdog"):
        raise ValueError(f"guard must be 'scheduler', 'watchdog' or a guard object, got {guard!r}")
    return seconds


def _delete_command(name_or_arn: str, region: str) -> str:
    return f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {name_or_arn} --region {region}"


def _get_command(name_or_arn: str, region: str) -> str:
    return f"aws bedrock get-provisioned-model-throughput --provisioned-model-id {name_or_arn} --region {region}"


def _deleted_by_signal(arn: str) -> DeploymentError:
    return DeploymentError(f"provisioned throughput {arn} was deleted: a signal arrived while it was coming up")


def _say_what_may_bill(known: list[str], name: str | None, owner: ProvisionedDeployment | BedrockTransport) -> None:
    """The second signal during clean-up: what may still bill, and the exact command that deletes it."""
    region = owner.region if isinstance(owner, BedrockTransport) else owner.transport.region
    target = known[0] if known else str(name)
    print(
        f"Signal received again while cleaning up: provisioned throughput {target} may still be billed; the "
        f"clean-up goes on. If this process is killed, delete it with: {_delete_command(target, region)}",
        file=sys.stderr,
        flush=True,
    )


def _buy_refusal_explained(
    t: BedrockTransport, params: Mapping[str, Any], name: str, token: str, legacy: str | None
) -> str:
    """`_buy`; for a Legacy base model, a refusal says why it may have come (never a raw service error).

    Whether the service still sells new Provisioned Throughput for a Legacy model is not confirmed.
    """
    try:
        return _buy(t, params, name, token)
    except ModelEndOfLifeError:
        raise
    except (ServiceValidationError, ResourceNotFoundError, AccessDeniedError) as error:
        if legacy is None:
            raise
        raise DeploymentError(
            f"the service refused Provisioned Throughput {name}: {legacy}, and whether new Provisioned Throughput "
            f"is sold for a Legacy model is not confirmed ({error.code}: {error.message}); see docs/migration.md"
        ) from error


def _buy(t: BedrockTransport, params: Mapping[str, Any], name: str, token: str) -> str:
    """CreateProvisionedModelThroughput; when the answer is lost for good, find the PT by name and token."""
    try:
        response = t.call("bedrock", _CREATE, clientRequestToken=token, **params)
        return str(response["provisionedModelArn"])
    except ConnectionFailedError as error:
        arn = _find_created(t, name, token, error)
        if arn is None:
            raise ConnectionFailedError(
                f"no answer to {_CREATE} for {name}, and no provisioned throughput of that name exists: it was "
                f"not bought. create() can be retried. To check: {_get_command(name, t.region)}",
                operation=_CREATE,
                attempts=error.attempts,
            ) from error
        _log.warning("the answer to %s was lost; found provisioned throughput %s by name (%s)", _CREATE, name, arn)
        return arn


def _find_created(t: BedrockTransport, name: str, token: str, lost: BaseException | None = None) -> str | None:
    """The ARN of the PT called ``name`` that carries ``token``; ``None`` when there is none.

    Raises:
        ConflictError: A PT of that name exists but another call made it.
        ConnectionFailedError: The lookup failed too (the message names the PT and the commands).
    """
    try:
        try:
            found = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=name)
        except ResourceNotFoundError:
            return None
        arn = str(found["provisionedModelArn"])
        tags = t.call("bedrock", "ListTagsForResource", resourceARN=arn).get("tags", [])
    except (ServiceError, ConnectionFailedError) as error:
        raise ConnectionFailedError(
            f"{_CREATE} for {name} got no answer, and looking it up failed too ({error}): it may or may not have "
            f"been bought, and it bills by the hour if it was. Check with: {_get_command(name, t.region)} ; "
            f"delete it with: {_delete_command(name, t.region)}",
            operation=_CREATE,
        ) from (lost or error)
    if not any(tag.get("key") == CLIENT_TOKEN_TAG and tag.get("value") == token for tag in tags):
        raise ConflictError(
            f"a provisioned throughput called {name} exists ({arn}) but was not made by this call (its "
            f"{CLIENT_TOKEN_TAG} tag differs); it was left alone",
            operation=_CREATE,
            code="ConflictException",
        ) from lost
    return arn


def _find_settled(t: BedrockTransport, name: str, token: str) -> str | None:
    """`_find_created`, looked for a few seconds: an interrupted request may still be handled after it.

    The interrupt only stops this process from reading the answer; the service (which does not notice the
    connection close) can still be creating the PT, so one look right away could miss it.
    """

    def fetch() -> PollState:
        arn = _find_created(t, name, token)
        return PollState(status="found" if arn else "not found", finished=arn is not None, value=arn)

    try:
        found: str = wait_for(
            fetch,
            what=f"provisioned throughput {name}",
            clock=t.clock,
            timeout=_SETTLE_SECONDS,
            interval=_SETTLE_INTERVAL,
            progress=False,
            interrupt_message=False,
        ).value
    except WaitTimeoutError:
        return None  # none of that name appeared while the request could still be handled
    return found


def _undo_interrupted_create(
    t: BedrockTransport, name: str, token: str, known: list[str], guard: GuardHandle | None
) -> None:
    """Interrupted while buying: find what was bought and delete it, or say exactly what to check."""
    arn: str | None = known[0] if known else None
    if arn is None:
        try:
            arn = _find_settled(t, name, token)
        except (ConflictError, ConnectionFailedError) as error:
            print(
                f"Interrupted while creating provisioned throughput {name}; could not find out whether it was "
                f"bought ({error}). Check with: {_get_command(name, t.region)} ; delete it with: "
                f"{_delete_command(name, t.region)}",
                file=sys.stderr,
            )
            return
    if arn is None:
        print(
            f"Interrupted while creating provisioned throughput {name}: none of that name appeared within "
            f"{_SETTLE_SECONDS:.0f}s, so most likely it was not bought (a request still in flight could yet create "
            f"it, billed by the hour). To check again: {_get_command(name, t.region)} ; to delete it then: "
            f"{_delete_command(name, t.region)}",
            file=sys.stderr,
        )
        return
    print(
        f"Interrupted while creating provisioned throughput {name} ({arn}); it was bought, so it is deleted now.",
        file=sys.stderr,
    )
    deployment = ProvisionedDeployment(arn, transport=t)
    deployment._guard = guard
    deployment._delete_or_say_so()


# -- interpreter exit ---------------------------------------------------------------------------------------

# `with` blocks still open (entered, not yet left). A block in a daemon thread when the interpreter exits, or
# in a thread that is never joined, never reaches __exit__: the exit hook deletes what is left here.
_open_blocks: set[ProvisionedDeployment] = set()
_open_lock = threading.Lock()


def _delete_open_blocks_at_exit() -> None:
    """atexit: delete the PT of every `with` block still open, or print exactly what is left billing."""
    with _open_lock:
        left = list(_open_blocks)
        _open_blocks.clear()
    for deployment in left:
        print(
            f"haiku_finetune: the interpreter is exiting with the `with` block of provisioned throughput "
            f"{deployment.arn} still open (interrupted as the block began, or a daemon thread); deleting it.",
            file=sys.stderr,
        )
        started = time.monotonic()
        try:
            deployment.delete(confirm_timeout=120.0)
        except BaseException as error:  # noqa: BLE001 - at exit every failure must become a line, not a traceback
            print(
                f"haiku_finetune: could not delete {deployment.arn} ({error}); it may still be billed. Delete it "
                f"with: {_delete_command(deployment.arn, deployment.transport.region)}",
                file=sys.stderr,
            )
        else:
            _log.info("deleted %s at exit in %.1fs", deployment.arn, time.monotonic() - started)
    # A block interrupted as it began still holds its signal handling: ending it hands a SIGTERM/SIGHUP on, so the
    # process ends as the signal would have made it (after every PT above is deleted).
    for deployment in left:
        signals, deployment._signals = deployment._signals, None
        if signals is not None:
            signals.__exit__(None, None, None)


def _enters_a_with_block(caller: FrameType | None) -> bool:
    """Whether the caller's next instruction enters a ``with`` block on the value it is computing (CPython 3.10 to
    3.13 name that step SETUP_WITH or BEFORE_WITH; anything else, or another interpreter, reads as no)."""
    if caller is None:
        return False
    for instruction in dis.get_instructions(caller.f_code):
        if instruction.offset > caller.f_lasti:
            return instruction.opname in ("SETUP_WITH", "BEFORE_WITH")
    return False


atexit.register(_delete_open_blocks_at_exit)
