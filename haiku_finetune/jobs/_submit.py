"""Submitting a job: staging local data by content, the CreateModelCustomizationJob request, and a create that
survives a lost answer.

The job's name is fixed (and logged) before the call, and every attempt carries the same
``clientRequestToken``, derived from the request itself: an attempt whose answer was lost, or a ``create()``
repeated with the same name and data, gets the job the first one made, never a second one. When the answer
is lost for good (no connection after the transport's retries), the call is interrupted (Ctrl-C) or the name
is reported taken, the job is looked up by name; if it carries this request's token it is returned. When
that cannot be found out, the error names the job and the exact AWS CLI commands to look it up or stop it.

One narrow retry lives here, documented in [`haiku_finetune.iam`][haiku_finetune.iam]: right after
[`ensure_service_role`][haiku_finetune.iam.ensure_service_role] created or changed a role, Bedrock may refuse the create
because the role cannot be assumed *yet*. That refusal is retried through [`RetryPolicy`][haiku_finetune.RetryPolicy]
(same token, backoff from 5 s to 30 s) until the role's propagation window (2 min on the transport's clock)
has passed. Everything else is retried only by the transport. This module never sleeps itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import iam, storage
from .._tags import with_library_tag
from .._transport import BedrockTransport
from ..datasets import DatasetBuilder
from ..errors import (
    CallFailedError,
    ConflictError,
    ConnectionFailedError,
    PlanCheckError,
    ResourceNotFoundError,
    ServiceError,
)
from ..storage import S3Uri
from ._spec import Inputs
from ._staging import confirm_staged, content_uri, facts_from_head, file_sha256, head_with_checksum, sha256_hex
from .plan import DatasetInfo, _Data

__all__ = ["build_request", "read_s3_facts", "request_token", "stage", "submit"]

_log = logging.getLogger(__name__)

# Tags the library adds to jobs so a manifest can be rebuilt after re-attaching.
TAG_PREFIX = "haiku-finetune:"

# Bounded by the propagation window (time), not by this count; it only has to be large enough never to bind.
_PROPAGATION_ATTEMPTS = 100
_OPERATION = "CreateModelCustomizationJob"


# -- staging ----------------------------------------------------------------------------------------------


def stage(inputs: Inputs, datasets: list[_Data], *, validate: bool, t: BedrockTransport) -> dict[str, DatasetInfo]:
    """Upload local data to ``<staging_uri>/<sha256>/<split>.jsonl`` and confirm it; return every dataset's info.

    Data already at its content address (the same bytes staged before) is not uploaded again.

    Raises:
        PlanCheckError: Local data but no ``staging_uri``, or the staged object does not hold the validated bytes.
    """
    infos: dict[str, DatasetInfo] = {}
    for data in datasets:
        key = "training" if data.split == "train" else "validation"
        if not data.info.local:
            infos[key] = read_s3_facts(data.info, t)
            continue
        if inputs.staging_uri is None:  # the local checks refuse this unless skip_checks
            raise PlanCheckError(f"{key} data is local: give staging_uri=s3://... to upload it to")
        with tempfile.TemporaryDirectory(prefix="haiku-finetune-") as tmp:
            path = data.path
            if path is None:
                if not isinstance(data.source, DatasetBuilder):
                    raise TypeError(f"a dataset must be a path or a DatasetBuilder, got {type(data.source).__name__}")
                # Written without the builder's own check: it was validated by the plan, or is validated below.
                path = data.source.write(Path(tmp) / f"{data.split}.jsonl", split=data.split, allow_invalid=True)
            infos[key] = _stage_one(inputs, data, path, validate=validate, t=t)
    return infos


def _stage_one(inputs: Inputs, data: _Data, path: Path, *, validate: bool, t: BedrockTransport) -> DatasetInfo:
    assert inputs.staging_uri is not None
    sha, size = file_sha256(path), path.stat().st_size
    target = content_uri(inputs.staging_uri, sha, data.split)
    head = head_with_checksum(target, t)
    if head is not None and sha256_hex(head.get("ChecksumSHA256")) == sha:
        if validate:  # skip_checks: the data was not validated by the plan, and is not uploaded again
            storage.validate_dataset_file(path, split=data.split)
        _log.info("%s data is already staged at %s (same SHA-256); not uploading it again", data.split, target)
        facts = facts_from_head(head)
        records = facts["records"] if facts["records"] is not None else data.info.records
    else:
        # Conditional: an object already at the key is reused when it holds these bytes and never replaced.
        staged = storage.stage_dataset(
            path,
            target,
            split=data.split,
            kms_key_id=inputs.spec.kms_key_id,
            validate=validate,
            if_absent=True,
            transport=t,
        )
        sha, size = staged.sha256, staged.size
        records = staged.records if staged.records is not None else data.info.records
    confirm_staged(target, sha, size, t)
    return data.info.model_copy(update={"uri": str(target), "sha256": sha, "size": size, "records": records})


def read_s3_facts(info: DatasetInfo, t: BedrockTransport) -> DatasetInfo:
    """Add what S3 knows about a dataset (SHA-256, record count, size) for the manifest; never fails the create.

    The service reads the data itself and refuses a job whose data is missing, so a lookup that does not work
    here only leaves the details unknown, with the reason in ``note``.
    """
    if info.uri is None:
        return info
    try:
        head = head_with_checksum(S3Uri(info.uri), t)
    except CallFailedError as error:
        return info.model_copy(update={"note": f"not known: could not read the object's checksum ({error})"})
    if head is None:
        return info.model_copy(update={"note": f"not known: {info.uri} was not found"})
    return info.model_copy(update=facts_from_head(head))


# -- the request ------------------------------------------------------------------------------------------


def build_request(inputs: Inputs, infos: Mapping[str, DatasetInfo]) -> dict[str, Any]:
    """Build the CreateModelCustomizationJob request (without the idempotency token)."""
    training = infos["training"]
    request: dict[str, Any] = {
        "jobName": inputs.job_name,
        "customModelName": inputs.custom_model_name,
        "roleArn": inputs.role_arn,
        "baseModelIdentifier": inputs.base_model,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": training.uri},
        "outputDataConfig": {"s3Uri": inputs.output_uri},
    }
    validation = infos.get("validation")
    if validation is not None:
        request["validationDataConfig"] = {"validators": [{"s3Uri": validation.uri}]}
    sent = inputs.hyperparameters.to_api()
    if sent:
        request["hyperParameters"] = sent
    spec = inputs.spec  # what normalizing leaves as given
    if spec.kms_key_id:
        request["customModelKmsKeyId"] = spec.kms_key_id
    if inputs.vpc_config is not None:
        request["vpcConfig"] = inputs.vpc_config
    job_tags = dict(spec.job_tags or {})
    for key, info in infos.items():
        if info.sha256:
            job_tags.setdefault(f"{TAG_PREFIX}{key}-sha256", info.sha256)
        if info.records is not None:
            job_tags.setdefault(f"{TAG_PREFIX}{key}-records", str(info.records))
    request["jobTags"] = with_library_tag(job_tags)
    request["customModelTags"] = with_library_tag(spec.model_tags)
    return request


def request_token(request: Mapping[str, Any]) -> str:
    """Return the ``clientRequestToken`` for ``request``: a digest of it, so the same request gets the same token.

    A create repeated after its answer was lost (same name, same data, same settings) is then the same
    request to Bedrock, which answers with the job the first one made.
    """
    canonical = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- submitting -------------------------------------------------------------------------------------------


def submit(t: BedrockTransport, request: Mapping[str, Any], token: str, role_arn: str) -> dict[str, Any]:
    """Create the job; when the answer is lost, interrupted or the name is taken, find it by name.

    Returns:
        ``{"jobArn": ...}``: from the create's answer, or from the job found by name with this token.

    Raises:
        ConflictError: The name belongs to another job (not made by this request).
        ConnectionFailedError: No answer, and the lookup could not tell whether the job exists; the message
            names the job and the AWS CLI commands to check or stop it.
        KeyboardInterrupt: Ctrl-C, and the job was not found (the commands are logged).
    """
    name = str(request["jobName"])
    _log.info("creating customization job %s (clientRequestToken %s)", name, token)
    try:
        return _create(t, request, token, role_arn)
    except ConnectionFailedError as error:
        found = _lookup_or_explain(t, name, token, error)
        if found is None:
            raise ConnectionFailedError(
                f"no answer to {_OPERATION} for job {name}, and no job of that name exists: it was not created. "
                f"create() can be retried with the same arguments. To check: {_commands(name)[0]}",
                operation=_OPERATION,
                attempts=error.attempts,
            ) from error
        _log.warning("the answer to %s was lost; found job %s by name (%s)", _OPERATION, name, found["jobArn"])
        return {"jobArn": found["jobArn"]}
    except ConflictError as error:
        try:
            found = _find(t, name)
        except CallFailedError:
            raise error from None
        # Strict here: a job that does not report its token may be anyone's, and the name is taken either way.
        if found is None or found.get("clientRequestToken") != token:
            raise
        _log.info("job %s already exists from this same request (an earlier answer was lost); attaching", name)
        return {"jobArn": found["jobArn"]}
    except KeyboardInterrupt as interrupt:
        check, stop = _commands(name)
        _log.warning("interrupted while creating job %s; looking it up by name (to check: %s)", name, check)
        try:
            found = _find(t, name)
        except CallFailedError:
            _log.warning(
                "could not find out whether job %s was created: check with %s; stop it with %s", name, check, stop
            )
            raise interrupt from None
        if found is None or not _is_ours(found, token):
            _log.warning("job %s was not created by this request (no job of that name carries its token)", name)
            raise
        _log.warning("job %s was created before the interrupt (%s); stop it with %s", name, found["jobArn"], stop)
        return {"jobArn": found["jobArn"]}


def _create(t: BedrockTransport, request: Mapping[str, Any], token: str, role_arn: str) -> dict[str, Any]:
    def call() -> dict[str, Any]:
        return t.call("bedrock", _OPERATION, clientRequestToken=token, **request)

    window = iam.propagation_window(role_arn, t.clock)
    if window <= 0:
        return call()
    # The same token goes with every attempt, so a create that did reach the service is never made twice.
    policy = dataclasses.replace(
        t.retry, max_attempts=_PROPAGATION_ATTEMPTS, initial_backoff=5.0, max_backoff=30.0, total_timeout=window
    )
    try:
        return policy.run(_OPERATION, call, retry_if=iam.is_role_propagation_refusal)
    except ServiceError as error:
        if iam.is_role_propagation_refusal(error):
            error.message += (
                " (if the role was created moments ago, IAM may still be propagating it: retry in a "
                "minute; otherwise check its trust policy with haiku_finetune.iam.trust_admits_bedrock)"
            )
        raise


def _find(t: BedrockTransport, name: str) -> dict[str, Any] | None:
    try:
        return t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=name)
    except ResourceNotFoundError:
        return None


def _is_ours(found: Mapping[str, Any], token: str) -> bool:
    # A service that does not report the token cannot be asked; the name alone then decides.
    reported = found.get("clientRequestToken")
    return reported is None or reported == token


def _lookup_or_explain(
    t: BedrockTransport, name: str, token: str, lost: ConnectionFailedError
) -> dict[str, Any] | None:
    check, stop = _commands(name)
    try:
        found = _find(t, name)
    except CallFailedError as error:
        raise ConnectionFailedError(
            f"no answer to {_OPERATION} for job {name}, and looking it up failed too ({error}): it may or may "
            f"not have been created. Check with: {check} ; if it is running and unwanted: {stop}",
            operation=_OPERATION,
            attempts=lost.attempts,
        ) from lost
    if found is not None and not _is_ours(found, token):
        raise ConflictError(
            f"no answer to {_OPERATION}, and a job called {name} exists but was made by another request "
            f"(clientRequestToken differs). Check with: {check}",
            operation=_OPERATION,
            code="ConflictException",
        ) from lost
    return found


def _commands(name: str) -> tuple[str, str]:
    return (
        f"aws bedrock get-model-customization-job --job-identifier {name}",
        f"aws bedrock stop-model-customization-job --job-identifier {name}",
    )
