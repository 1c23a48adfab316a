"""_names: every generated name fits its API's pattern and length (from botocore's model), carries 48 random
bits, and a prefix that would overflow is cut, never the timestamp or the random part."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone

import botocore.session
import pytest

from haiku_finetune import _names, jobs
from haiku_finetune.deployment import _generated_name
from haiku_finetune.evaluation.batch_inference import default_job_name
from haiku_finetune.search import _prefix

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
PREFIXES = ["haiku-ft", "My Project!", "x" * 80, "---", "a_b", "A.b+c", "ünïcode-名前", "", "9" * 63]
RANDOM = re.compile(r"-([0-9a-f]{12})$")


@functools.cache
def _rule(operation: str, member: str) -> tuple[re.Pattern[str], int, int]:
    model = botocore.session.get_session().get_service_model("bedrock")
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    meta = shape.members[member].metadata
    return re.compile(meta["pattern"]), int(meta.get("min", 1)), int(meta["max"])


@pytest.mark.parametrize("kind", ["job", "model", "deployment", "batch", "evaluation"])
def test_the_rules_are_botocores(kind: str) -> None:
    rule = _names._RULES[kind]
    pattern, _, longest = _rule(rule.operation, rule.member)
    assert rule.pattern.pattern == pattern.pattern and rule.max_length == longest


@pytest.mark.parametrize("kind", ["job", "model", "deployment", "batch", "evaluation"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_generated_names_match_their_api(kind: _names.NameKind, prefix: str) -> None:
    rule = _names._RULES[kind]
    pattern, shortest, longest = _rule(rule.operation, rule.member)
    for infix, reserve in (("", 0), ("model", 0), ("pt", 4)):
        name = _names.generate_name(prefix, kind, infix=infix, reserve=reserve, now=NOW)
        assert pattern.fullmatch(name) and shortest <= len(name) <= longest - reserve, name
        assert "20240601-120000" in name and RANDOM.search(name), name


def test_an_overflowing_prefix_is_cut_and_the_rest_kept_whole() -> None:
    name = _names.generate_name("p" * 100, "job", now=NOW)
    assert len(name) == 63 and name == "p" * 34 + "-20240601-120000-" + name[-12:]
    # A cut that ends in a hyphen does not leave "--" behind (custom model names forbid it).
    model = _names.generate_name("a" * 27 + "-bbbbbb", "model", infix="model", now=NOW)
    assert "--" not in model and model.startswith("a" * 27 + "-model-")
    trial = _names.generate_name("p" * 100, "job", reserve=4, now=NOW)
    assert len(trial + "-t01") == 63
    with pytest.raises(ValueError, match="no room"):
        _names.generate_name("p", "job", infix="i" * 40)


def test_at_least_48_random_bits_and_no_collisions() -> None:
    assert _names.RANDOM_BITS >= 48 and len(_names.random_part()) * 4 >= 48
    names = {_names.generate_name("same", "job", now=NOW) for _ in range(20_000)}
    assert len(names) == 20_000  # 16 bits (the old suffix) collide here with near certainty
    parts = [RANDOM.search(n) for n in names]
    assert all(parts)
    # Every hex digit is used in every position: the random part is not a counter or a constant.
    for position in range(12):
        assert len({m.group(1)[position] for m in parts if m}) == 16


def test_evaluation_names_are_lowercase() -> None:
    assert _names.generate_name("My-Eval", "evaluation", now=NOW).startswith("my-eval-20240601")


def test_the_library_generators_use_it() -> None:
    job_pattern, _, _ = _rule("CreateModelCustomizationJob", "jobName")
    model_pattern, _, _ = _rule("CreateModelCustomizationJob", "customModelName")
    pt_pattern, _, _ = _rule("CreateProvisionedModelThroughput", "provisionedModelName")
    batch_pattern, _, _ = _rule("CreateModelInvocationJob", "jobName")
    job, model = jobs.generate_names("x" * 80)
    assert job_pattern.fullmatch(job) and model_pattern.fullmatch(model) and len(job) <= 63 >= len(model)
    assert RANDOM.search(job) and job[-12:] == model[-12:]  # the pair shares its random part
    deployment = _generated_name("haiku-ft-model_" + "x" * 80)
    assert pt_pattern.fullmatch(deployment) and len(deployment) <= 63 and RANDOM.search(deployment)
    batch = default_job_name("haiku-eval", "A label that is long " * 4)
    assert batch_pattern.fullmatch(batch) and len(batch) <= 63 and RANDOM.search(batch)
    trial = _prefix(None, "hp-search") + "-t99"
    assert job_pattern.fullmatch(trial) and len(trial) <= 63
    assert RANDOM.search(_prefix(None, "hp-search"))
