"""Prices as the caller's input: a ``Pricing`` value and the arithmetic that turns usage into cost.

The library ships no prices. Bedrock's prices for Claude 3 Haiku fine-tuning, Provisioned Throughput and
invocation differ by region and change over time, and the ones we could find were not confirmed, so every
price is optional and supplied by the caller (from the AWS pricing page or their own contract). A cost is
only computed when the price it needs was given; otherwise the answer is ``None``, never a guess.

Used by job plans (training cost), deployments (hourly cost) and evaluation (invocation cost). No I/O here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Pricing"]


class Pricing(BaseModel):
    """Prices to estimate costs with. Every field is optional; the library ships none.

    Attributes:
        training_per_1k_tokens: Price of training on 1,000 tokens (tokens × epochs are billed).
        provisioned_per_model_unit_hour: Price of one Provisioned Throughput model unit for one hour
            (for the commitment term you plan to buy).
        invoke_input_per_1k_tokens: Price of 1,000 input tokens at invocation.
        invoke_output_per_1k_tokens: Price of 1,000 output tokens at invocation.
        model_storage_per_month: Price of storing one custom model for one month.
        currency: The currency the prices are in, for display only.

    Example:
        >>> p = Pricing(training_per_1k_tokens=0.004)
        >>> p.training_cost(1_000_000)
        4.0
        >>> p.provisioned_cost(model_units=1, hours=2) is None
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    training_per_1k_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    provisioned_per_model_unit_hour: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    invoke_input_per_1k_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    invoke_output_per_1k_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    model_storage_per_month: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str = "USD"

    def training_cost(self, tokens: int | float) -> float | None:
        """Return the cost of training on ``tokens`` billed tokens, or ``None`` without a training price.

        Args:
            tokens: Billed training tokens: tokens in the training data × epochs.
        """
        _check_amount("tokens", tokens)
        if self.training_per_1k_tokens is None:
            return None
        return tokens / 1000.0 * self.training_per_1k_tokens

    def provisioned_cost(self, *, model_units: int, hours: float) -> float | None:
        """Return the cost of ``model_units`` model units for ``hours`` hours, or ``None`` without a price.

        Provisioned Throughput is billed per started hour; pass the hours you expect to be billed.
        """
        _check_amount("model_units", model_units)
        _check_amount("hours", hours)
        if self.provisioned_per_model_unit_hour is None:
            return None
        return model_units * hours * self.provisioned_per_model_unit_hour

    def invoke_cost(self, *, input_tokens: int, output_tokens: int) -> float | None:
        """Return the cost of invocations using these token counts, or ``None`` when a needed price is missing.

        A price is only needed for a side that was used: zero output tokens need no output price.
        """
        _check_amount("input_tokens", input_tokens)
        _check_amount("output_tokens", output_tokens)
        total = 0.0
        for tokens, price in (
            (input_tokens, self.invoke_input_per_1k_tokens),
            (output_tokens, self.invoke_output_per_1k_tokens),
        ):
            if tokens == 0:
                continue
            if price is None:
                return None
            total += tokens / 1000.0 * price
        return total

    def storage_cost(self, *, models: int = 1, months: float = 1.0) -> float | None:
        """Return the cost of storing ``models`` custom models for ``months`` months, or ``None`` without a price."""
        _check_amount("models", models)
        _check_amount("months", months)
        if self.model_storage_per_month is None:
            return None
        return models * months * self.model_storage_per_month

    def format(self, amount: float | None) -> str:
        """Return ``amount`` as text with the currency, or ``"unknown (no price given)"`` for ``None``."""
        if amount is None:
            return "unknown (no price given)"
        return f"{amount:,.2f} {self.currency}"


def _check_amount(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
