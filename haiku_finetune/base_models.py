"""One profile per base model: ids, regions, data limits, hyperparameter ranges, runtime rules, lifecycle.

Every fact the library knows about a base model lives here, once, with its source and whether it is confirmed.
Other modules read a `BaseModelProfile` (the default is `CLAUDE_3_HAIKU`, the seed's model) and
never keep their own copy. `CLAUDE_HAIKU_4_5` ships provisional: where a fact is not confirmed it takes the
conservative value (Claude 3 Haiku's), and `warn_if_provisional` says so once per process. A user can
describe a model the library does not ship and `register_profile` it.

This module does no I/O and imports nothing from the rest of the package. Lifecycle decisions (which state a
model is in on a date) live in `haiku_finetune.lifecycle`.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "BASE_MODEL_ID",
    "CLAUDE_3_HAIKU",
    "CLAUDE_HAIKU_4_5",
    "DEFAULT_BASE_MODEL",
    "BaseModelProfile",
    "DataLimits",
    "Fact",
    "HyperparameterRange",
    "ProvisionalProfileWarning",
    "RegionLifecycle",
    "RuntimeRules",
    "Source",
    "find_profile",
    "foundation_model_arn",
    "get_profile",
    "profiles",
    "register_profile",
    "warn_if_provisional",
]

#: The state a model card gives a model in a region.
LifecycleStatus = Literal["ACTIVE", "LEGACY", "EOL"]

_ARN = re.compile(r"arn:aws(?:-[a-z-]+)?:bedrock:(?P<region>[a-z0-9-]*):[0-9]*:foundation-model/(?P<id>.+)")
# A custom model's ARN names its base model (botocore's CustomModelArn pattern): custom-model/<base id>/<12 chars>,
# or custom-model/imported/<12 chars> for an imported model, which has none.
_CUSTOM_ARN = re.compile(r"arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]*:[0-9]{12}:custom-model/(?P<base>[^/]+)/[a-z0-9]{12}")


class ProvisionalProfileWarning(UserWarning):
    """A provisional base-model profile is in use: some of its facts are conservative guesses, not confirmed."""


@dataclass(frozen=True)
class Source:
    """Where a fact comes from.

    Attributes:
        citation: The document, page or notebook, precise enough to look up.
        confirmed: ``False`` when the value is a conservative choice no source states for this model.
    """

    citation: str
    confirmed: bool = True


@dataclass(frozen=True)
class Fact:
    """One fact of a profile, as `BaseModelProfile.facts` lists them (for docs and ``haiku-finetune models``)."""

    name: str
    value: object
    source: Source


@dataclass(frozen=True)
class HyperparameterRange:
    """The documented API key, default and inclusive range of one hyperparameter."""

    api_key: str
    default: float
    minimum: float
    maximum: float
    kind: type

    def describe(self) -> str:
        """Return the range as text, e.g. ``"a number from 0.1 to 2"``."""
        article = "an integer" if self.kind is int else "a number"
        return f"{article} from {_format_number(self.minimum)} to {_format_number(self.maximum)}"

    def brief(self) -> str:
        """Return the API key, range and default in a few characters, e.g. ``"epochCount, 1-10 (default 2)"``.

        For help texts (the CLI's flags), so that none spells the numbers out.
        """
        low, high, default = (_format_number(v) for v in (self.minimum, self.maximum, self.default))
        return f"{self.api_key}, {low}-{high} (default {default})"


@dataclass(frozen=True)
class DataLimits:
    """Training-data rules and limits for one base model.

    Attributes:
        min_records: Fewest records a training file may hold.
        max_train_records: Most records in the training file.
        max_validation_records: Most records in the validation file.
        max_total_records: Most training plus validation records (the default quota).
        max_tokens_per_record: Tokens in one record: system prompt plus every message.
        max_train_bytes: Size limit of the training file.
        max_validation_bytes: Size limit of the validation file.
        reserved_strings: Text that must not appear in a system prompt or message.
        allowed_record_keys: The only keys a record may have.
        allowed_message_keys: The only keys a message may have.
        text_only: ``content`` must be a plain string (no images, no content blocks).
    """

    min_records: int
    max_train_records: int
    max_validation_records: int
    max_total_records: int
    max_tokens_per_record: int
    max_train_bytes: int
    max_validation_bytes: int
    reserved_strings: tuple[str, ...]
    allowed_record_keys: frozenset[str]
    allowed_message_keys: frozenset[str]
    text_only: bool


@dataclass(frozen=True)
class RuntimeRules:
    """What an InvokeModel body for the model (or a fine-tune of it) may carry.

    Attributes:
        max_output_tokens: Largest ``max_tokens`` the model takes.
        anthropic_version: The ``anthropic_version`` the library sends.
        accepted_anthropic_versions: A regular expression for the values the service is taken to accept.
    """

    max_output_tokens: int
    anthropic_version: str
    accepted_anthropic_versions: str

    def accepts_anthropic_version(self, version: str) -> bool:
        """Return whether ``version`` is an ``anthropic_version`` this model's body rules accept."""
        return re.fullmatch(self.accepted_anthropic_versions, version) is not None


@dataclass(frozen=True)
class RegionLifecycle:
    """A model's lifecycle in a region, as its model card gives it.

    Dates decide where they are known; ``status`` is the state the card gave when it was read, and stands on any
    date no known date contradicts (the conservative reading). ``extended_access`` is the start of the part of
    the Legacy period billed at higher prices.
    """

    status: LifecycleStatus
    launched: date | None = None
    legacy: date | None = None
    extended_access: date | None = None
    end_of_life: date | None = None


@dataclass(frozen=True)
class BaseModelProfile:
    """What the library knows about one fine-tunable base model.

    Attributes:
        key: A short stable name, e.g. ``"claude-3-haiku"``.
        display_name: The model's name as AWS writes it.
        model_id: The base model identifier for ``CreateModelCustomizationJob``.
        invoke_model_id: The on-demand runtime model id, to compare a custom model against.
        anthropic_version: The ``anthropic_version`` the library sends (same as ``runtime.anthropic_version``).
        fine_tuning_regions: Regions where fine-tuning the model is documented; the first is the default.
        limits: Training-data rules and limits.
        hyperparameters: Ranges and defaults, by snake_case name.
        recommended_hyperparameters: Starting values a source recommends (snake_case), beyond the defaults.
        runtime: InvokeModel body rules.
        lifecycle: The lifecycle in the regions a source names.
        lifecycle_elsewhere: The lifecycle in every other region, or ``None`` where the model is not offered.
        lifecycle_as_of: When the lifecycle facts were read.
        successor: The key of the profile to move to at end of life, if any.
        provisional: Whether the profile as a whole is provisional (its use warns once per process).
        sources: The source of every fact, by the names `facts` uses.
    """

    key: str
    display_name: str
    model_id: str
    invoke_model_id: str
    fine_tuning_regions: tuple[str, ...]
    limits: DataLimits
    hyperparameters: Mapping[str, HyperparameterRange]
    runtime: RuntimeRules
    lifecycle: Mapping[str, RegionLifecycle]
    lifecycle_elsewhere: RegionLifecycle | None
    lifecycle_as_of: date
    sources: Mapping[str, Source]
    recommended_hyperparameters: Mapping[str, int | float] = field(default_factory=dict)
    successor: str | None = None
    provisional: bool = False

    @property
    def anthropic_version(self) -> str:
        """The ``anthropic_version`` the library sends in InvokeModel bodies."""
        return self.runtime.anthropic_version

    @property
    def default_region(self) -> str:
        """The first region where fine-tuning the model is documented."""
        return self.fine_tuning_regions[0]

    def arn(self, region: str | None = None) -> str:
        """Return the base model's foundation-model ARN in ``region`` (default: `default_region`)."""
        return foundation_model_arn(self.model_id, region or self.default_region)

    def region_lifecycle(self, region: str) -> RegionLifecycle | None:
        """Return the model's lifecycle in ``region`` as the profile knows it, ``None`` where it is not offered."""
        return self.lifecycle.get(region, self.lifecycle_elsewhere)

    def source(self, name: str) -> Source:
        """Return the source of the fact called ``name`` (a name `facts` lists)."""
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"profile {self.key!r} has no fact {name!r}") from None

    def facts(self) -> Iterator[Fact]:
        """Yield every fact of the profile with its source, in a stable order."""
        yield from (Fact(name, value, self.source(name)) for name, value in _fact_values(self))

    def unconfirmed(self) -> list[str]:
        """Return the names of the facts no source confirms for this model."""
        return [fact.name for fact in self.facts() if not fact.source.confirmed]


