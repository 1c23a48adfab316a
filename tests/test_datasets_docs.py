"""docs/data-format.md documents every code the validator emits, and each example line yields its code."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import haiku_finetune as hf

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
SECTIONS = dict(re.findall(r"^### `([a-z_0-9]+)`[^\n]*\n(.*?)(?=^### |\Z)", DOC, flags=re.M | re.S))


def _emitted_codes() -> set[str]:
    source = (ROOT / "haiku_finetune" / "datasets" / "validation.py").read_text(encoding="utf-8")
    return set(re.findall(r'(?:issues\.(?:error|warning)|ValidationIssue)\(\s*"([a-z_0-9]+)"', source))


def test_every_code_has_a_section() -> None:
    emitted = _emitted_codes()
    assert len(emitted) >= 27
    assert set(SECTIONS) == emitted


EXAMPLES = {code: m.group(1) for code, body in SECTIONS.items() if (m := re.search(r"```json\n(.*?)\n```", body, re.S))}


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_each_example_line_yields_its_code(code: str) -> None:
    base = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": f"answer {i}"},
                ]
            }
        )
        for i in range(40)
    ]
    lines = [*base[:20], EXAMPLES[code], *base[20:]]
    report = hf.validate_file(io.BytesIO(("\n".join(lines) + "\n").encode()))
    found = {(i.code, i.line) for i in report.errors + report.warnings}
    assert (code, 21) in found and {line for _, line in found} == {21}, found


def test_most_record_codes_have_an_example() -> None:
    assert len(EXAMPLES) >= 16
