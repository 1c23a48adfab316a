"""How fast is ``validate_file`` next to the least any validator must do (parse each line), and how much memory?

Run: ``python benchmarks/bench_validate.py`` (add ``--quick`` for a smaller, faster run; ``--rss-gb 0`` skips the
memory run). It generates, in a temporary folder:

(a) 10,000 long records (~100 MB): 1-3 turns, 200-1,500 words per user turn;
(b) 200,000 short records (~200 bytes each);

then, in this one process, times ``validate_file`` against a bare loop that only ``orjson.loads`` each line of
the same file (best of several interleaved rounds, so both see the same disk cache and machine load), plus a
reference validator written the common way (one pydantic model per record, fewer rules) for scale. Finally it
validates two ~1 GB files, each in a fresh child process, and reports each child's peak RSS next to the peak RSS
of a child that only imports the library: (a) repeated (few, long records), and a file of millions of distinct
short records (what makes per-record bookkeeping grow, if any is left). Targets (issues 3 and 14): (a) <= 1.5x,
(b) <= 3x, peak RSS <= 100 MB on 1 GB. Since issue 14 ``validate_file`` also reads lines with a bound (4 MiB)
and checks every record for duplicate keys (by arithmetic on the compact length for the common case), so the
figures include both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import orjson
import pydantic

from haiku_finetune import validate_file

_WORDS = [
    "order",
    "arrived",
    "late",
    "box",
    "damaged",
    "refund",
    "replacement",
    "please",
    "account",
    "charged",
    "twice",
    "month",
    "invoice",
    "check",
    "billing",
    "history",
    "summarize",
    "conversation",
    "between",
    "support",
    "agent",
    "customer",
    "three",
    "sentences",
    "the",
    "a",
    "and",
    "was",
    "for",
    "can",
    "you",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def write_long(path: Path, records: int, seed: int = 1) -> None:
    """Records of 1-3 turns with 200-1,500 words per user turn (about 10 kB each)."""
    rng = random.Random(seed)
    with open(path, "wb") as out:
        for i in range(records):
            messages = []
            for _ in range(rng.randint(1, 3)):
                messages.append({"role": "user", "content": f"{i} " + _text(rng, rng.randint(200, 1500))})
                messages.append({"role": "assistant", "content": _text(rng, rng.randint(20, 120))})
            record: dict[str, object] = {"messages": messages}
            if i % 2:
                record = {"system": "You are a concise support assistant.", **record}
            out.write(orjson.dumps(record) + b"\n")


def write_short(path: Path, records: int, seed: int = 2) -> None:
    """Records of about 200 bytes: one short question and answer."""
    rng = random.Random(seed)
    with open(path, "wb") as out:
        for i in range(records):
            record = {
                "messages": [
                    {"role": "user", "content": f"{i} " + _text(rng, 12)},
                    {"role": "assistant", "content": _text(rng, 8)},
                ]
            }
            out.write(orjson.dumps(record) + b"\n")


def bare_loop(path: Path) -> int:
    """The floor: read each line and parse it, nothing else."""
    n = 0
    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            n += 1
    return n


class _Message(pydantic.BaseModel):
    role: Literal["user", "assistant"]
    content: str


class _Record(pydantic.BaseModel):
    system: str | None = None
    messages: list[_Message]


def pydantic_per_record(path: Path) -> int:
    """The common way: ``json.loads`` each line, then one pydantic model per record (schema only: no limits,
    duplicates, token or line rules)."""
    problems = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = _Record.model_validate(json.loads(line))
            except (ValueError, pydantic.ValidationError):
                problems += 1
                continue
            roles = [m.role for m in record.messages]
            if len(roles) < 2 or roles[0] != "user" or roles[-1] != "assistant":
                problems += 1
    return problems


def _best(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _compare(label: str, path: Path, split: Literal["train", "validation"], rounds: int) -> dict[str, float]:
    report = validate_file(path, split=split)
    size = path.stat().st_size
    times = _best(
        {
            "bare": lambda: bare_loop(path),
            "validate_file": lambda: validate_file(path, split=split),
            "pydantic": lambda: pydantic_per_record(path),
        },
        rounds,
    )
    ratio = times["validate_file"] / times["bare"]
    reference = times["pydantic"] / times["bare"]
    print(f"{label}: {report.stats.records:,} records, {size / 1e6:.1f} MB, {len(report.errors)} errors")
    print(f"  bare orjson loop    {times['bare']:.3f} s  ({size / 1e6 / times['bare']:.0f} MB/s)")
    print(f"  validate_file       {times['validate_file']:.3f} s  = {ratio:.2f}x bare")
    print(f"  pydantic per record {times['pydantic']:.3f} s  = {reference:.2f}x bare")
    print(f"  validate_file is {times['pydantic'] / times['validate_file']:.2f}x faster than the pydantic reference")
    return {"ratio": ratio, "reference": reference}


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of this (large) process would report ours.
_CHILD = """
import sys
from haiku_finetune import validate_file
if len(sys.argv) > 1:
    report = validate_file(sys.argv[1], max_issues=1000)
    print(report.stats.records, report.stats.file_size, len(report.errors) + report.omitted_errors)
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _child_rss(*args: str) -> tuple[int, str]:
    """Peak RSS (kB) of a fresh interpreter running the child script; and its first output line."""
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True).stdout
    lines = out.split()
    return int(lines[-1]), " ".join(lines[:-1])