def _fact_values(profile: BaseModelProfile) -> Iterator[tuple[str, object]]:
    yield "model_id", profile.model_id
    yield "invoke_model_id", profile.invoke_model_id
    yield "fine_tuning_regions", profile.fine_tuning_regions
    for name in DataLimits.__dataclass_fields__:
        yield f"limits.{name}", getattr(profile.limits, name)
    for name, spec in profile.hyperparameters.items():
        yield f"hyperparameters.{name}", spec
    for name, value in profile.recommended_hyperparameters.items():
        yield f"recommended_hyperparameters.{name}", value
    for name in RuntimeRules.__dataclass_fields__:
        yield f"runtime.{name}", getattr(profile.runtime, name)
    for region, lifecycle in profile.lifecycle.items():
        yield f"lifecycle.{region}", lifecycle
    yield "lifecycle.elsewhere", profile.lifecycle_elsewhere
    yield "successor", profile.successor


def foundation_model_arn(model_id: str, region: str) -> str:
    """Return ``arn:aws:bedrock:<region>::foundation-model/<model_id>``."""
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


# -- the shipped profiles -------------------------------------------------------------------------------------

_DATA_DOCS = Source('AWS docs "Prepare your training datasets for fine-tuning", Claude 3 Haiku tabs')
_HP_DOCS = Source('AWS docs "Anthropic Claude 3 Haiku customization hyperparameters"')
_BLOG = Source('AWS ML blog "Fine-tune Anthropic\'s Claude 3 Haiku in Amazon Bedrock" (2024)')
_COOKBOOK_KEYS = Source("Anthropic's cookbook notebook for Bedrock fine-tuning: no keys besides system/messages")
_WORKSHOP = Source("aws-samples/amazon-bedrock-workshop sample validator rejects these strings")
_MESSAGES_API = Source('AWS docs "Anthropic Claude Messages API" (InvokeModel request body and output limit)')
_VERSIONS = Source(
    "not confirmed which values the service accepts; any date-shaped version passes, so what Anthropic's own "
    "AnthropicBedrock client sends is not refused (BEDROCK-FACTS.md, Runtime details)",
    confirmed=False,
)
_CARD_3 = Source('AWS model card "Claude 3 Haiku" (read 2026-12)')
_LEGACY_POLICY = Source(
    'derived, not stated: AWS docs "Model lifecycle (Legacy)" keep a model Legacy for at least 6 months before '
    "end of life, so Legacy is taken to start 6 months before the end-of-life date",
    confirmed=False,
)
_NOTEBOOK = Source(
    "Anthropic's notebook anthropics/claude-cookbooks finetuning/finetuning_on_bedrock.ipynb (current version); "
    "AWS's fine-tuning pages do not list it yet"
)
_CARD_45 = Source('AWS model card "Claude Haiku 4.5": launched 2025-10-16, Active, 200K context, 64K output')
_AS_CLAUDE_3 = Source("not confirmed for this model: Claude 3 Haiku's value, the conservative choice", confirmed=False)
_INVOKE_ID_45 = Source(
    "Bedrock's on-demand id for Claude Haiku 4.5 as Anthropic and AWS publish it; not in the sources stored here",
    confirmed=False,
)

