"""Base-model profiles: the documented facts, their sources, the registry, the provisional warning, one copy."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from haiku_finetune import base_models
from haiku_finetune.base_models import (
    BASE_MODEL_ID,
    CLAUDE_3_HAIKU,
    CLAUDE_HAIKU_4_5,
    DEFAULT_BASE_MODEL,
    BaseModelProfile,
    HyperparameterRange,
    ProvisionalProfileWarning,
    RegionLifecycle,
    Source,
    find_profile,
    get_profile,
    profiles,
    register_profile,
    warn_if_provisional,
)
from haiku_finetune.datasets import _limits
from haiku_finetune.hyperparameters import HYPERPARAMETER_RANGES, hyperparameter_ranges

ROOT = Path(__file__).resolve().parents[2]

# The documented tables (BEDROCK-FACTS.md), written out once here so that a changed profile fails a test.
CLAUDE_3_HYPERPARAMETERS = {
    # name: (api key, default, min, max, type)
    "epoch_count": ("epochCount", 2, 1, 10, int),
    "batch_size": ("batchSize", 32, 4, 256, int),
    "learning_rate_multiplier": ("learningRateMultiplier", 1.0, 0.1, 2.0, float),
    "early_stopping_threshold": ("earlyStoppingThreshold", 0.001, 0.0, 0.1, float),
    "early_stopping_patience": ("earlyStoppingPatience", 2, 1, 10, int),
}
CLAUDE_3_LIMITS = {
    "min_records": 32,
    "max_train_records": 10_000,
    "max_validation_records": 1_000,
    "max_total_records": 10_000,
    "max_tokens_per_record": 32_000,
    "max_train_bytes": 10 * 1024**3,
    "max_validation_bytes": 1024**3,
    "reserved_strings": ("\nHuman:", "\nAssistant:"),
    "allowed_record_keys": frozenset({"system", "messages"}),
    "allowed_message_keys": frozenset({"role", "content"}),
    "text_only": True,
}


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    base_models._forget_warnings()
    yield
    base_models._forget_warnings()


def _table(profile: BaseModelProfile) -> dict[str, tuple[str, float, float, float, type]]:
    return {n: (r.api_key, r.default, r.minimum, r.maximum, r.kind) for n, r in profile.hyperparameters.items()}


def test_claude_3_haiku_is_the_default_with_its_documented_ids() -> None:
    assert DEFAULT_BASE_MODEL is CLAUDE_3_HAIKU
    assert BASE_MODEL_ID == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert CLAUDE_3_HAIKU.invoke_model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert CLAUDE_3_HAIKU.fine_tuning_regions == ("us-west-2",)
    assert CLAUDE_3_HAIKU.arn() == (
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k"
    )
    assert CLAUDE_3_HAIKU.anthropic_version == "bedrock-2023-05-31"
    assert CLAUDE_3_HAIKU.runtime.max_output_tokens == 4096
    assert CLAUDE_3_HAIKU.successor == "claude-haiku-4-5"
    assert not CLAUDE_3_HAIKU.provisional


def test_claude_3_haiku_facts_match_the_documented_tables() -> None:
    assert _table(CLAUDE_3_HAIKU) == CLAUDE_3_HYPERPARAMETERS
    assert {name: getattr(CLAUDE_3_HAIKU.limits, name) for name in CLAUDE_3_LIMITS} == CLAUDE_3_LIMITS


def test_the_library_tables_are_the_default_profile_not_copies() -> None:
    assert HYPERPARAMETER_RANGES is DEFAULT_BASE_MODEL.hyperparameters
    assert hyperparameter_ranges() is DEFAULT_BASE_MODEL.hyperparameters
    assert hyperparameter_ranges("claude-haiku-4-5") is CLAUDE_HAIKU_4_5.hyperparameters
    limits = DEFAULT_BASE_MODEL.limits
    assert (
        limits.min_records,
        limits.max_train_records,
        limits.max_validation_records,
    ) == (_limits.MIN_RECORDS, _limits.MAX_TRAIN_RECORDS, _limits.MAX_VALIDATION_RECORDS)
    assert limits.max_total_records == _limits.MAX_TOTAL_RECORDS
    assert limits.max_tokens_per_record == _limits.MAX_TOKENS_PER_RECORD
    assert (
        limits.max_train_bytes,
        limits.max_validation_bytes,
    ) == (_limits.MAX_TRAIN_BYTES, _limits.MAX_VALIDATION_BYTES)
    assert limits.reserved_strings == _limits.RESERVED_STRINGS
    assert limits.allowed_record_keys == _limits.ALLOWED_RECORD_KEYS
    assert limits.allowed_message_keys == _limits.ALLOWED_MESSAGE_KEYS


def test_haiku_4_5_ships_provisional_with_the_notebooks_facts() -> None:
    profile = CLAUDE_HAIKU_4_5
    assert profile.provisional
    assert profile.model_id == "anthropic.claude-haiku-4-5-v1:0:200k"
    assert profile.fine_tuning_regions == ("us-east-1",)
    assert profile.arn() == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-v1:0:200k"
    assert profile.runtime.max_output_tokens == 64_000
    assert dict(profile.recommended_hyperparameters) == {
        "epoch_count": 5,
        "batch_size": 4,
        "learning_rate_multiplier": 1.0,
    }
    elsewhere = profile.lifecycle_elsewhere
    assert elsewhere is not None
    assert (elsewhere.status, str(elsewhere.launched)) == ("ACTIVE", "2025-10-16")
    assert profile.successor is None


def test_haiku_4_5_takes_claude_3_haikus_values_where_nothing_is_confirmed() -> None:
    assert _table(CLAUDE_HAIKU_4_5) == CLAUDE_3_HYPERPARAMETERS
    assert CLAUDE_HAIKU_4_5.limits == CLAUDE_3_HAIKU.limits
    unconfirmed = set(CLAUDE_HAIKU_4_5.unconfirmed())
    assert {f"hyperparameters.{name}" for name in CLAUDE_3_HYPERPARAMETERS} <= unconfirmed
    assert {"limits.min_records", "limits.max_tokens_per_record", "limits.max_train_bytes"} <= unconfirmed
    # What the notebook and the model card do say is not marked unconfirmed.
    assert {"model_id", "fine_tuning_regions", "runtime.max_output_tokens", "lifecycle.elsewhere"}.isdisjoint(
        unconfirmed
    )
    # The recommended starting values fit the conservative ranges.
    for name, value in CLAUDE_HAIKU_4_5.recommended_hyperparameters.items():
        spec = CLAUDE_HAIKU_4_5.hyperparameters[name]
        assert spec.minimum <= value <= spec.maximum


@pytest.mark.parametrize("profile", [CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5], ids=lambda p: p.key)
def test_every_fact_has_a_source_and_every_source_a_fact(profile: BaseModelProfile) -> None:
    names = [fact.name for fact in profile.facts()]
    assert len(names) == len(set(names))
    assert set(names) == set(profile.sources)
    for fact in profile.facts():
        assert isinstance(fact.source, Source)
        assert fact.source.citation.strip()


def test_claude_3_haiku_lifecycle_follows_the_model_card() -> None:
    lifecycle = CLAUDE_3_HAIKU.lifecycle
    assert {r: lifecycle[r].status for r in lifecycle} == {
        "ca-central-1": "ACTIVE",
        "eu-central-2": "ACTIVE",
        "sa-east-1": "ACTIVE",
        "ap-northeast-2": "LEGACY",
    }
    elsewhere = CLAUDE_3_HAIKU.region_lifecycle("us-west-2")
    assert elsewhere is CLAUDE_3_HAIKU.lifecycle_elsewhere
    assert elsewhere is not None
    assert str(elsewhere.end_of_life) == "2026-09-10"
    # The Legacy start is derived, not stated: it must say so.
    assert not CLAUDE_3_HAIKU.source("lifecycle.elsewhere").confirmed


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("claude-3-haiku", CLAUDE_3_HAIKU),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", CLAUDE_3_HAIKU),
        ("anthropic.claude-3-haiku-20240307-v1:0", CLAUDE_3_HAIKU),
        ("arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k", CLAUDE_3_HAIKU),
        ("arn:aws:bedrock:eu-central-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", CLAUDE_3_HAIKU),
        ("claude-haiku-4-5", CLAUDE_HAIKU_4_5),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-v1:0:200k", CLAUDE_HAIKU_4_5),
        (None, CLAUDE_3_HAIKU),
        (CLAUDE_HAIKU_4_5, CLAUDE_HAIKU_4_5),
    ],
)
def test_get_profile_takes_a_key_an_id_or_an_arn(identifier: str | None, expected: BaseModelProfile) -> None:
    assert get_profile(identifier) is expected


def test_an_unknown_model_is_one_clear_line() -> None:
    assert find_profile("amazon.nova-micro-v1:0") is None
    with pytest.raises(ValueError, match=r"no base-model profile for 'amazon.nova-micro-v1:0'; known: ") as info:
        get_profile("amazon.nova-micro-v1:0")
    assert "\n" not in str(info.value)
    assert "register_profile" in str(info.value)


def test_a_user_can_register_a_profile_the_library_does_not_ship() -> None:
    mine = replace(
        CLAUDE_3_HAIKU,
        key="my-haiku",
        display_name="My Haiku",
        model_id="anthropic.my-haiku-v1:0:200k",
        invoke_model_id="anthropic.my-haiku-v1:0",
        fine_tuning_regions=("eu-west-1",),
        successor=None,
    )
    try:
        assert register_profile(mine) is mine
        assert get_profile("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.my-haiku-v1:0:200k") is mine
        assert mine in profiles()
        with pytest.raises(ValueError, match="already registered"):
            register_profile(mine)
        changed = replace(mine, display_name="My Haiku 2")
        register_profile(changed, replace_existing=True)
        assert get_profile("my-haiku") is changed
    finally:
        base_models._registry.pop("my-haiku", None)
    assert find_profile("my-haiku") is None


def test_a_profile_without_sources_is_refused() -> None:
    bare = replace(CLAUDE_3_HAIKU, key="bare", model_id="x.bare-v1:0", invoke_model_id="x.bare", sources={})
    with pytest.raises(ValueError, match="gives no source for: model_id"):
        register_profile(bare)
    assert find_profile("bare") is None


def test_provisional_profile_warns_once_naming_what_is_unconfirmed() -> None:
    with pytest.warns(ProvisionalProfileWarning, match="provisional") as caught:
        warn_if_provisional(CLAUDE_HAIKU_4_5)
    message = str(caught[0].message)
    for name in CLAUDE_HAIKU_4_5.unconfirmed():
        assert name in message
    assert issubclass(ProvisionalProfileWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_provisional(CLAUDE_HAIKU_4_5)  # once per process: silent the second time
        warn_if_provisional(CLAUDE_3_HAIKU)  # a confirmed profile never warns
        get_profile("claude-haiku-4-5")  # looking a profile up is not using it


def test_runtime_rules_accept_the_documented_and_the_dated_versions() -> None:
    rules = CLAUDE_3_HAIKU.runtime
    assert rules.accepts_anthropic_version("bedrock-2023-05-31")
    assert rules.accepts_anthropic_version("2026-10-21")
    assert not rules.accepts_anthropic_version("latest")


_MODEL_ID_STRINGS = ("claude-3-haiku-20240307", "claude-haiku-4-5")
# Modules that still carry a model id of their own; each is a finding to fix (read the profile instead). None left.
_KNOWN_OFFENDERS: frozenset[str] = frozenset()


def _modules_with_model_ids() -> set[str]:
    found = set()
    for path in sorted((ROOT / "haiku_finetune").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "haiku_finetune/base_models.py":
            continue
        text = path.read_text(encoding="utf-8")
        if any(re.search(re.escape(needle), text) for needle in _MODEL_ID_STRINGS):
            found.add(relative)
    return found


def test_no_module_but_base_models_spells_a_model_id() -> None:
    offenders = _modules_with_model_ids()
    new = offenders - _KNOWN_OFFENDERS
    assert not new, f"model ids outside base_models.py (read the profile instead): {sorted(new)}"


def _cell(value: object) -> str:
    if isinstance(value, HyperparameterRange):
        return f"`{value.api_key}`: default {value.default:g}, {value.describe()}"
    if isinstance(value, RegionLifecycle):
        parts = [value.status]
        for name, label in (
            ("launched", "launched"),
            ("legacy", "Legacy from"),
            ("extended_access", "extended access from"),
            ("end_of_life", "end of life"),
        ):
            when = getattr(value, name)
            if when:
                parts.append(f"{label} {when}")
        return ", ".join(parts)
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ", ".join(f"`{item}`" for item in sorted(value))
    if isinstance(value, tuple):
        return ", ".join(f"`{item!r}`" if "\n" in item else f"`{item}`" for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and value >= 1024**3 and value % 1024**3 == 0:
        return f"{value // 1024**3} GiB"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return f"`{value}`"


def render_tables() -> str:
    """The fact tables of docs/base-models.md, from the shipped profiles (paste the output there when it drifts)."""
    out = []
    for profile in (CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5):
        flag = " — provisional" if profile.provisional else ""
        out += [f"## {profile.display_name} (`{profile.key}`){flag}", "", "| fact | value | confirmed | source |"]
        out.append("|---|---|---|---|")
        for fact in profile.facts():
            confirmed = "yes" if fact.source.confirmed else "**no**"
            value = _cell(fact.value).replace("|", "\\|")
            out.append(f"| `{fact.name}` | {value} | {confirmed} | {fact.source.citation} |")
        out.append("")
    return "\n".join(out)


def test_the_docs_tables_are_the_profiles() -> None:
    docs = (ROOT / "docs" / "base-models.md").read_text(encoding="utf-8")
    assert render_tables() in docs, "docs/base-models.md drifted: paste render_tables() from this test module there"
