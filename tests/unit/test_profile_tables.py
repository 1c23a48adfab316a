"""The docs' tables of base-model facts are the profiles': each is parsed and compared with ``base_models``.

docs/base-models.md's per-fact tables are rendered from the profiles in test_base_models.py; this module covers the
hand-written tables and the facts stated in prose around them (data limits, hyperparameter ranges, the profile
summary, Claude 3 Haiku over time, the migration page), so no doc keeps its own untested copy of a model fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5, BaseModelProfile, DataLimits, profiles
from haiku_finetune.hyperparameters import HYPERPARAMETER_RANGES
from haiku_finetune.lifecycle import is_end_of_life_message, lifecycle_state

DOCS = Path(__file__).resolve().parents[2] / "docs"
GIB = 1024**3


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of any level."""
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(r"^#{1,6} ", text[start:], re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def _tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in ``text``: its rows (header first, the ``|---|`` line dropped) as lists of cells."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _flat(name: str) -> str:
    """A doc with every run of whitespace (line breaks, indents) made one space, for prose that wraps."""
    return re.sub(r"\s+", " ", _doc(name))


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)]


def _plain(cell: str) -> str:
    return cell.replace("**", "").replace("`", "").strip()


# -- docs/data-format.md: the limits table --------------------------------------------------------------------

#: Each row of the limits table and the profile numbers it states, in order (sizes in GiB).
_LIMIT_ROWS: dict[str, Callable[[DataLimits], list[float]]] = {
    "records in the training file": lambda x: [x.min_records, x.max_train_records],
    "records in the validation file": lambda x: [x.min_records, x.max_validation_records],
    "training + validation records": lambda x: [x.max_total_records],
    "tokens per record (system + every message)": lambda x: [x.max_tokens_per_record],
    "training file size": lambda x: [x.max_train_bytes / GIB],
    "validation file size": lambda x: [x.max_validation_bytes / GIB],
}


def test_the_data_format_limits_table_is_claude_3_haikus_profile() -> None:
    (table,) = _tables(_section(_doc("data-format.md"), "## Limits"))
    header, *rows = table
    assert header == ["what", "limit"]
    stated = {what: limit for what, limit in rows}
    assert sorted(stated) == sorted(_LIMIT_ROWS), "the limits table has rows this test does not check, or lacks some"
    for what, expected in _LIMIT_ROWS.items():
        assert _numbers(stated[what]) == expected(CLAUDE_3_HAIKU.limits), f"data-format.md limits row {what!r}"
        if "size" in what:
            assert stated[what].endswith(" GiB"), f"{what!r}: the profile's sizes are binary (1024**3 bytes)"


def test_the_data_format_reserved_strings_are_the_profiles() -> None:
    text = _section(_doc("data-format.md"), "## Limits")
    sentence = text[text.index("Text must not contain") :].split(".", 1)[0]
    quoted = {s.encode().decode("unicode_escape") for s in re.findall(r'`"((?:[^"\\]|\\.)*)"`', sentence)}
    assert quoted == set(CLAUDE_3_HAIKU.limits.reserved_strings)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # Safe reading and writing: write_split's minimum.
        (r"refuses a split that would leave either under (\d+) records", lambda x: [x.min_records]),
        # The file_too_large code's description.
        (r"The training file is over ([\d.]+) GiB or the validation file over ([\d.]+) GiB", None),
    ],
)
def test_the_data_format_prose_states_the_profiles_limits(
    pattern: str, expected: Callable[[DataLimits], list[float]] | None
) -> None:
    match = re.search(pattern, _flat("data-format.md"))
    assert match, f"data-format.md no longer says {pattern!r}: update this test with the doc"
    limits = CLAUDE_3_HAIKU.limits
    want = expected(limits) if expected else [limits.max_train_bytes / GIB, limits.max_validation_bytes / GIB]
    assert [float(g) for g in match.groups()] == want


# -- docs/hyperparameters.md: the five hyperparameters --------------------------------------------------------


