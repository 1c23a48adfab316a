"""The first example of docs/local.md runs as written and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "local.md"


def test_the_walkthrough_runs_and_prints_what_the_page_says() -> None:
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_local"})  # our own docs page
    promised = [m.strip() for m in re.findall(r"# (Completed 4|billing|0\.36)", code)]
    assert out.getvalue().split("\n")[:3] == promised
