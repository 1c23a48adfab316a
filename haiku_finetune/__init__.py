"""haiku_finetune: fine-tune Anthropic Claude 3 Haiku in Amazon Bedrock, safely and testably.

The public surface is what ``__all__`` lists; everything else is private machinery.

This module is the package's face: it only hands names on, and defines nothing. Names load lazily (PEP 562):
``import haiku_finetune`` imports no AWS, pydantic or emulator code; ``haiku_finetune.CustomizationJob``
imports `haiku_finetune.jobs` on first use. No module of the package may import this one (a submodule
imports what it needs from the submodule that defines it), so the face can never take part in an import cycle.

To export a new public name, add it to `_EXPORTS` under the module that defines it, and to the
``TYPE_CHECKING`` block (so type checkers and IDEs see it). The datasets toolkit and the exception classes are
handed on from `haiku_finetune.datasets.__all__` and `haiku_finetune.errors.__all__`, so they are listed there
only: both modules are light to import (datasets loads its own names lazily; errors imports only the stdlib).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import datasets, errors
from ._version import __version__

if TYPE_CHECKING:
    from . import evaluation, iam, search, storage, tracking
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
    from .datasets import *  # noqa: F403  (datasets.__all__ says what)
    from .deployment import (
        BillingWarning,
        ProvisionedDeployment,
    )
    from .early_stopping import (
        EarlyStoppingResult,
        simulate_early_stopping,
    )
    from .errors import *  # noqa: F403  (errors.__all__ says what)
    from .evaluation import (
        EvaluationJob,
        EvaluationRecord,
        EvaluationReport,
        ToolCallMatch,
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
    from .orphans import (
        Orphan,
        find_billed,
        find_orphans,
        stop_billing,
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
    "datasets": tuple(datasets.__all__),
    "deployment": (
        "BillingWarning",
        "ProvisionedDeployment",
    ),
    "early_stopping": (
        "EarlyStoppingResult",
        "simulate_early_stopping",
    ),
    # The exception classes; errors' raise_for_* helpers are for the transport, not the face.
    "errors": tuple(name for name in errors.__all__ if isinstance(getattr(errors, name), type)),
    "evaluation": (
        "EvaluationJob",
        "EvaluationRecord",
        "EvaluationReport",
        "ToolCallMatch",
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
    "orphans": (
        "Orphan",
        "find_billed",
        "find_orphans",
        "stop_billing",
    ),
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

# Literal where the face owns the list, so linters and type checkers read it; the datasets and errors names come
# from those modules' own ``__all__``. tests/unit/test_public_api.py checks it matches _EXPORTS.
__all__ = [
    "BASE_MODEL_ID",
    "CLAUDE_3_HAIKU",
    "CLAUDE_HAIKU_4_5",
    "DEFAULT_BASE_MODEL",
    "HYPERPARAMETER_RANGES",
    "BaseModelProfile",
    "BatchStats",
    "BedrockTransport",
    "BillingWarning",
    "Completion",
    "CompletionStream",
    "CustomModel",
    "CustomizationJob",
    "EarlyStoppingResult",
    "EvaluationJob",
    "EvaluationRecord",
    "EvaluationReport",
    "FineTunedModel",
    "GuardHandle",
    "Hyperparameters",
    "JobEstimate",
    "JobPlan",
    "JobSpec",
    "LifecycleStage",
    "LifecycleState",
    "LifecycleWarning",
    "Orphan",
    "PlanCheck",
    "Pricing",
    "Prompt",
    "ProvisionalProfileWarning",
    "ProvisionedDeployment",
    "RetryPolicy",
    "S3Uri",
    "SchedulerGuard",
    "SearchResult",
    "TerminationSignal",
    "Tool",
    "ToolCall",
    "ToolCallMatch",
    "ToolChoice",
    "ToolResult",
    "TrainingMetrics",
    "UnsafePathError",
    "Usage",
    "WatchdogGuard",
    "__version__",
    "datasets",
    "ensure_scheduler_role",
    "evaluate",
    "evaluation",
    "find_billed",
    "find_guard_schedules",
    "find_orphans",
    "get_default_transport",
    "get_profile",
    "hyperparameter_ranges",
    "iam",
    "is_retryable",
    "lifecycle_state",
    "log_job_to_mlflow",
    "profiles",
    "register_profile",
    "search",
    "set_default_transport",
    "simulate_early_stopping",
    "stop_billing",
    "storage",
    "tracking",
]
__all__ += datasets.__all__
__all__ += _EXPORTS["errors"]


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is an error, not ``Any``

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