def test_the_hyperparameters_table_is_hyperparameter_ranges() -> None:
    (table, *_) = _tables(_section(_doc("hyperparameters.md"), "## The five hyperparameters"))
    header, *rows = table
    assert header == ["field", "API key", "default", "range"]
    assert [_plain(row[0]) for row in rows] == list(HYPERPARAMETER_RANGES)
    assert HYPERPARAMETER_RANGES is CLAUDE_3_HAIKU.hyperparameters
    for field, api_key, default, allowed in rows:
        spec = HYPERPARAMETER_RANGES[_plain(field)]
        assert _plain(api_key) == spec.api_key, field
        assert _numbers(default) == [spec.default], field
        assert _numbers(allowed) == [spec.minimum, spec.maximum], field
        assert allowed.endswith("(integer)") == (spec.kind is int), field


def test_the_hyperparameters_page_quotes_the_ranges_message() -> None:
    text = _doc("hyperparameters.md")
    spec = HYPERPARAMETER_RANGES["learning_rate_multiplier"]
    assert f"it must be {spec.describe()}" in text
    match = re.search(r"The\s+documented minimum is ([\d.]+)", text)
    assert match and float(match.group(1)) == spec.minimum


def test_the_hyperparameters_page_names_the_successors_recommended_start_where_it_lives() -> None:
    assert "CLAUDE_HAIKU_4_5.recommended_hyperparameters" in _doc("hyperparameters.md")
    assert CLAUDE_HAIKU_4_5.recommended_hyperparameters


# -- docs/base-models.md: the summary and Claude 3 Haiku over time -------------------------------------------


def test_the_base_models_summary_table_lists_the_shipped_profiles() -> None:
    text = _doc("base-models.md")
    summary = next(t for t in _tables(text) if t[0] == ["profile", "model id", "fine-tuning region", "status"])
    shipped = [p for p in profiles() if p in (CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5)]
    for (key, model_id, region, status), profile in zip(summary[1:], shipped, strict=True):
        assert _plain(key).split()[0] == profile.key
        assert ("(default)" in key) == (profile is CLAUDE_3_HAIKU)
        assert _plain(model_id) == profile.model_id
        assert [r.strip() for r in region.split(",")] == list(profile.fine_tuning_regions)
        assert ("provisional" in status) == profile.provisional
        end_of_life = profile.lifecycle_elsewhere.end_of_life if profile.lifecycle_elsewhere else None
        assert re.findall(r"\d{4}-\d{2}-\d{2}", status) == ([end_of_life.isoformat()] if end_of_life else [])


def _over_time_table() -> list[list[str]]:
    text = _section(_doc("base-models.md"), "## Lifecycle")
    return next(t for t in _tables(text) if t[0][0] == "region")


def test_the_over_time_headers_are_the_profiles_dates() -> None:
    elsewhere = CLAUDE_3_HAIKU.lifecycle_elsewhere
    assert elsewhere is not None and elsewhere.legacy and elsewhere.end_of_life
    legacy, end = elsewhere.legacy, elsewhere.end_of_life
    assert _over_time_table()[0] == [
        "region",
        f"before {legacy}",
        f"{legacy} – {end - timedelta(days=1)}",
        f"from {end}",
    ]
    prose = re.search(r"The Legacy start (\d{4}-\d{2}-\d{2}) is \*\*derived\*\*", _flat("base-models.md"))
    assert prose and date.fromisoformat(prose.group(1)) == legacy


def _regions(cell: str) -> list[str]:
    """The regions a row names: ``us-west-2 and most regions`` stands for us-west-2 and any region not listed."""
    if cell.endswith(" and most regions"):
        return [cell.removesuffix(" and most regions"), "eu-west-1"]
    return [r.strip() for r in cell.split(",")]


