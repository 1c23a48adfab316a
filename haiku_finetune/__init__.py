"""haiku_finetune: fine-tune Anthropic Claude 3 Haiku in Amazon Bedrock, safely and testably.

The public surface is what ``__all__`` lists; everything else is private machinery.

This module is the package's face: it only hands names on, and defines nothing. Names load lazily (PEP 562):
``import haiku_finetune`` imports no AWS, pydantic or emulator code; ``haiku_finetune.CustomizationJob``
imports `haiku_finetune.jobs` on first use. No module of the package may import this one (a submodule
imports what it needs from the submodule that defines it), so the face can never take part in an import cycle.

To export a new public name, add it to `_EXPORTS` under the module that defines it, and to the
``TYPE_CHECKING`` block (so type checkers and IDEs see it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import datasets, evaluation, iam, search, storage, tracking
    from ._files import (
        UnsafePathError,
    )
    from ._retry import (
        RetryPolicy,
        is_retryable,
    )
    from ._signals import (
        TerminationSignal,
    )
    from ._transport import (
        BedrockTransport,
        get_default_transport,
        set_default_transport,
    )
    from .base_models import (
        BASE_MODEL_ID,
        CLAUDE_3_HAIKU,
        CLAUDE_HAIKU_4_5,
        DEFAULT_BASE_MODEL,
        BaseModelProfile,
        ProvisionalProfileWarning,
        get_profile,
        profiles,
        register_profile,
    )
    from .custom_model import (
        CustomModel,
    )
    from .datasets import (
        MAX_LINE_BYTES,
        MAX_TOKENS_PER_RECORD,
        MAX_TOTAL_RECORDS,
        MAX_TRAIN_BYTES,
        MAX_TRAIN_RECORDS,
        MAX_VALIDATION_BYTES,
        MAX_VALIDATION_RECORDS,
        MIN_RECORDS,
        RESERVED_STRINGS,
        BedrockTokenCounter,
        ConversionResult,
        DatasetBuilder,
        DatasetStats,
        EstimateTokenCounter,
        FilesValidationReport,
        TokenCounter,
        ValidationIssue,
        ValidationReport,
        check_record,
        convert_csv,
        convert_openai_chat,
        convert_prompt_completion,
        estimate_record_tokens,
        estimate_tokens,
        openai_chat_record,
        prompt_completion_record,
        records_from_rows,
        validate_file,
        validate_files,
        validate_stream,
    )
    from .deployment import (
        BillingWarning,
        ProvisionedDeployment,
        find_orphans,
    )
    from .early_stopping import (
        EarlyStoppingResult,
        simulate_early_stopping,
    )
    from .errors import (
        AccessDeniedError,
        CallFailedError,
        ConflictError,
        ConnectionFailedError,
        CredentialsError,
        DatasetValidationError,
        DeploymentError,
        HaikuFinetuneError,
        HermeticError,
        HyperparameterError,
        JobError,
        JobFailedError,
        JobStoppedError,
        MissingExtraError,
        ModelEndOfLifeError,
        ModelError,
        ModelNotReadyError,
        ModelTimeoutError,
        PlanCheckError,
        QuotaExceededError,
        ResourceNotFoundError,
        ServiceError,
        ServiceUnavailableError,
        ServiceValidationError,
        ThrottlingError,
        UnparseableResponseError,
        WaitTimeoutError,
    )
    from .evaluation import (
        EvaluationJob,
        EvaluationRecord,
        EvaluationReport,
        evaluate,
    )
    from .guard import (
        GuardHandle,
        SchedulerGuard,
        WatchdogGuard,
        ensure_scheduler_role,
        find_guard_schedules,
    )
    from .hyperparameters import (
        HYPERPARAMETER_RANGES,
        Hyperparameters,
        hyperparameter_ranges,
    )
    from .jobs import (
        CustomizationJob,
        JobEstimate,
        JobPlan,
        JobSpec,
        PlanCheck,
    )
    from .lifecycle import (
        LifecycleStage,
        LifecycleState,
        LifecycleWarning,
        lifecycle_state,
    )
    from .metrics import (
        TrainingMetrics,
    )
    from .model import (
        BatchStats,
        Completion,
        CompletionStream,
        FineTunedModel,
        Prompt,
        Usage,
    )
    from .pricing import (
        Pricing,
    )
    from .search import (
        SearchResult,
    )
    from .storage import (
        S3Uri,
    )
    from .tools import (
        Tool,
        ToolCall,
        ToolChoice,
        ToolResult,
    )
    from .tracking import (
        log_job_to_mlflow,
    )

#: Public name -> the submodule (relative to this package) that defines it. Submodules exported as
#: themselves are in :data:`_SUBMODULES`.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "tools": ("Tool", "ToolCall", "ToolChoice", "ToolResult"),
    "_files": ("UnsafePathError",),
    "_signals": ("TerminationSignal",),
    "_retry": (
        "RetryPolicy",
        "is_retryable",
    ),
    "_transport": (
        "BedrockTransport",
        "get_default_transport",
        "set_default_transport",
    ),
    "base_models": (
        "BASE_MODEL_ID",
        "CLAUDE_3_HAIKU",
        "CLAUDE_HAIKU_4_5",
        "DEFAULT_BASE_MODEL",
        "BaseModelProfile",
        "ProvisionalProfileWarning",
        "get_profile",
        "profiles",
        "register_profile",
    ),
    "custom_model": ("CustomModel",),
    "datasets": (
        "MAX_LINE_BYTES",
        "MAX_TOKENS_PER_RECORD",
        "MAX_TOTAL_RECORDS",
        "MAX_TRAIN_BYTES",
        "MAX_TRAIN_RECORDS",
        "MAX_VALIDATION_BYTES",
        "MAX_VALIDATION_RECORDS",
        "MIN_RECORDS",
        "RESERVED_STRINGS",
        "BedrockTokenCounter",
        "ConversionResult",
        "DatasetBuilder",
        "DatasetStats",
        "EstimateTokenCounter",
        "FilesValidationReport",
        "TokenCounter",
        "ValidationIssue",
        "ValidationReport",
        "check_record",
        "convert_csv",
        "convert_openai_chat",
        "convert_prompt_completion",
        "estimate_record_tokens",
        "estimate_tokens",
        "openai_chat_record",
        "prompt_completion_record",
        "records_from_rows",
        "validate_file",
        "validate_files",
        "validate_stream",
    ),
    "deployment": (
        "BillingWarning",
        "ProvisionedDeployment",
        "find_orphans",
    ),
    "early_stopping": (
        "EarlyStoppingResult",
        "simulate_early_stopping",
    ),
    "errors": (
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
    ),
    "evaluation": (
        "EvaluationJob",
        "EvaluationRecord",
        "EvaluationReport",
        "evaluate",
    ),
    "guard": (
        "GuardHandle",
        "SchedulerGuard",
        "WatchdogGuard",
        "ensure_scheduler_role",
        "find_guard_schedules",
    ),
    "hyperparameters": (
        "HYPERPARAMETER_RANGES",
        "Hyperparameters",
        "hyperparameter_ranges",
    ),
    "lifecycle": (
        "LifecycleStage",
        "LifecycleState",
        "LifecycleWarning",
        "lifecycle_state",
    ),
    "jobs": (
        "CustomizationJob",
        "JobEstimate",
        "JobPlan",
        "JobSpec",
        "PlanCheck",
    ),
    "metrics": ("TrainingMetrics",),
    "model": (
        "BatchStats",
        "Completion",
        "CompletionStream",
        "FineTunedModel",
        "Prompt",
        "Usage",
    ),
    "pricing": ("Pricing",),
    "search": ("SearchResult",),
    "storage": ("S3Uri",),
    "tracking": ("log_job_to_mlflow",),
}

#: Submodules that are public names themselves (``haiku_finetune.iam.ensure_service_role``).
_SUBMODULES: tuple[str, ...] = ("datasets", "evaluation", "iam", "search", "storage", "tracking")

_MODULE_OF: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}

# Literal, so linters and type checkers read it; tests/unit/test_public_api.py checks it matches _EXPORTS.
__all__ = [
    "BASE_MODEL_ID",
    "CLAUDE_3_HAIKU",
    "CLAUDE_HAIKU_4_5",
    "DEFAULT_BASE_MODEL",
    "HYPERPARAMETER_RANGES",
    "MAX_LINE_BYTES",
    "MAX_TOKENS_PER_RECORD",
    "MAX_TOTAL_RECORDS",
    "MAX_TRAIN_BYTES",
    "MAX_TRAIN_RECORDS",
    "MAX_VALIDATION_BYTES",
    "MAX_VALIDATION_RECORDS",
    "MIN_RECORDS",
    "RESERVED_STRINGS",
    "AccessDeniedError",
    "BaseModelProfile",
    "BatchStats",
    "BedrockTokenCounter",
    "BedrockTransport",
    "BillingWarning",
    "CallFailedError",
    "Completion",
    "CompletionStream",
    "ConflictError",
    "ConnectionFailedError",
    "ConversionResult",
    "CredentialsError",
    "CustomModel",
    "CustomizationJob",
    "DatasetBuilder",
    "DatasetStats",
    "DatasetValidationError",
    "DeploymentError",
    "EarlyStoppingResult",
    "EstimateTokenCounter",
    "EvaluationJob",
    "EvaluationRecord",
    "EvaluationReport",
    "FilesValidationReport",
    "FineTunedModel",
    "GuardHandle",
    "HaikuFinetuneError",
    "HermeticError",
    "HyperparameterError",
    "Hyperparameters",
    "JobError",
    "JobEstimate",
    "JobFailedError",
    "JobPlan",
    "JobSpec",
    "JobStoppedError",
    "LifecycleStage",
    "LifecycleState",
    "LifecycleWarning",
    "MissingExtraError",
    "ModelEndOfLifeError",
    "ModelError",
    "ModelNotReadyError",
    "ModelTimeoutError",
    "PlanCheck",
    "PlanCheckError",
    "Pricing",
    "Prompt",
    "ProvisionalProfileWarning",
    "ProvisionedDeployment",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "RetryPolicy",
    "S3Uri",
    "SchedulerGuard",
    "SearchResult",
    "ServiceError",
    "ServiceUnavailableError",
    "ServiceValidationError",
    "TerminationSignal",
    "ThrottlingError",
    "TokenCounter",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "TrainingMetrics",
    "UnparseableResponseError",
    "UnsafePathError",
    "Usage",
    "ValidationIssue",
    "ValidationReport",
    "WaitTimeoutError",
    "WatchdogGuard",
    "__version__",
    "check_record",
    "convert_csv",
    "convert_openai_chat",
    "convert_prompt_completion",
    "datasets",
    "ensure_scheduler_role",
    "estimate_record_tokens",
    "estimate_tokens",
    "evaluate",
    "evaluation",
    "find_guard_schedules",
    "find_orphans",
    "get_default_transport",
    "get_profile",
    "hyperparameter_ranges",
    "iam",
    "is_retryable",
    "lifecycle_state",
    "log_job_to_mlflow",
    "openai_chat_record",
    "profiles",
    "prompt_completion_record",
    "records_from_rows",
    "register_profile",
    "search",
    "set_default_transport",
    "simulate_early_stopping",
    "storage",
    "tracking",
    "validate_file",
    "validate_files",
    "validate_stream",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use, and remember the value."""
    module = _MODULE_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