_CLAUDE_3_LIMITS: Final = DataLimits(
    min_records=32,
    max_train_records=10_000,
    max_validation_records=1_000,
    max_total_records=10_000,
    max_tokens_per_record=32_000,
    max_train_bytes=10 * 1024**3,
    max_validation_bytes=1 * 1024**3,
    reserved_strings=("\nHuman:", "\nAssistant:"),
    allowed_record_keys=frozenset({"system", "messages"}),
    allowed_message_keys=frozenset({"role", "content"}),
    text_only=True,
)
_CLAUDE_3_RANGES: Final[Mapping[str, HyperparameterRange]] = MappingProxyType(
    {
        "epoch_count": HyperparameterRange("epochCount", 2, 1, 10, int),
        "batch_size": HyperparameterRange("batchSize", 32, 4, 256, int),
        "learning_rate_multiplier": HyperparameterRange("learningRateMultiplier", 1.0, 0.1, 2.0, float),
        "early_stopping_threshold": HyperparameterRange("earlyStoppingThreshold", 0.001, 0.0, 0.1, float),
        "early_stopping_patience": HyperparameterRange("earlyStoppingPatience", 2, 1, 10, int),
    }
)
_CLAUDE_3_EOL: Final = date(2026, 9, 10)


def _sources_for_limits(source: Source, overrides: Mapping[str, Source] = MappingProxyType({})) -> dict[str, Source]:
    names = {f"limits.{name}": source for name in DataLimits.__dataclass_fields__}
    names.update(overrides)
    return names


