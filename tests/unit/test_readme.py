"""README.md says what is true: its two commands, install lines that work without PyPI, the core dependencies
pyproject declares, and Python snippets that run as written on LocalBedrock."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEMO_COMMAND = "pip install -e '.[local,plot]' && haiku-finetune demo"
TEST_COMMAND = "pip install -e '.[dev]' && python -m pytest"


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_the_two_commands_are_exactly_right() -> None:
    bash = "\n".join(_blocks(README, "bash"))
    assert DEMO_COMMAND in bash
    assert TEST_COMMAND in bash


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/quickstart.md"])
def test_no_install_line_asks_pypi_for_the_unpublished_package(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    for block in _blocks(text, "bash"):
        for line in block.splitlines():
            command = line.split("#", 1)[0]
            # An install of the bare name or of name[extra] fetches from PyPI, where it is not published.
            assert not re.search(r"pip install\s+['\"]?haiku-finetune(\[|\s|'|\"|$)", command), f"{page}: {line}"


def test_the_listed_core_dependencies_are_pyprojects() -> None:
    # (tomllib is Python 3.11+; the project supports 3.10: read the one list by hand)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, flags=re.S | re.M)
    assert block is not None
    declared = re.findall(r'"([^"]+)"', block.group(1))
    names = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in declared}
    line = next(line for line in README.splitlines() if line.startswith("pip install -e .  "))
    listed = {name.strip().lower() for name in line.split("# the library:", 1)[1].split(",")}
    assert listed == names


def _prompt_completion_file(path: Path, count: int = 400) -> None:  # 10 % of it: 40 validation records
    records = [
        {"prompt": f"Story {i}: the council approved budget item {i} after a long debate.", "completion": f"Item {i}."}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_the_offline_snippet_then_the_tour_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tour, offline = _blocks(README, "python")[:2]
    assert "LocalBedrock" in offline and "CustomizationJob.create" in tour
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCAL_BEDROCK_DATE", raising=False)  # as a user runs it: the date is in the snippet
    _prompt_completion_file(tmp_path / "orig.jsonl")
    namespace: dict[str, Any] = {"__name__": "readme"}
    try:
        exec(compile(offline, "README.md (offline)", "exec"), namespace)
        exec(compile(tour, "README.md (tour)", "exec"), namespace)
        local = namespace["local"]
        assert namespace["job"].status == "Completed"
        assert local.deployments() == []  # the with block deleted it
    finally:
        if "local" in namespace:
            namespace["local"].stop()
        hf.set_default_transport(None)


def test_every_command_line_in_the_readme_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    from haiku_finetune.cli import build_parser

    parser = build_parser()
    lines = [
        line.split("  #", 1)[0].strip()
        for block in _blocks(README, "bash")
        for line in block.splitlines()
        if line.startswith("haiku-finetune ")
    ]
    assert len(lines) >= 5
    monkeypatch.chdir(tmp_path)
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl", "job.yaml"):  # input files must exist
        (tmp_path / name).write_text("", encoding="utf-8")
    for line in lines:
        parser.parse_args(shlex.split(line)[1:])  # argparse exits (SystemExit) on a line it does not accept
