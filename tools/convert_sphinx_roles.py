"""Rewrite Sphinx roles in the package's docstrings as mkdocstrings cross-references.

mkdocstrings reads Markdown, not reStructuredText: ``:meth:`create``` reaches the API reference as the literal text
``:meth:`create```. This script replaces each role (``:meth:``, ``:attr:``, ``:class:``, ``:func:``, ``:data:``,
``:mod:``, ``:exc:``) with an autorefs link, ``[`create`][haiku_finetune.jobs.CustomizationJob.create]``, when its
target is an object the built site renders (read from the site's ``objects.inv``), and with plain code,
``` `create` ```, when it is not (a private helper, an object no API page shows).

A target is resolved the way Sphinx would: ``~`` shows only the last component; a leading ``.`` is relative; a bare
name is looked up in the enclosing class, then the module, then the package; failing those, a unique rendered
object whose path ends with the name is taken. Usage::

    python tools/convert_sphinx_roles.py [--site SITE_DIR] [--check] [FILE.py ...]

Without ``--site`` the site is built (``mkdocs build``) into a temporary directory. Without files, every module of
``haiku_finetune`` is converted. ``--check`` changes nothing and exits 1 when a role would be rewritten.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "haiku_finetune"
#: A Sphinx role with its target (which may span lines inside a docstring).
ROLE = re.compile(r":(meth|attr|class|func|data|mod|exc|obj):`([^`]+)`")


def read_inventory(site: Path) -> set[str]:
    """The identifiers the built site renders, from its Sphinx-format ``objects.inv``."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then the zlib-compressed body
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def build_site(into: Path) -> Path:
    """Build the docs (not strict: the roles themselves may still be there) into ``into`` and return it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(into)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return into


def module_name(path: Path) -> str:
    """``haiku_finetune/jobs/job.py`` → ``haiku_finetune.jobs.job`` (``__init__.py`` is its package)."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _classes_by_line(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, dotted class name) of every class, nested ones included."""
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = f"{prefix}{child.name}"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix)

    visit(tree, "")
    return spans


class Resolver:
    """Resolves a role's target to a rendered identifier, or ``None``."""

    def __init__(self, inventory: set[str]) -> None:
        self.inventory = inventory
        self._by_suffix: dict[str, set[str]] = {}
        for identifier in inventory:
            parts = identifier.split(".")
            for i in range(1, len(parts)):
                self._by_suffix.setdefault(".".join(parts[i:]), set()).add(identifier)

    def _rendered(self, dotted: str) -> str | None:
        if dotted in self.inventory:
            return dotted
        # The same object under a shorter public path: haiku_finetune.jobs.job.CustomizationJob is rendered as
        # haiku_finetune.jobs.CustomizationJob. Drop the fewest inner components that make it a rendered one.
        parts = dotted.split(".")
        for drop in range(1, len(parts) - 1):
            for start in range(1, len(parts) - drop):
                candidate = ".".join(parts[:start] + parts[start + drop :])
                if candidate in self.inventory:
                    return candidate
        return None

    def resolve(self, target: str, module: str, cls: str | None) -> str | None:
        """The identifier ``target`` names from inside ``module`` (and class ``cls``), when the site renders it."""
        target = target.lstrip("~!")
        package = module if module == PACKAGE else module.rsplit(".", 1)[0]
        candidates: list[str] = []
        if target.startswith("."):
            name = target.lstrip(".")
            candidates += [f"{module}.{name}", f"{package}.{name}"]
            if cls:
                candidates.insert(0, f"{module}.{cls}.{name}")
        elif target.startswith(PACKAGE + ".") or target == PACKAGE:
            candidates.append(target)
        else:
            if cls:
                candidates.append(f"{module}.{cls}.{target}")
            candidates += [f"{module}.{target}", f"{package}.{target}", f"{PACKAGE}.{target}"]
        for candidate in candidates:
            found = self._rendered(candidate)
            if found is not None:
                return found
        # Last, a rendered object ending with the name: only for names that cannot be a common word.
        name = target.lstrip(".")
        if "." not in name and not name[:1].isupper():
            return None
        # Several paths usually name one object (its module's and its package's): take the shortest, public one.
        matches = self._by_suffix.get(name, set())
        return min(matches, key=lambda i: (i.count("."), len(i), i)) if matches else None


def _display(target: str, title: str | None) -> str:
    if title is not None:
        return title
    shown = target.lstrip("!")
    if shown.startswith("~"):
        return shown.lstrip("~").rsplit(".", 1)[-1]
    return shown.lstrip(".")


