"""The API reference renders: no raw Sphinx role in the package's docstrings or in the built site, every
cross-reference resolves (``mkdocs build --strict``), and tools/convert_sphinx_roles.py rewrites roles as it says."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A raw role as it reaches Markdown (backticks) or HTML (the backticks rendered as <code>).
RAW_ROLE = re.compile(r":(meth|attr|class|func|data|mod|exc):(`|<code>)")


def _converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_sphinx_roles", ROOT / "tools" / "convert_sphinx_roles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                found.append((getattr(node, "lineno", 1), text))
    return found


def test_no_docstring_in_the_package_has_a_sphinx_role() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)}"
        for path in sorted((ROOT / "haiku_finetune").rglob("*.py"))
        for line, text in _docstrings(path)
        for match in RAW_ROLE.finditer(text)
    ]
    assert offenders == [], "run: python tools/convert_sphinx_roles.py\n" + "\n".join(offenders)


@pytest.mark.slow
def test_the_built_site_has_no_raw_role_and_its_links_resolve(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    # --strict: an autorefs link whose target is not rendered is a warning, hence a failed build.
    assert done.returncode == 0, done.stderr[-3000:]
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    raw = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in pages
        for match in RAW_ROLE.finditer(page.read_text(encoding="utf-8"))
    ]
    assert raw == []
    # The roles became links: the API reference links a method from a class docstring.
    jobs = (site / "api" / "jobs" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<a [^>]*href="[^"]*#haiku_finetune\.jobs\.[\w.]*CustomizationJob\.create"', jobs)


# -- the converter ------------------------------------------------------------------------------------------------

INVENTORY = {
    "haiku_finetune.jobs.CustomizationJob",
    "haiku_finetune.jobs.CustomizationJob.create",
    "haiku_finetune.jobs.JobSpec",
    "haiku_finetune.errors.ServiceError",
    "haiku_finetune.BedrockTransport",
}

SOURCE = '''"""Jobs: see :class:`CustomizationJob` and :mod:`.plan`."""


class CustomizationJob:
    """Make one with :meth:`create`; its spec is a :class:`~haiku_finetune.jobs.JobSpec`.

    Raises :exc:`ServiceError` through a :class:`~haiku_finetune.BedrockTransport` and never :func:`_helper`.
    """

    def create(self) -> None:
        """Check everything :meth:`create` would submit, as :class:`the spec <JobSpec>` says, and more text."""


# a comment mentioning :class:`CustomizationJob` is not a docstring
'''


def test_roles_become_links_to_rendered_objects_and_code_otherwise() -> None:
    converter = _converter()
    text, count = converter.convert_text(SOURCE, "haiku_finetune.jobs.job", converter.Resolver(INVENTORY))
    assert count == 9
    assert '"""Jobs: see [`CustomizationJob`][haiku_finetune.jobs.CustomizationJob] and `plan`."""' in text
    assert "Make one with [`create`][haiku_finetune.jobs.CustomizationJob.create];" in text
    assert "[`JobSpec`][haiku_finetune.jobs.JobSpec]" in text  # ~ shows the last component
    assert "[`ServiceError`][haiku_finetune.errors.ServiceError]" in text  # a unique rendered name
    assert "[`BedrockTransport`][haiku_finetune.BedrockTransport]" in text
    assert "never `_helper`." in text  # not rendered: plain code, no dangling link
    assert "[`the spec`][haiku_finetune.jobs.JobSpec]" in text  # an explicit title
    assert "# a comment mentioning :class:`CustomizationJob` is not a docstring" in text
    assert max(len(line) for line in text.splitlines()) <= converter.LINE_LENGTH
    ast.parse(text)  # still Python


def test_a_wrapped_docstring_line_keeps_its_paragraph() -> None:
    converter = _converter()
    line = "        name: " + "word " * 30 + "[`x`][haiku_finetune.x]\n"
    wrapped = converter._wrap(line)
    assert len(wrapped) == 2 and all(len(part.rstrip("\n")) <= converter.LINE_LENGTH for part in wrapped)
    assert wrapped[1].startswith(" " * 12)  # an Args entry's continuation is indented deeper
    assert "".join(part.strip() + " " for part in wrapped).split() == line.split()
