"""The sample dataset shipped in the package: regenerated identically, balanced, unique, in the wheel."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from haiku_finetune.data import CATEGORIES, SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.data.generate_support_tickets import PER_CATEGORY, generate, render, write


def test_shipped_file_is_the_generators_output() -> None:
    shipped = support_tickets_path().read_text(encoding="utf-8")
    assert shipped == render(generate()), "regenerate with: python -m haiku_finetune.data.generate_support_tickets"


def test_generation_is_deterministic_and_depends_on_the_seed() -> None:
    assert generate() == generate()
    assert generate(seed=1) != generate()


def test_records_are_prompt_completion_balanced_and_unique() -> None:
    records = [json.loads(line) for line in support_tickets_path().read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(CATEGORIES) * PER_CATEGORY
    assert all(set(r) == {"prompt", "completion"} for r in records)
    assert collections.Counter(r["completion"] for r in records) == dict.fromkeys(CATEGORIES, PER_CATEGORY)
    assert len({r["prompt"] for r in records}) == len(records)
    assert all(r["prompt"].startswith("Subject: ") for r in records)
    # Reserved strings Bedrock refuses must never appear.
    assert not any("\nHuman:" in r["prompt"] or "\nAssistant:" in r["prompt"] for r in records)


def test_every_label_is_named_in_the_system_prompt() -> None:
    for label in CATEGORIES:
        assert label in SYSTEM_PROMPT


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = write(tmp_path / "tickets.jsonl", seed=3)
    assert target.read_text(encoding="utf-8") == render(generate(seed=3))
    assert [p.name for p in tmp_path.iterdir()] == ["tickets.jsonl"]
