"""haiku_finetune: fine-tune Anthropic Claude 3 Haiku in Amazon Bedrock, safely and testably.

The public surface is what ``__all__`` lists; everything else is private machinery.
"""

from . import datasets, evaluation, iam, search, storage
from ._retry import RetryPolicy, is_retryable
from ._transport import BedrockTransport, get_default_transport, set_default_transport
from .custom_model import CustomModel
from .datasets import (
    DatasetBuilder,
    ValidationIssue,
    ValidationReport,
    estimate_tokens,
    validate_file,
    validate_files,
)
from .deployment import BillingWarning, ProvisionedDeployment, find_orphans
from .early_stopping import EarlyStoppingResult, simulate_early_stopping
from .errors import (
    AccessDeniedError,
    ConflictError,
    ConnectionFailedError,
    CredentialsError,
    DatasetValidationError,
    DeploymentError,
    HaikuFinetuneError,
    HyperparameterError,
    JobError,
    JobFailedError,
    JobStoppedError,
    MissingExtraError,
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
    WaitTimeoutError,
)
from .evaluation import EvaluationReport, evaluate
from .hyperparameters import HYPERPARAMETER_RANGES, Hyperparameters
from .jobs import CustomizationJob, JobEstimate, JobPlan, PlanCheck
from .metrics import TrainingMetrics
from .model import BatchStats, Completion, CompletionStream, FineTunedModel, Prompt, Usage
from .pricing import Pricing
from .search import SearchResult
from .storage import S3Uri

__version__ = "0.1.0.dev0"

#: The Bedrock base model id for fine-tuning Claude 3 Haiku (200k context variant).
BASE_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"

__all__ = [
    "BASE_MODEL_ID",
    "HYPERPARAMETER_RANGES",
    "AccessDeniedError",
    "BatchStats",
    "BedrockTransport",
    "BillingWarning",
    "Completion",
    "CompletionStream",
    "ConflictError",
    "ConnectionFailedError",
    "CredentialsError",
    "CustomModel",
    "CustomizationJob",
    "DatasetBuilder",
    "DatasetValidationError",
    "DeploymentError",
    "EarlyStoppingResult",
    "EvaluationReport",
    "FineTunedModel",
    "HaikuFinetuneError",
    "HyperparameterError",
    "Hyperparameters",
    "JobError",
    "JobEstimate",
    "JobFailedError",
    "JobPlan",
    "JobStoppedError",
    "MissingExtraError",
    "ModelError",
    "ModelNotReadyError",
    "ModelTimeoutError",
    "PlanCheck",
    "PlanCheckError",
    "Pricing",
    "Prompt",
    "ProvisionedDeployment",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "RetryPolicy",
    "S3Uri",
    "SearchResult",
    "ServiceError",
    "ServiceUnavailableError",
    "ServiceValidationError",
    "ThrottlingError",
    "TrainingMetrics",
    "Usage",
    "ValidationIssue",
    "ValidationReport",
    "WaitTimeoutError",
    "__version__",
    "datasets",
    "estimate_tokens",
    "evaluate",
    "evaluation",
    "find_orphans",
    "get_default_transport",
    "iam",
    "is_retryable",
    "search",
    "set_default_transport",
    "simulate_early_stopping",
    "storage",
    "validate_file",
    "validate_files",
]