#: The longest line ruff allows (pyproject's line-length): a line the links made longer is wrapped.
LINE_LENGTH = 120
#: A Google-style entry (``name: text``, ``name (type): text``) or a bullet: its continuation is indented deeper.
_ENTRY = re.compile(r"^(\s*)(?:[\w*.]+(?: \([^)]*\))?: |- )")
#: Words a wrapped line must not start with, or Markdown would read a list, a heading or a quote.
_BAD_START = re.compile(r"^(?:[-*+#>|]|\d+[.)])")


def _docstring_spans(tree: ast.Module) -> list[tuple[int, int]]:
    """(first line, last line) of every module, class and function docstring."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                spans.append((first.lineno, first.end_lineno or first.lineno))
    return spans


def _wrap(line: str) -> list[str]:
    """Split a docstring line over LINE_LENGTH at spaces outside links; continuations keep the paragraph's indent."""
    if len(line) <= LINE_LENGTH:
        return [line]
    body = line.rstrip("\n")
    indent = len(body) - len(body.lstrip(" "))
    entry = _ENTRY.match(body)
    continuation = " " * (indent + (2 if entry and entry.group(0).strip() == "-" else 4 if entry else 0))
    pieces = re.compile(r"\[`[^`]*`\]\[[^\]]*\]|``[^`]*``|`[^`]*`")  # never cut inside a link or code
    out: list[str] = []
    lowest = indent + 1
    while len(body) > LINE_LENGTH:
        protected = [(m.start(), m.end()) for m in pieces.finditer(body)]
        cut = None
        for position in range(LINE_LENGTH, lowest, -1):
            if body[position] == " " and not any(a < position < b for a, b in protected):
                rest = body[position + 1 :].lstrip()
                if rest and not _BAD_START.match(rest):
                    cut = position
                    break
        if cut is None:
            break  # one unbreakable piece: leave it long rather than break a link
        out.append(body[:cut].rstrip())
        body = continuation + body[cut + 1 :].lstrip()
        lowest = len(continuation) + 1
    out.append(body)
    return [part + "\n" for part in out[:-1]] + [out[-1] + ("\n" if line.endswith("\n") else "")]


def convert_text(text: str, module: str, resolver: Resolver) -> tuple[str, int]:
    """Return ``text`` with every role in its docstrings rewritten (long lines wrapped), and how many there were."""
    tree = ast.parse(text)
    classes = _classes_by_line(tree)
    lines = text.splitlines(keepends=True)
    count = 0

    def enclosing(line: int) -> str | None:
        inside = [(first, name) for first, last, name in classes if first <= line <= last]
        return max(inside)[1] if inside else None

    # Last docstring first, so earlier line numbers stay valid while the line count changes.
    for first, last in sorted(_docstring_spans(tree), reverse=True):
        chunk = "".join(lines[first - 1 : last])
        if not ROLE.search(chunk):
            continue
        scope = enclosing(first)

        def replace(match: re.Match[str], scope: str | None = scope) -> str:
            nonlocal count
            count += 1
            raw = " ".join(match.group(2).split())  # a target wrapped over lines
            titled = re.fullmatch(r"(.*?)\s*<([^>]+)>", raw)
            title, target = (titled.group(1), titled.group(2)) if titled else (None, raw)
            shown = _display(target, title)
            identifier = resolver.resolve(target, module, scope)
            return f"[`{shown}`][{identifier}]" if identifier else f"`{shown}`"

        new = ROLE.sub(replace, chunk)
        wrapped = [part for line in new.splitlines(keepends=True) for part in _wrap(line)]
        lines[first - 1 : last] = wrapped
    return "".join(lines), count


def package_files() -> list[Path]:
    return sorted((ROOT / PACKAGE).rglob("*.py"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path, help="modules to convert (default: the whole package)")
    parser.add_argument("--site", type=Path, help="an already built site (default: build one)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a role is found")
    args = parser.parse_args(argv)
    files: Iterable[Path] = args.files or package_files()
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or build_site(Path(tmp) / "site")
        resolver = Resolver(read_inventory(site))
        total = 0
        for path in files:
            text = path.read_text(encoding="utf-8")
            new, count = convert_text(text, module_name(path), resolver)
            if count:
                total += count
                print(f"{path.relative_to(ROOT)}: {count} role(s)")
                if not args.check:
                    path.write_text(new, encoding="utf-8")
    print(f"{total} role(s) {'found' if args.check else 'converted'}")
    return 1 if args.check and total else 0


if __name__ == "__main__":
    raise SystemExit(main())