def test_the_over_time_table_is_lifecycle_state_on_those_dates() -> None:
    elsewhere = CLAUDE_3_HAIKU.lifecycle_elsewhere
    assert elsewhere is not None and elsewhere.legacy and elsewhere.end_of_life
    legacy, end = elsewhere.legacy, elsewhere.end_of_life
    columns = [
        (legacy - timedelta(days=365), legacy - timedelta(days=1)),
        (legacy, end - timedelta(days=1)),
        (end, end + timedelta(days=365)),
    ]
    covered: set[str] = set()
    for region_cell, *cells in _over_time_table()[1:]:
        for region in _regions(region_cell):
            covered.add(region)
            for cell, days in zip(cells, columns, strict=True):
                stated = _plain(cell).split(" (")[0]
                for on in days:
                    stage = lifecycle_state(CLAUDE_3_HAIKU, region, on).stage.value.replace("-", " ")
                    assert stated == stage, f"base-models.md says {stated!r} for {region} on {on}; profile: {stage}"
    assert set(CLAUDE_3_HAIKU.lifecycle) <= covered, "a region the profile names is missing from the table"


# -- docs/migration.md ----------------------------------------------------------------------------------------


def _successor(profile: BaseModelProfile) -> BaseModelProfile:
    assert profile.successor == CLAUDE_HAIKU_4_5.key
    return CLAUDE_HAIKU_4_5


def test_the_migration_page_states_the_profiles_lifecycle() -> None:
    text = _flat("migration.md")
    elsewhere = CLAUDE_3_HAIKU.lifecycle_elsewhere
    assert elsewhere is not None and elsewhere.legacy and elsewhere.end_of_life
    match = re.search(r"end-of-life date of \*\*(\S+) in most regions\*\*, (\S+) —", text)
    assert match and match.groups() == (elsewhere.end_of_life.isoformat(), CLAUDE_3_HAIKU.default_region)
    active = sorted(r for r, lc in CLAUDE_3_HAIKU.lifecycle.items() if lc.status == "ACTIVE")
    legacy = sorted(r for r, lc in CLAUDE_3_HAIKU.lifecycle.items() if lc.status == "LEGACY")
    remains = re.search(r"It remains available in (\S+), (\S+) and (\S+), and is Legacy \([^)]*\) in (\S+?)\.", text)
    assert remains and (sorted(remains.groups()[:3]), [remains.group(4)]) == (active, legacy)
    legacy_from = re.search(r"from (\d{4}-\d{2}-\d{2}) at the latest", text)
    assert legacy_from and date.fromisoformat(legacy_from.group(1)) == elsewhere.legacy
    quoted = re.search(r"```\s*(ResourceNotFoundException: [^`]*?)\s*```", text)
    assert quoted and is_end_of_life_message(quoted.group(1))
    printed = re.search(
        r'lifecycle_state\("claude-3-haiku", "us-west-2", date\.today\(\)\)\.describe\(\)\) # (.+?) ```', text
    )
    after = elsewhere.end_of_life + timedelta(days=30)
    assert printed and printed.group(1) == lifecycle_state(CLAUDE_3_HAIKU, "us-west-2", after).describe()


def test_the_migration_page_states_the_successors_profile() -> None:
    text = _flat("migration.md")
    successor = _successor(CLAUDE_3_HAIKU)
    assert f"successor profile, `{successor.key}`" in text
    assert f"fine-tunes `{successor.model_id}` in **{successor.default_region}**" in text
    assert f"arn:aws:bedrock:{successor.default_region}:<account>:model-customization-job/*" in text
    assert f"`{CLAUDE_3_HAIKU.invoke_model_id}` (your comparison baseline)" in text
    outputs = re.search(r"takes up to ([\d,]+) output tokens, against Claude 3\s+Haiku's ([\d,]+)", text)
    assert outputs and _numbers(" ".join(outputs.groups())) == [
        successor.runtime.max_output_tokens,
        CLAUDE_3_HAIKU.runtime.max_output_tokens,
    ]
    ranges = successor.hyperparameters
    start = ", ".join(
        f"`{ranges[name].api_key} {value:.1f}`" if isinstance(value, float) else f"`{ranges[name].api_key} {value}`"
        for name, value in successor.recommended_hyperparameters.items()
    )
    assert f"The notebook's starting point is {start}" in text
    assert successor.provisional and "is **provisional**" in text
