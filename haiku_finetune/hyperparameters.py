"""Hyperparameters for fine-tuning Claude 3 Haiku: documented defaults and ranges, checked before any call.

The API takes hyperparameters as a map of strings with camelCase keys;
[`Hyperparameters.to_api`][haiku_finetune.hyperparameters.Hyperparameters.to_api] and
[`Hyperparameters.from_api`][haiku_finetune.hyperparameters.Hyperparameters.from_api] convert. Ranges come from the
Bedrock documentation page "Anthropic Claude 3
Haiku customization hyperparameters". This module does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from .base_models import DEFAULT_BASE_MODEL, BaseModelProfile, HyperparameterRange, get_profile
from .errors import HyperparameterError

__all__ = [
    "HYPERPARAMETER_RANGES",
    "HyperparameterRange",
    "Hyperparameters",
    "check_for_profile",
    "correct_hyperparameters",
    "hyperparameter_ranges",
    "recommended_values",
]


#: Documented ranges of the default base model (Claude 3 Haiku), by snake_case field name; from its profile.
HYPERPARAMETER_RANGES: Mapping[str, HyperparameterRange] = DEFAULT_BASE_MODEL.hyperparameters


def hyperparameter_ranges(base_model: BaseModelProfile | str | None = None) -> Mapping[str, HyperparameterRange]:
    """Return a base model's hyperparameter ranges and defaults, by snake_case name.

    Args:
        base_model: A profile, its key, a model id or ARN (``None``: the default, Claude 3 Haiku).

    Raises:
        ValueError: No profile matches ``base_model``.
    """
    return get_profile(base_model).hyperparameters


_FIELD_BY_API_KEY = {r.api_key: name for name, r in HYPERPARAMETER_RANGES.items()}


class Hyperparameters(BaseModel):
    """The hyperparameters of a Claude 3 Haiku fine-tuning job.

    Every field defaults to the documented default. A value of the wrong type or outside its range raises
    [`HyperparameterError`][haiku_finetune.errors.HyperparameterError] naming the field, the value and the allowed
    range.

    The ranges and defaults below are Claude 3 Haiku's; another base model's are in its profile.

    Attributes:
        epoch_count: Passes over the training data (1–10, default 2).
        batch_size: Records per training step (4–256, default 32).
        learning_rate_multiplier: Scales the base learning rate (0.1–2, default 1).
        early_stopping_threshold: Smallest validation-loss improvement that counts (0–0.1, default 0.001).
        early_stopping_patience: Epochs without improvement before stopping (1–10, default 2).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    epoch_count: int = 2
    batch_size: int = 32
    learning_rate_multiplier: float = 1.0
    early_stopping_threshold: float = 0.001
    early_stopping_patience: int = 2

    def __init__(self, **values: Any) -> None:
        for name, value in values.items():
            _check(name, value)
        super().__init__(**values)

    def to_api(self) -> dict[str, str]:
        """Return the camelCase map of strings that ``CreateModelCustomizationJob`` takes.

        Only the fields that were set explicitly are sent, so the service applies its own documented
        defaults to the rest exactly as it would for a console user.
        [`resolved`][haiku_finetune.hyperparameters.Hyperparameters.resolved] shows every value.
        """
        return {
            HYPERPARAMETER_RANGES[name].api_key: _format(getattr(self, name))
            for name in HYPERPARAMETER_RANGES
            if name in self.model_fields_set
        }

    def resolved(self) -> dict[str, int | float]:
        """Return every hyperparameter's effective value (explicit or default), snake_case keys."""
        return {name: getattr(self, name) for name in HYPERPARAMETER_RANGES}

    @classmethod
    def from_api(cls, values: Mapping[str, str | int | float]) -> Hyperparameters:
        """Read a camelCase map (as the API returns it, values usually strings) back into the model.

        Raises:
            HyperparameterError: An unknown key, a value that is not a number, or one out of range.
        """
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            name = _FIELD_BY_API_KEY.get(key)
            if name is None:
                known = ", ".join(sorted(_FIELD_BY_API_KEY))
                raise HyperparameterError(
                    f"unknown hyperparameter {key!r}; Claude 3 Haiku takes {known}", field=None, value=raw
                )
            parsed[name] = _parse(name, raw)
        return cls(**parsed)


