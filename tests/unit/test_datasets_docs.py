"""docs/data-format.md documents every code the validator emits, and each example line yields its code."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest

import haiku_finetune as hf

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
SECTIONS = dict(re.findall(r"^### `([a-z_0-9]+)`[^\n]*\n(.*?)(?=^### |\Z)", DOC, flags=re.M | re.S))


def _emitted_codes() -> set[str]:
    source = (ROOT / "haiku_finetune" / "datasets" / "validation.py").read_text(encoding="utf-8")
    return set(re.findall(r'(?:issues\.(?:error|warning)|ValidationIssue)\(\s*"([a-z_0-9]+)"', source))


def test_every_code_has_a_section() -> None:
    emitted = _emitted_codes()
    assert len(emitted) >= 27
    assert set(SECTIONS) == emitted


def _example(body: str) -> bytes | None:
    """The bad line a section shows: a ```json block, or a ```python block that builds ``line`` (bytes)."""
    if m := re.search(r"```json\n(.*?)\n```", body, re.S):
        return m.group(1).encode()
    if m := re.search(r"```python\n(.*?)\n```", body, re.S):
        scope: dict[str, object] = {}
        exec(m.group(1), scope)  # the doc's own snippet, run as written
        line = scope.get("line")
        assert isinstance(line, bytes), "a python example must set `line` to the bytes of the bad line"
        return line
    return None


EXAMPLES = {code: line for code, body in SECTIONS.items() if (line := _example(body)) is not None}


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
        ).encode()
        for i in range(40)
    ]
    lines = [*base[:20], EXAMPLES[code], *base[20:]]
    report = hf.validate_file(io.BytesIO(b"\n".join(lines) + b"\n"))
    found = {(i.code, i.line) for i in report.errors + report.warnings}
    assert (code, 21) in found and {line for _, line in found} == {21}, found


def test_every_code_has_an_example() -> None:
    # An example is a bad line (checked above), or, where no single line can show the problem (a BOM, file-level
    # rules), a paragraph that starts with "Example:".
    without = [code for code, body in SECTIONS.items() if code not in EXAMPLES and "\nExample:" not in "\n" + body]
    assert not without, f"codes without an example: {without}"
    # Every code that lands on one line (so not the file-level ones, nor the BOM) has a checked example line.
    prose_only = {"utf8_bom", "empty_file", "too_few_records", "too_many_records", "total_records_exceeded"}
    prose_only |= {"file_too_large", "validation_overlap"}
    assert set(SECTIONS) - prose_only <= set(EXAMPLES), set(SECTIONS) - prose_only - set(EXAMPLES)


def test_python_blocks_import_what_they_use() -> None:
    # The guide's examples read files that do not exist here (and one calls AWS), so run their imports, which is
    # what broke before: every name they import must exist. Every block must at least parse.
    blocks = re.findall(r"```python\n(.*?)\n```", DOC, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        tree = ast.parse(block)
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "<data-format.md>", "exec"), {})