def _write_repeated(path: Path, chunk: bytes, target: int) -> None:
    with open(path, "wb") as out:
        written = 0
        while written < target:
            out.write(chunk)
            written += len(chunk)


def _write_many_short(path: Path, target: int) -> None:
    """Distinct records of about 100 bytes each until ``target`` bytes: no two lines alike."""
    with open(path, "wb") as out:
        written = i = 0
        while written < target:
            batch = b"".join(
                b'{"messages":[{"role":"user","content":"question %d: where is my order?"},'
                b'{"role":"assistant","content":"it ships tomorrow"}]}\n' % n
                for n in range(i, i + 10_000)
            )
            out.write(batch)
            written += len(batch)
            i += 10_000


def _rss_run(label: str, big: Path) -> float:
    start = time.perf_counter()
    peak, summary = _child_rss(str(big))
    elapsed = time.perf_counter() - start
    records, size, errors = (int(x) for x in summary.split())
    print(f"1 GB run, {label}: {records:,} records, {size / 1e9:.2f} GB, {errors:,} errors, {elapsed:.1f} s")
    print(f"  peak RSS validating: {peak / 1024:.1f} MB")
    big.unlink()
    return peak / 1024


def _rss(long_path: Path, gigabytes: float) -> float:
    """Peak RSS (MB) of validating each ~``gigabytes`` file in a fresh process; returns the larger."""
    target = int(gigabytes * 1e9)
    baseline, _ = _child_rss()
    print(f"memory: interpreter + imports alone: {baseline / 1024:.1f} MB")
    big = long_path.with_name("big-long.jsonl")
    _write_repeated(big, long_path.read_bytes(), target)
    long_peak = _rss_run("long records repeated", big)
    big = long_path.with_name("big-short.jsonl")
    _write_many_short(big, target)
    short_peak = _rss_run("distinct short records", big)
    return max(long_peak, short_peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, 2 rounds")
    # 9, not 5: on a shared machine (2 CPUs, other people's test runs) 5 interleaved rounds often left no round of
    # one side untouched by a neighbour's burst; more rounds, for both sides alike, make the best of them steadier.
    parser.add_argument("--rounds", type=int, default=9, help="timing rounds (best of)")
    parser.add_argument("--rss-gb", type=float, default=1.0, help="size of the memory run in GB (0 skips it)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rounds = 2 if args.quick else args.rounds
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {rounds} rounds")
    with tempfile.TemporaryDirectory() as folder:
        long_path, short_path = Path(folder, "long.jsonl"), Path(folder, "short.jsonl")
        write_long(long_path, 10_000 // scale)
        write_short(short_path, 200_000 // scale)
        a = _compare("(a) long records", long_path, "train", rounds)
        b = _compare("(b) short records", short_path, "train", rounds)
        peak = _rss(long_path, args.rss_gb) if args.rss_gb > 0 else None
    memory = f", peak RSS (larger of the two 1 GB runs) {peak:.0f} MB <= 100 MB" if peak is not None else ""
    print(f"targets: (a) {a['ratio']:.2f}x <= 1.5x, (b) {b['ratio']:.2f}x <= 3x{memory}")


if __name__ == "__main__":
    main()
