"""The exception tree of haiku_finetune: catch errors by what they mean, not by where they came from.

::

    HaikuFinetuneError                      every error this library raises on purpose
    ├── CallFailedError                     an AWS call failed: refused, or no answer (operation, attempts)
    │   ├── ServiceError                    an AWS service said no (operation, code, message, status, request id)
    │   │   ├── ThrottlingError             429 / botocore's throttle codes (retried)
    │   │   ├── ServiceUnavailableError     5xx / InternalServer / ServiceUnavailable (retried)
    │   │   ├── ModelNotReadyError          the model is still loading (retried)
    │   │   ├── ServiceValidationError      400 ValidationException and friends (not retried)
    │   │   ├── ResourceNotFoundError       404 / NoSuchKey / NoSuchEntity (not retried)
    │   │   │   └── ModelEndOfLifeError     the base model reached its end of life (names the date, the successor)
    │   │   ├── ConflictError               name taken, resource busy (not retried)
    │   │   ├── QuotaExceededError          a service quota or limit (not retried)
    │   │   ├── AccessDeniedError           403 (not retried)
    │   │   ├── ModelTimeoutError           408 from the runtime (not retried)
    │   │   ├── ModelError                  424 from the runtime: the model failed (not retried)
    │   │   └── UnparseableResponseError    the endpoint answered something botocore cannot parse (not retried)
    │   └── ConnectionFailedError           no answer at all: timeout, dropped connection, broken stream (retried)
    ├── CredentialsError                    no usable AWS credentials or profile: nothing was sent (not retried)
    ├── HermeticError                       LocalBedrock runs in this process: a call to real AWS was refused
    ├── DatasetValidationError              the training data breaks the rules (lists every problem)
    ├── HyperparameterError                 a hyperparameter is out of range (also a ValueError)
    ├── JobError                            a customization job did not produce a model
    │   ├── JobFailedError                  status Failed; carries the service's failure message
    │   └── JobStoppedError                 status Stopped
    ├── WaitTimeoutError                    a wait ran out of time; the remote resource keeps going
    ├── DeploymentError                     a provisioned deployment failed or was refused
    ├── PlanCheckError                      a preflight check failed, so nothing was submitted
    └── MissingExtraError                   an optional dependency is not installed (also an ImportError)

``raise_for_client_error`` is the one place a botocore ``ClientError`` becomes one of these; it raises
``from`` the original so the full botocore context stays in the traceback. The transport (the only module
that imports botocore) decides which botocore error goes to which of these functions. Catch
[`CallFailedError`][haiku_finetune.errors.CallFailedError] for "the call did not work, whatever the reason". This module
imports nothing
from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, NoReturn, TypedDict

__all__ = [
    "AccessDeniedError",
    "CallFailedError",
    "ConflictError",
    "ConnectionFailedError",
    "CredentialsError",
    "DatasetValidationError",
    "DeploymentError",
    "HaikuFinetuneError",
    "HermeticError",
    "HyperparameterError",
    "JobError",
    "JobFailedError",
    "JobStoppedError",
    "MissingExtraError",
    "ModelEndOfLifeError",
    "ModelError",
    "ModelNotReadyError",
    "ModelTimeoutError",
    "PlanCheckError",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "ServiceError",
    "ServiceUnavailableError",
    "ServiceValidationError",
    "ThrottlingError",
    "UnparseableResponseError",
    "WaitTimeoutError",
    "error_class_for",
    "raise_for_client_error",
    "raise_for_connection_error",
    "raise_for_unparseable_response",
]


class HaikuFinetuneError(Exception):
    """Base class of every error haiku_finetune raises on purpose."""


class CallFailedError(HaikuFinetuneError):
    """An AWS call failed: the service refused it ([`ServiceError`][haiku_finetune.errors.ServiceError]) or did not
    answer
    ([`ConnectionFailedError`][haiku_finetune.errors.ConnectionFailedError]). Catch this instead of a tuple of the two.

    Attributes:
        operation: The API operation, e.g. ``"InvokeModel"``.
        attempts: How many attempts were made before giving up (1 when it was not retried).
    """

    operation: str
    attempts: int


class CallContext(TypedDict):
    """The call a [`ServiceError`][haiku_finetune.errors.ServiceError] came from: what another error about the same
    call carries over (see [`ServiceError.call_context`][haiku_finetune.errors.ServiceError.call_context])."""

    operation: str
    code: str
    http_status: int | None
    request_id: str | None
    attempts: int


class ServiceError(CallFailedError):
    """An AWS service refused a call.

    Attributes:
        operation: The API operation, e.g. ``"CreateModelCustomizationJob"``.
        code: The service's error code, e.g. ``"ValidationException"``.
        message: The service's own message.
        http_status: The HTTP status code, when known.
        request_id: The AWS request id, for support cases.
        attempts: How many attempts were made before giving up (1 when it was not retried).
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        code: str,
        http_status: int | None = None,
        request_id: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.message = message
        self.operation = operation
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(message)

    @property
    def call_context(self) -> CallContext:
        """The call this error came from, for another error about the same call:
        ``OtherError(message, **error.call_context)``."""
        return CallContext(
            operation=self.operation,
            code=self.code,
            http_status=self.http_status,
            request_id=self.request_id,
            attempts=self.attempts,
        )

    def __str__(self) -> str:
        status = f", HTTP {self.http_status}" if self.http_status is not None else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.operation} failed{tries}: {self.code}{status}: {self.message}{rid}"


