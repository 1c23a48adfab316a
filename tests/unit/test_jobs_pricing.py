"""Pricing: caller-supplied prices, costs only when the needed price was given."""

from __future__ import annotations

import pydantic
import pytest

from haiku_finetune.pricing import Pricing


def test_no_prices_gives_no_costs() -> None:
    p = Pricing()
    assert p.training_cost(1_000_000) is None
    assert p.provisioned_cost(model_units=1, hours=3) is None
    assert p.invoke_cost(input_tokens=10, output_tokens=10) is None
    assert p.storage_cost() is None
    assert p.format(None) == "unknown (no price given)"


def test_costs_from_given_prices() -> None:
    p = Pricing(
        training_per_1k_tokens=0.004,
        provisioned_per_model_unit_hour=20.0,
        invoke_input_per_1k_tokens=0.25,
        invoke_output_per_1k_tokens=1.25,
        model_storage_per_month=1.95,
    )
    assert p.training_cost(2_500_000) == pytest.approx(10.0)
    assert p.provisioned_cost(model_units=2, hours=1.5) == pytest.approx(60.0)
    assert p.invoke_cost(input_tokens=2000, output_tokens=1000) == pytest.approx(0.5 + 1.25)
    assert p.storage_cost(models=2, months=0.5) == pytest.approx(1.95)
    assert p.format(1234.5) == "1,234.50 USD"


def test_unused_side_needs_no_price() -> None:
    p = Pricing(invoke_input_per_1k_tokens=1.0)
    assert p.invoke_cost(input_tokens=1000, output_tokens=0) == pytest.approx(1.0)
    assert p.invoke_cost(input_tokens=1000, output_tokens=1) is None


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_negative_or_non_finite_price_refused(bad: float) -> None:
    with pytest.raises(pydantic.ValidationError):
        Pricing(training_per_1k_tokens=bad)


def test_unknown_field_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Pricing(training_price=1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", [-1, float("nan"), True])
def test_bad_amounts_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="tokens"):
        Pricing(training_per_1k_tokens=1.0).training_cost(bad)
