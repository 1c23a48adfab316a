"""How long do ``import haiku_finetune`` and ``haiku-finetune --help`` take, next to importing boto3?

Run: ``python benchmarks/bench_import.py [--runs N]`` (default 11; at least 9). Each measurement starts a fresh
interpreter (so nothing is cached in ``sys.modules``; the OS file cache is warm after the first run), and the
four commands are interleaved round by round so all of them see the same machine load. It reports the median wall
time of each and two ratios:

- ``import haiku_finetune`` / ``import boto3`` (target <= 1.3x): the package face loads lazily, so importing it
  costs less than the one dependency every AWS program pays for anyway;
- ``haiku-finetune --help`` / ``python -c "import boto3"`` (target <= 1.2x): the parser loads no AWS code.

The console script is used when it is on PATH next to this interpreter, else ``python -m haiku_finetune``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_IMPORT = 1.3
TARGET_HELP = 1.2


def _help_command() -> list[str]:
    script = Path(sys.executable).with_name("haiku-finetune")
    if script.exists():
        return [str(script), "--help"]
    found = shutil.which("haiku-finetune")
    return [found, "--help"] if found else [sys.executable, "-m", "haiku_finetune", "--help"]


def _time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per command (at least 9; default 11)")
    args = parser.parse_args(argv)
    runs = max(9, args.runs)
    commands = {
        "import haiku_finetune": [sys.executable, "-c", "import haiku_finetune"],
        "import boto3": [sys.executable, "-c", "import boto3"],
        "haiku-finetune --help": _help_command(),
        "python (no import)": [sys.executable, "-c", "pass"],
    }
    for command in commands.values():  # warm the file cache and any .pyc writing, untimed
        _time(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_time(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"median of {runs} fresh processes each ({sys.version.split()[0]}, {' '.join(_help_command()[:1])})")
    for name, value in median.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(f"  {name:<24} {value:.3f} s   (range {spread} s)")
    ratio_import = median["import haiku_finetune"] / median["import boto3"]
    ratio_help = median["haiku-finetune --help"] / median["import boto3"]
    ok_import = "ok" if ratio_import <= TARGET_IMPORT else "ABOVE TARGET"
    ok_help = "ok" if ratio_help <= TARGET_HELP else "ABOVE TARGET"
    print(
        f"import haiku_finetune / import boto3:           {ratio_import:.2f}x (target <= {TARGET_IMPORT}x) {ok_import}"
    )
    print(f"haiku-finetune --help / python -c 'import boto3': {ratio_help:.2f}x (target <= {TARGET_HELP}x) {ok_help}")
    return 0 if ratio_import <= TARGET_IMPORT and ratio_help <= TARGET_HELP else 1


if __name__ == "__main__":
    raise SystemExit(main())