class ThrottlingError(ServiceError):
    """The service is rate-limiting the caller. Retried by the transport."""


class ServiceUnavailableError(ServiceError):
    """The service had an internal error or is unavailable (5xx). Retried by the transport."""


class ModelNotReadyError(ServiceError):
    """The model is not ready to serve yet. Retried by the transport."""


class ServiceValidationError(ServiceError):
    """The service rejected the request as invalid. Not retried: fix the request."""


class ResourceNotFoundError(ServiceError):
    """The named resource does not exist (or is not visible to the caller)."""


class ModelEndOfLifeError(ResourceNotFoundError):
    """The base model reached its end of life in the region: the service no longer trains or serves it.

    Built by ``haiku_finetune.lifecycle.end_of_life_error`` from the service's refusal ("This model version has
    reached the end of its life."), with the date and successor from the model's profile.

    Attributes:
        model_id: The model the call named, when known.
        region: The region of the call.
        end_of_life: The end-of-life date there, when known.
        successor: The key of the profile to move to (``haiku_finetune.base_models.get_profile(successor)``).
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        code: str = "ResourceNotFoundException",
        http_status: int | None = 404,
        request_id: str | None = None,
        attempts: int = 1,
        model_id: str | None = None,
        region: str | None = None,
        end_of_life: date | None = None,
        successor: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.region = region
        self.end_of_life = end_of_life
        self.successor = successor
        super().__init__(
            message, operation=operation, code=code, http_status=http_status, request_id=request_id, attempts=attempts
        )

    def __str__(self) -> str:
        model = self.model_id or "the model"
        where = f" in {self.region}" if self.region else ""
        when = f" on {self.end_of_life}" if self.end_of_life else ""
        move = (
            f"; move to the successor profile {self.successor!r} (see docs/migration.md)"
            if self.successor
            else "; see docs/migration.md"
        )
        return f"{super().__str__()} ({model} reached its end of life{where}{when}{move})"


class ConflictError(ServiceError):
    """The request conflicts with existing state: a name is taken or a resource is busy."""


class QuotaExceededError(ServiceError):
    """A service quota or limit was reached. Raise the quota in Service Quotas or free resources."""


class AccessDeniedError(ServiceError):
    """The caller (or the service role) lacks a permission."""


class ModelTimeoutError(ServiceError):
    """The model took too long to answer (HTTP 408)."""


class ModelError(ServiceError):
    """The model failed while answering (HTTP 424)."""


class UnparseableResponseError(ServiceError):
    """The endpoint answered with something botocore could not parse as the operation's response.

    Usually an endpoint (an emulator, a proxy) that does not implement the operation. Not retried.
    """


class ConnectionFailedError(CallFailedError):
    """No answer from the endpoint: a connection or read timeout, a dropped connection or a broken stream. Retried.

    A stream that breaks while being read is not replayed: the error then reaches the caller at once.

    Attributes:
        operation: The API operation that was attempted.
        attempts: How many attempts were made.
    """

    def __init__(self, message: str, *, operation: str, attempts: int = 1) -> None:
        self.message = message
        self.operation = operation
        self.attempts = attempts
        super().__init__(message)

    def __str__(self) -> str:
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.operation} failed{tries}: could not reach the endpoint: {self.message}"


class CredentialsError(HaikuFinetuneError):
    """botocore found no usable AWS credentials (or the named profile does not exist); nothing was sent.

    Attributes:
        operation: The API operation that was attempted (``""`` when the failure came before any: building the
            session for a named profile).
    """

    def __init__(self, message: str, *, operation: str) -> None:
        self.message = message
        self.operation = operation
        super().__init__(message)

    def __str__(self) -> str:
        what = f"{self.operation} was not sent" if self.operation else "AWS setup failed, nothing was sent"
        return (
            f"{what}: {self.message.rstrip('.: ')}. Check the profile and credentials (`aws configure list-profiles`, "
            "AWS_PROFILE, a failing credential_process, an expired `aws sso login`, or a boto3.Session given to "
            "BedrockTransport), or run against LocalBedrock"
        )


class HermeticError(HaikuFinetuneError):
    """A LocalBedrock runs in this process, so a request to a non-loopback address was refused before it was sent.

    Attributes:
        operation: ``service.Operation`` that was refused, e.g. ``"bedrock.CreateModelCustomizationJob"``.
        url: Where it would have gone (scheme and host).
    """

    def __init__(self, operation: str, url: str) -> None:
        self.operation = operation
        self.url = url
        super().__init__(
            f"LocalBedrock is running in this process: refusing to send {operation} to {url}; "
            "pass transport=local.transport()"
        )


class DatasetValidationError(HaikuFinetuneError, ValueError):
    """Training or validation data breaks the rules for Claude 3 Haiku fine-tuning.

    Attributes:
        issues: The problems found (objects with ``code``, ``line`` and ``message``).
        report: The full validation report, when the error came from one.
    """

    def __init__(self, message: str, *, issues: Sequence[Any] = (), report: Any = None) -> None:
        self.issues = list(issues)
        self.report = report
        super().__init__(message)


class HyperparameterError(HaikuFinetuneError, ValueError):
    """A hyperparameter is missing, of the wrong type, or outside its documented range.

    Attributes:
        field: The hyperparameter's name (snake_case), or ``None`` for a problem with the whole set.
        value: The offending value.
    """

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        self.field = field
        self.value = value
        super().__init__(message)


class JobError(HaikuFinetuneError):
    """A customization job ended without producing a model.

    Attributes:
        job_arn: The job's ARN.
        status: The job's final status.
    """

    def __init__(self, message: str, *, job_arn: str, status: str) -> None:
        self.job_arn = job_arn
        self.status = status
        super().__init__(message)


class JobFailedError(JobError):
    """The job failed. ``failure_message`` holds the service's explanation (often naming a data line)."""

    def __init__(self, message: str, *, job_arn: str, failure_message: str | None) -> None:
        self.failure_message = failure_message
        super().__init__(message, job_arn=job_arn, status="Failed")


