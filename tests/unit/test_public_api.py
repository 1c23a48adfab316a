"""The public surface: explicit, typed, and light to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import haiku_finetune as hf


def test_every_public_name_exists_once() -> None:
    for name in hf.__all__:
        assert hasattr(hf, name), name
    assert len(set(hf.__all__)) == len(hf.__all__)


def test_package_is_typed() -> None:
    assert (Path(hf.__file__).parent / "py.typed").is_file()


def test_version_is_a_string() -> None:
    assert isinstance(hf.__version__, str)
    assert hf.__version__[0].isdigit()


def test_import_pulls_in_no_optional_extra() -> None:
    code = (
        "import sys, haiku_finetune; "
        "heavy = [m for m in ('pandas', 'matplotlib', 'moto', 'jsonschema', 'flask') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing haiku_finetune imported optional extras: {out}"


def test_every_public_dataset_name_is_re_exported() -> None:
    missing = [name for name in hf.datasets.__all__ if name not in hf.__all__]
    assert not missing, f"haiku_finetune.datasets names missing from haiku_finetune.__all__: {missing}"
    for name in hf.datasets.__all__:
        assert getattr(hf, name) is getattr(hf.datasets, name), name


# -- the lazy face ------------------------------------------------------------------------------------------------


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet) and return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_all_matches_the_lazy_mapping_and_dir_lists_it() -> None:
    from haiku_finetune import _EXPORTS, _SUBMODULES

    mapped = {name for names in _EXPORTS.values() for name in names} | set(_SUBMODULES) | {"__version__"}
    assert set(hf.__all__) == mapped
    assert len(hf.__all__) == len(set(hf.__all__))
    # In a fresh process nothing has been resolved yet: dir() must list every public name anyway.
    listed = _fresh("import haiku_finetune as hf; print(' '.join(dir(hf)))").split()
    assert set(hf.__all__) <= set(listed)


def test_every_public_name_resolves_from_a_fresh_import() -> None:
    code = (
        "import haiku_finetune as hf\n"
        "missing = [n for n in hf.__all__ if getattr(hf, n, None) is None]\n"
        "print(','.join(missing))"
    )
    assert _fresh(code) == ""


def test_each_name_is_the_one_its_module_defines() -> None:
    import importlib

    from haiku_finetune import _EXPORTS

    for module, names in _EXPORTS.items():
        defining = importlib.import_module(f"haiku_finetune.{module}")
        for name in names:
            assert getattr(hf, name) is getattr(defining, name), f"{name} from {module}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = hf.no_such_name  # type: ignore[attr-defined]


def test_import_loads_no_aws_or_pydantic_code() -> None:
    heavy = ("boto3", "botocore", "pydantic", "pydantic_core", "tenacity", "tqdm", "orjson")
    code = f"import sys, haiku_finetune; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    assert _fresh(code) == "", "import haiku_finetune must load no heavy module"
    # The version and the base model id are at hand without loading anything heavy either.
    code = (
        f"import sys, haiku_finetune as hf; hf.__version__; hf.BASE_MODEL_ID; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    assert _fresh(code) == ""


def test_attribute_access_loads_only_the_defining_module() -> None:
    code = "import sys, haiku_finetune as hf; hf.simulate_early_stopping; print('haiku_finetune.jobs' in sys.modules)"
    assert _fresh(code) == "False"


def _package_modules() -> list[str]:
    root = Path(hf.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_module_imports_the_package_face() -> None:
    """``from . import X`` of a face name (not a submodule) from inside the package would make a cycle."""
    import ast

    root = Path(hf.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "__init__.py":
            continue
        package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or (node.level == 0 and node.module != "haiku_finetune"):
                continue
            if node.level:
                target = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{target}.{node.module}" if node.module else target
            else:
                target = "haiku_finetune"
            if target != "haiku_finetune":
                continue
            for alias in node.names:
                if not (root / alias.name).is_dir() and not (root / f"{alias.name}.py").is_file():
                    offenders.append(f"{path.relative_to(root.parent)}:{node.lineno}: from the face: {alias.name}")
    assert not offenders, "\n".join(offenders)


def test_no_import_cycles_between_submodules() -> None:
    """Import every submodule, in a random order, each in a fresh interpreter: a cycle fails one of them."""
    import random

    modules = _package_modules()
    order = modules[:]
    random.Random().shuffle(order)
    code = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        f"for name in {order!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'haiku_finetune' or m.startswith('haiku_finetune.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as error:\n"
        "        if 'partially initialized' in str(error) or 'circular' in str(error):\n"
        "            failed.append(f'{name}: {error}')\n"
        "        elif getattr(error, 'name', '') not in ('moto', 'matplotlib', 'pandas', 'jsonschema', 'flask'):\n"
        "            failed.append(f'{name}: {error}')\n"
        "print('\\n'.join(failed))\n"
    )
    assert _fresh(code) == "", f"order tried: {order}"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules its body imports when it runs (``TYPE_CHECKING`` blocks and imports inside
    functions left out: they run later, once every module is initialised)."""
    import ast

    root = Path(hf.__file__).parent
    files: dict[str, tuple[Path, bool]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (path, is_package)

    def runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
        found: list[ast.Import | ast.ImportFrom] = []
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            found.extend(n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
        return [n for n in found if not _inside_function(tree, n)]

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in files.items():
        package = name if is_package else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names if alias.name in files)
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files]
            deps.update(submodules)
            if len(submodules) < len(node.names) and target in files:
                deps.add(target)  # names taken from the module itself: it must have finished running
        graph[name] = deps - {name}
    return graph


def _inside_function(tree: object, target: object) -> bool:
    import ast

    for node in ast.walk(tree):  # type: ignore[arg-type]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(n is target for n in ast.walk(node)):
            return True
    return False


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = _import_graph()
    assert "haiku_finetune.cli.main" in graph and "haiku_finetune.demo" in graph
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_cli_and_demo_do_not_import_each_other() -> None:
    graph = _import_graph()
    cli = {name for name in graph if name.startswith("haiku_finetune.cli")}
    assert not graph["haiku_finetune.demo"] & cli
    assert all("haiku_finetune.demo" not in graph[name] for name in cli)


def test_the_demo_never_imports_the_cli_even_inside_a_function() -> None:
    import ast

    source = (Path(hf.__file__).parent / "demo.py").read_text(encoding="utf-8")
    imported = [node.module or "" for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)] + [
        alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for alias in node.names
    ]
    assert not [name for name in imported if name == "cli" or ".cli" in name or name.startswith("cli")]