#: Claude 3 Haiku (200k context), the seed's model; fine-tuning documented in us-west-2.
CLAUDE_3_HAIKU: Final = BaseModelProfile(
    key="claude-3-haiku",
    display_name="Claude 3 Haiku",
    model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
    invoke_model_id="anthropic.claude-3-haiku-20240307-v1:0",
    fine_tuning_regions=("us-west-2",),
    limits=_CLAUDE_3_LIMITS,
    hyperparameters=_CLAUDE_3_RANGES,
    runtime=RuntimeRules(
        max_output_tokens=4096,
        anthropic_version="bedrock-2023-05-31",
        accepted_anthropic_versions=r"(bedrock-)?\d{4}-\d{2}-\d{2}",
    ),
    lifecycle=MappingProxyType(
        {
            "ca-central-1": RegionLifecycle("ACTIVE"),
            "eu-central-2": RegionLifecycle("ACTIVE"),
            "sa-east-1": RegionLifecycle("ACTIVE"),
            "ap-northeast-2": RegionLifecycle("LEGACY"),
        }
    ),
    lifecycle_elsewhere=RegionLifecycle("EOL", legacy=date(2026, 3, 10), end_of_life=_CLAUDE_3_EOL),
    lifecycle_as_of=date(2026, 12, 1),
    successor="claude-haiku-4-5",
    sources=MappingProxyType(
        {
            "model_id": _BLOG,
            "invoke_model_id": _CARD_3,
            "fine_tuning_regions": _BLOG,
            **_sources_for_limits(
                _DATA_DOCS,
                {
                    "limits.reserved_strings": _WORKSHOP,
                    "limits.allowed_record_keys": _COOKBOOK_KEYS,
                    "limits.allowed_message_keys": _COOKBOOK_KEYS,
                },
            ),
            **{f"hyperparameters.{name}": _HP_DOCS for name in _CLAUDE_3_RANGES},
            "runtime.max_output_tokens": _MESSAGES_API,
            "runtime.anthropic_version": _MESSAGES_API,
            "runtime.accepted_anthropic_versions": _VERSIONS,
            "lifecycle.ca-central-1": _CARD_3,
            "lifecycle.eu-central-2": _CARD_3,
            "lifecycle.sa-east-1": _CARD_3,
            "lifecycle.ap-northeast-2": Source(f"{_CARD_3.citation}; its end-of-life date there is not given"),
            "lifecycle.elsewhere": Source(
                f"{_CARD_3.citation}: end of life 2026-09-10 in most regions; the Legacy start (2026-03-10) is "
                "derived from the Legacy policy's 6-month minimum, not stated",
                confirmed=False,
            ),
            "successor": Source("the newest Haiku Anthropic fine-tunes on Bedrock (its notebook)", confirmed=False),
        }
    ),
)

_HAIKU_45_RECOMMENDED: Final[Mapping[str, int | float]] = MappingProxyType(
    {"epoch_count": 5, "batch_size": 4, "learning_rate_multiplier": 1.0}
)

#: Claude Haiku 4.5, provisional: Anthropic's notebook fine-tunes it in us-east-1; AWS's pages do not list it yet.
CLAUDE_HAIKU_4_5: Final = BaseModelProfile(
    key="claude-haiku-4-5",
    display_name="Claude Haiku 4.5",
    model_id="anthropic.claude-haiku-4-5-v1:0:200k",
    invoke_model_id="anthropic.claude-haiku-4-5-20251001-v1:0",
    fine_tuning_regions=("us-east-1",),
    limits=_CLAUDE_3_LIMITS,
    hyperparameters=_CLAUDE_3_RANGES,
    recommended_hyperparameters=_HAIKU_45_RECOMMENDED,
    runtime=RuntimeRules(
        max_output_tokens=64_000,
        anthropic_version="bedrock-2023-05-31",
        accepted_anthropic_versions=r"(bedrock-)?\d{4}-\d{2}-\d{2}",
    ),
    lifecycle=MappingProxyType({}),
    lifecycle_elsewhere=RegionLifecycle("ACTIVE", launched=date(2025, 10, 16)),
    lifecycle_as_of=date(2026, 12, 1),
    provisional=True,
    sources=MappingProxyType(
        {
            "model_id": _NOTEBOOK,
            "invoke_model_id": _INVOKE_ID_45,
            "fine_tuning_regions": _NOTEBOOK,
            **_sources_for_limits(
                _AS_CLAUDE_3,
                {
                    "limits.allowed_record_keys": Source(f"{_NOTEBOOK.citation}: the same training-data format"),
                    "limits.allowed_message_keys": Source(f"{_NOTEBOOK.citation}: the same training-data format"),
                },
            ),
            **{f"hyperparameters.{name}": _AS_CLAUDE_3 for name in _CLAUDE_3_RANGES},
            **{f"recommended_hyperparameters.{name}": _NOTEBOOK for name in _HAIKU_45_RECOMMENDED},
            "runtime.max_output_tokens": _CARD_45,
            "runtime.anthropic_version": _MESSAGES_API,
            "runtime.accepted_anthropic_versions": _VERSIONS,
            "lifecycle.elsewhere": _CARD_45,
            "successor": Source("none announced"),
        }
    ),
)