def correct_hyperparameters(values: Mapping[str, str]) -> tuple[Hyperparameters, list[str]]:
    """Bring API-style hyperparameter strings into their documented ranges, saying what changed.

    Each value outside its range is moved to the nearest bound (``learningRateMultiplier`` 0.05 becomes the
    minimum, 0.1).

    Args:
        values: camelCase keys and string values, as ``CreateModelCustomizationJob`` takes them.

    Returns:
        The corrected [`Hyperparameters`][haiku_finetune.hyperparameters.Hyperparameters] and one sentence per
        correction.

    Raises:
        HyperparameterError: An unknown key or a value that is not a number.
    """
    by_key = {spec.api_key: name for name, spec in HYPERPARAMETER_RANGES.items()}
    fixed: dict[str, int | float] = {}
    notes: list[str] = []
    for key, raw in values.items():
        name = by_key.get(key)
        if name is None:
            raise HyperparameterError(f"unknown hyperparameter {key!r}", field=None, value=raw)
        spec = HYPERPARAMETER_RANGES[name]
        try:
            number = float(raw)
        except ValueError:
            raise HyperparameterError(f"{key} = {raw!r} is not a number", field=name, value=raw) from None
        bounded = min(max(number, spec.minimum), spec.maximum)
        if bounded != number:
            side = "below the documented minimum" if number < spec.minimum else "above the documented maximum"
            notes.append(f"{key} = {raw} is {side} ({spec.describe()}): using {bounded:g}")
        fixed[name] = int(bounded) if spec.kind is int else bounded
    return Hyperparameters(**fixed), notes


def recommended_values(profile: BaseModelProfile | str | None) -> str:
    """The profile's recommended starting values (its defaults where no source recommends), as one clause."""
    resolved = get_profile(profile)
    offered = {**{n: r.default for n, r in resolved.hyperparameters.items()}, **resolved.recommended_hyperparameters}
    return f"{resolved.display_name}'s recommended values: " + ", ".join(
        f"{n}={_format(v)}" for n, v in offered.items()
    )


def check_for_profile(hyperparameters: Hyperparameters, profile: BaseModelProfile | str | None) -> None:
    """Check every effective value against the ranges of ``profile`` (a job moving to another base model).

    Raises:
        HyperparameterError: A value outside the profile's range; the message offers the profile's recommended
            values (or its defaults).
    """
    resolved = get_profile(profile)
    for name, value in hyperparameters.resolved().items():
        spec = resolved.hyperparameters.get(name)
        if spec is None:
            raise HyperparameterError(f"{resolved.display_name} has no hyperparameter {name!r}", field=name)
        if not spec.minimum <= value <= spec.maximum:
            raise HyperparameterError(
                f"{name} ({spec.api_key}) = {value!r} is outside {resolved.display_name}'s range: it must be "
                f"{spec.describe()}; {recommended_values(resolved)}",
                field=name,
                value=value,
            )


def _check(name: str, value: Any) -> None:
    spec = HYPERPARAMETER_RANGES.get(name)
    if spec is None:
        known = ", ".join(HYPERPARAMETER_RANGES)
        raise HyperparameterError(f"unknown hyperparameter {name!r}; expected one of {known}", field=name)
    number_types = (int,) if spec.kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, number_types):
        raise HyperparameterError(
            f"{name} must be {spec.describe()}, got {value!r} ({type(value).__name__}); "
            "use Hyperparameters.from_api() to read string values",
            field=name,
            value=value,
        )
    if not math.isfinite(value) or not spec.minimum <= value <= spec.maximum:
        raise HyperparameterError(
            f"{name} ({spec.api_key}) = {value!r} is out of range: it must be {spec.describe()}",
            field=name,
            value=value,
        )


def _parse(name: str, raw: str | int | float) -> int | float:
    spec = HYPERPARAMETER_RANGES[name]
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise HyperparameterError(
            f"{name} ({spec.api_key}) = {raw!r} is not a number; it must be {spec.describe()}",
            field=name,
            value=raw,
        ) from None
    if spec.kind is int:
        if not number.is_integer():
            raise HyperparameterError(
                f"{name} ({spec.api_key}) = {raw!r} is not a whole number; it must be {spec.describe()}",
                field=name,
                value=raw,
            )
        return int(number)
    return number


def _format(value: float) -> str:
    """Format a number the way the API takes it: no exponent, no trailing zeros (``0.001``, ``5``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".")
