"""The CLI's help texts and defaults that state a base-model fact state the default profile's.

Some of them are written out as text in ``cli/`` rather than built from the profile (see the #13 audit); this
test makes any drift between them and ``base_models`` fail, whichever side moves. It also covers the region
defaults that stand for Claude 3 Haiku's fine-tuning region, and base-model numbers other docs pages state.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from haiku_finetune import _transport
from haiku_finetune.base_models import CLAUDE_3_HAIKU, DEFAULT_BASE_MODEL
from haiku_finetune.cli.main import build_parser
from haiku_finetune.hyperparameters import HYPERPARAMETER_RANGES

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BY_API_KEY = {spec.api_key: spec for spec in HYPERPARAMETER_RANGES.values()}
#: "epochCount, 1-10 (default 2)": the API key, the range and the default, as the hyperparameter flags say them.
_RANGE_HELP = re.compile(r"(?P<key>[a-z][A-Za-z]+), (?P<low>[\d.]+)-(?P<high>[\d.]+) \(default (?P<default>[\d.]+)\)")


def _parsers(
    parser: argparse.ArgumentParser, path: str = "haiku-finetune"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _options() -> Iterator[tuple[str, argparse.Action]]:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings:
                yield f"{path} {action.option_strings[-1]}", action


def test_every_hyperparameter_flag_states_the_profiles_range_and_default() -> None:
    seen: set[str] = set()
    for where, action in _options():
        match = _RANGE_HELP.search(action.help or "")
        if not match or match["key"] not in _BY_API_KEY:
            continue
        spec = _BY_API_KEY[match["key"]]
        seen.add(spec.api_key)
        stated = (float(match["low"]), float(match["high"]), float(match["default"]))
        assert stated == (spec.minimum, spec.maximum, spec.default), f"{where}: help {action.help!r} vs {spec}"
        assert action.help == spec.brief(), f"{where}: build the help from the profile: {spec.brief()!r}"
        if action.default is not None:
            assert action.default == spec.default, f"{where}: default {action.default!r}, the profile's {spec.default}"
    assert seen == set(_BY_API_KEY), f"no flag states the range of {sorted(set(_BY_API_KEY) - seen)}"


def test_the_region_defaults_are_the_default_profiles_fine_tuning_region() -> None:
    assert DEFAULT_BASE_MODEL.default_region == _transport.DEFAULT_REGION
    from haiku_finetune.cli import local as cli_local
    from haiku_finetune.local import _common

    assert _common.REGION == cli_local._DEFAULT_REGION == DEFAULT_BASE_MODEL.default_region
    helps = [action.help or "" for _, action in _options() if action.option_strings[-1] == "--region"]
    for text in helps:
        for region in re.findall(r"\b[a-z]{2}-[a-z]+-\d\b", text):
            assert region == DEFAULT_BASE_MODEL.default_region, text


def test_other_pages_state_claude_3_haikus_limits() -> None:
    limits = CLAUDE_3_HAIKU.limits
    cli = re.sub(r"\s+", " ", (DOCS / "cli.md").read_text(encoding="utf-8"))
    match = re.search(r"validation files allow at most ([\d,]+) records", cli)
    assert match and int(match.group(1).replace(",", "")) == limits.max_validation_records
    jobs = re.sub(r"\s+", " ", (DOCS / "jobs.md").read_text(encoding="utf-8"))
    sizes = re.search(r"over the base model's size limit \(Claude 3 Haiku: (\d+) GiB / (\d+) GiB\)", jobs)
    assert sizes and [int(s) for s in sizes.groups()] == [
        limits.max_train_bytes // 1024**3,
        limits.max_validation_bytes // 1024**3,
    ]


def test_brief_states_the_range_and_default_as_the_api_takes_them() -> None:
    briefs = [spec.brief() for spec in CLAUDE_3_HAIKU.hyperparameters.values()]
    assert briefs == [
        "epochCount, 1-10 (default 2)",
        "batchSize, 4-256 (default 32)",
        "learningRateMultiplier, 0.1-2 (default 1)",
        "earlyStoppingThreshold, 0-0.1 (default 0.001)",
        "earlyStoppingPatience, 1-10 (default 2)",
    ]