#: The profile used when none is given.
DEFAULT_BASE_MODEL: Final = CLAUDE_3_HAIKU

#: The default profile's fine-tuning base model id.
BASE_MODEL_ID: Final = DEFAULT_BASE_MODEL.model_id


# -- the registry ---------------------------------------------------------------------------------------------

_lock = threading.Lock()
_registry: dict[str, BaseModelProfile] = {p.key: p for p in (CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5)}
_warned: set[str] = set()


def register_profile(profile: BaseModelProfile, *, replace_existing: bool = False) -> BaseModelProfile:
    """Make ``profile`` known to `get_profile` (a model the library does not ship, or a corrected one).

    Args:
        profile: The profile. Every fact needs a source (`BaseModelProfile.facts` must not fail).
        replace_existing: Replace a registered profile with the same key or model id instead of refusing.

    Returns:
        The profile, for chaining.

    Raises:
        ValueError: A profile with the same key or model id is registered, or a fact has no source.
    """
    missing = [name for name, _ in _fact_values(profile) if name not in profile.sources]
    if missing:
        raise ValueError(f"profile {profile.key!r} gives no source for: {', '.join(missing)}")
    with _lock:
        clashes = [p.key for p in _registry.values() if p.key == profile.key or p.model_id == profile.model_id]
        if clashes and not replace_existing:
            raise ValueError(
                f"a base-model profile {clashes[0]!r} is already registered for this key or model id; "
                "pass replace_existing=True to replace it"
            )
        for key in clashes:
            del _registry[key]
        _registry[profile.key] = profile
    return profile


def profiles() -> list[BaseModelProfile]:
    """Return every registered profile, the shipped ones first."""
    with _lock:
        return list(_registry.values())


def find_profile(identifier: str) -> BaseModelProfile | None:
    """Return the profile for a key, a base or runtime model id, or a foundation-model ARN; ``None`` if unknown."""
    match = _ARN.fullmatch(identifier)
    wanted = match.group("id") if match else identifier
    with _lock:
        for profile in _registry.values():
            if wanted in (profile.key, profile.model_id, profile.invoke_model_id):
                return profile
    return None


def base_model_in_custom_model_arn(arn: str) -> str | None:
    """The base model id a custom model's ARN names (``None``: not a custom model's ARN, or an imported model)."""
    match = _CUSTOM_ARN.fullmatch(arn)
    return match.group("base") if match and match.group("base") != "imported" else None


def get_profile(identifier: str | BaseModelProfile | None = None) -> BaseModelProfile:
    """Return the profile for a key, a model id or a foundation-model ARN (``None``: `DEFAULT_BASE_MODEL`).

    A profile given as it is comes back unchanged, so callers can take either.

    Raises:
        ValueError: No registered profile matches; the message lists the known ones.
    """
    if identifier is None:
        return DEFAULT_BASE_MODEL
    if isinstance(identifier, BaseModelProfile):
        return identifier
    profile = find_profile(identifier)
    if profile is None:
        known = ", ".join(f"{p.key} ({p.model_id})" for p in profiles())
        raise ValueError(
            f"no base-model profile for {identifier!r}; known: {known}. Describe it with a BaseModelProfile and "
            "register_profile() it"
        )
    return profile


def warn_if_provisional(profile: BaseModelProfile, *, stacklevel: int = 2) -> None:
    """Warn once per process per profile that a provisional profile is in use, naming its unconfirmed facts.

    Call it where a profile starts to cost money or shape a request (a plan, a job, a deployment); looking a
    profile up does not warn.
    """
    if not profile.provisional:
        return
    with _lock:
        if profile.key in _warned:
            return
        _warned.add(profile.key)
    unconfirmed = profile.unconfirmed()
    warnings.warn(
        f"the base-model profile {profile.key!r} ({profile.display_name}) is provisional: "
        f"{len(unconfirmed)} facts are not confirmed and take conservative values ({', '.join(unconfirmed)}); "
        "see docs/base-models.md",
        ProvisionalProfileWarning,
        stacklevel=stacklevel + 1,
    )


def _forget_warnings() -> None:
    """Let every provisional profile warn again (for tests)."""
    with _lock:
        _warned.clear()


def _format_number(value: float) -> str:
    """Format a number the way the API takes it: no exponent, no trailing zeros (``0.001``, ``5``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".")