class JobStoppedError(JobError):
    """The job was stopped before it finished."""

    def __init__(self, message: str, *, job_arn: str) -> None:
        super().__init__(message, job_arn=job_arn, status="Stopped")


class WaitTimeoutError(HaikuFinetuneError, TimeoutError):
    """Waiting ran out of time. The remote resource is untouched and keeps going.

    Attributes:
        resource: What was being waited on (an ARN or name).
        last_status: The last status seen.
        waited: Seconds waited.
    """

    def __init__(self, message: str, *, resource: str, last_status: str | None, waited: float) -> None:
        self.resource = resource
        self.last_status = last_status
        self.waited = waited
        super().__init__(message)


class DeploymentError(HaikuFinetuneError):
    """A provisioned deployment failed, or an operation on it was refused to protect the caller."""


class PlanCheckError(HaikuFinetuneError):
    """A preflight check failed, so nothing was submitted. ``plan`` holds every check and its outcome."""

    def __init__(self, message: str, *, plan: Any = None) -> None:
        self.plan = plan
        super().__init__(message)


class MissingExtraError(HaikuFinetuneError, ImportError):
    """An optional dependency is not installed. The message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(f"{feature} needs the optional dependency {module!r}: pip install 'haiku-finetune[{extra}]'")


# Error codes by meaning. Codes of bedrock and bedrock-runtime come from botocore's service models; the
# S3, IAM and STS codes are the ones this library meets while staging data and setting up roles.
_CODES: Mapping[type[ServiceError], Iterable[str]] = {
    # botocore's own list (botocore/retries/standard.py, ThrottlingErrorDetector): LimitExceededException
    # is throttling there, so it is here; IAM's quota code is the different "LimitExceeded".
    ThrottlingError: (
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    ),
    ServiceUnavailableError: (
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ServiceFailure",
    ),
    ModelNotReadyError: ("ModelNotReadyException",),
    ServiceValidationError: (
        "ValidationException",
        "ValidationError",
        "TooManyTagsException",
        "InvalidRequest",
        "InvalidArgument",
        "InvalidParameterValue",
        "MalformedPolicyDocument",
        "MalformedPolicyDocumentException",
        "InvalidInput",
        "BadDigest",
    ),
    ResourceNotFoundError: (
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchEntity",
        "NotFound",
        "404",
    ),
    ConflictError: (
        "ConflictException",
        "ResourceInUseException",
        "EntityAlreadyExists",
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
    ),
    QuotaExceededError: ("ServiceQuotaExceededException", "LimitExceeded"),
    AccessDeniedError: ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "403"),
    ModelTimeoutError: ("ModelTimeoutException",),
    ModelError: ("ModelErrorException", "ModelStreamErrorException"),
}
_CLASS_BY_CODE: dict[str, type[ServiceError]] = {code: cls for cls, codes in _CODES.items() for code in codes}


def error_class_for(code: str, http_status: int | None = None) -> type[ServiceError]:
    """Return the error class for a service error code, falling back on the HTTP status.

    Args:
        code: The error code the service returned.
        http_status: The HTTP status, used when the code is unknown.

    Returns:
        The most specific [`ServiceError`][haiku_finetune.errors.ServiceError] subclass, or
        [`ServiceError`][haiku_finetune.errors.ServiceError] itself.
    """
    # Errors inside an event stream name their type in lower camel case ("throttlingException").
    cls = _CLASS_BY_CODE.get(code) or _CLASS_BY_CODE.get(code[:1].upper() + code[1:])
    if cls is not None:
        return cls
    if http_status is None:
        return ServiceError
    if http_status == 429:
        return ThrottlingError
    if http_status >= 500:
        return ServiceUnavailableError
    return {404: ResourceNotFoundError, 403: AccessDeniedError, 409: ConflictError}.get(http_status, ServiceError)


def raise_for_client_error(error: Exception, operation: str, *, attempts: int = 1) -> NoReturn:
    """Raise the [`ServiceError`][haiku_finetune.errors.ServiceError] subclass that matches a botocore ``ClientError``,
    ``from`` it.

    Args:
        error: A ``botocore.exceptions.ClientError`` (or anything with the same ``response`` dict).
        operation: The API operation that failed.
        attempts: How many attempts were made.

    Raises:
        ServiceError: Always; the subclass names the meaning of the error.
    """
    response: Mapping[str, Any] = getattr(error, "response", None) or {}
    body = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    code = str(body.get("Code") or (str(status) if status else "Unknown"))
    message = str(body.get("Message") or error)
    cls = error_class_for(code, status if isinstance(status, int) else None)
    raise cls(
        message,
        operation=operation,
        code=code,
        http_status=status if isinstance(status, int) else None,
        request_id=meta.get("RequestId") or None,
        attempts=attempts,
    ) from error


def raise_for_connection_error(error: Exception, operation: str, *, attempts: int = 1) -> NoReturn:
    """Raise [`ConnectionFailedError`][haiku_finetune.errors.ConnectionFailedError] for a botocore connection-level
    error, ``from`` it."""
    raise ConnectionFailedError(str(error), operation=operation, attempts=attempts) from error


def raise_for_unparseable_response(error: Exception, operation: str) -> NoReturn:
    """Raise [`UnparseableResponseError`][haiku_finetune.errors.UnparseableResponseError] for an answer botocore could
    not parse, ``from`` it."""
    raise UnparseableResponseError(
        f"the endpoint answered with something that is not a {operation} response (does it implement "
        f"{operation}?): {error}",
        operation=operation,
        code="UnparseableResponse",
    ) from error
