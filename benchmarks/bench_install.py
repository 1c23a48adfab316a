"""How heavy is ``pip install '.[local]'``? Packages, installed size and whether the emulator starts, in a fresh venv.

For each spec the script creates a new venv in a temporary directory, installs the project with it, counts the
distributions the install added (not the venv's own pip and setuptools), measures the whole venv on disk, and
runs a small check in the venv's own interpreter: start ``LocalBedrock``, create an S3 bucket, an IAM role, call
STS ``GetCallerIdentity`` and Bedrock ``ListFoundationModels``.
Targets for the current ``[local]`` extra: <= 35 packages, <= 175 MB.

    python benchmarks/bench_install.py            # the project's current [local] extra
    python benchmarks/bench_install.py --old      # ... and the round-1 spec, moto[server,s3,iam,sts], for comparison

It needs a package index (or the machine's wheel cache) and takes a minute or two per spec.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
#: The round-1 ``[local]`` extra, installed beside the bare project to reproduce the old footprint.
OLD_SPEC = "moto[server,s3,iam,sts]>=5.0"
MAX_PACKAGES = 35
_VENV_SEEDS = frozenset({"pip", "setuptools", "wheel"})
MAX_MEGABYTES = 175.0

#: Run inside the fresh venv: everything the emulator serves must answer once.
_CHECK = """
import boto3
from haiku_finetune.local import LocalBedrock

with LocalBedrock() as local:
    kwargs = dict(region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = boto3.client("s3", endpoint_url=local.s3_endpoint_url, **kwargs)
    s3.create_bucket(Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket="bench", Key="a.jsonl", Body=b"{}")
    iam = boto3.client("iam", endpoint_url=local.s3_endpoint_url, **kwargs)
    iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")
    sts = boto3.client("sts", endpoint_url=local.s3_endpoint_url, **kwargs)
    sts.get_caller_identity()
    bedrock = boto3.client("bedrock", endpoint_url=local.endpoint_url, **kwargs)
    models = bedrock.list_foundation_models()["modelSummaries"]
    print(len(models))
"""


@dataclass
class Footprint:
    """What one install cost."""

    label: str
    packages: int
    megabytes: float
    seconds: float
    emulator_ok: bool
    detail: str


def _disk_bytes(root: Path) -> int:
    """Bytes on disk under ``root`` (like ``du -s``), each hard-linked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                stat = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512
    return total


def measure(label: str, requirements: list[str]) -> Footprint:
    """Install ``requirements`` into a fresh venv and measure it."""
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        began = time.perf_counter()
        subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=True)
        seconds = time.perf_counter() - began
        listed = subprocess.run(
            [python, "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True
        ).stdout
        # pip and setuptools come with the venv itself, not with the install: count what the install added.
        packages = len([d for d in json.loads(listed) if d["name"].lower() not in _VENV_SEEDS])
        megabytes = _disk_bytes(venv) / 1e6
        check = subprocess.run([python, "-c", _CHECK], capture_output=True, text=True, timeout=120, cwd=tmp)
        ok = check.returncode == 0
        detail = check.stdout.strip() if ok else (check.stderr.strip().splitlines() or ["(no output)"])[-1]
        return Footprint(label, packages, megabytes, seconds, ok, detail)


def _print(result: Footprint) -> None:
    status = f"emulator starts, {result.detail} foundation models listed" if result.emulator_ok else "EMULATOR FAILED"
    print(
        f"{result.label:<34} {result.packages:>4} packages  {result.megabytes:>7.1f} MB  "
        f"{result.seconds:>6.1f} s install  {status}"
    )
    if not result.emulator_ok:
        print(f"    {result.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help=f"also measure the round-1 spec ({OLD_SPEC})")
    parser.add_argument("--project", type=Path, default=PROJECT, help="the checkout to install (default: this one)")
    args = parser.parse_args()
    project = str(args.project.resolve())

    results = [measure("haiku-finetune[local] (current)", [f"{project}[local]"])]
    _print(results[0])
    if args.old:
        results.append(measure(f"haiku-finetune + {OLD_SPEC}", [project, OLD_SPEC]))
        _print(results[1])
        new, old = results
        print(
            f"current / old: packages {new.packages / old.packages:.2f}, size {new.megabytes / old.megabytes:.2f}, "
            f"install time {new.seconds / old.seconds:.2f}"
        )
    current = results[0]
    within = current.packages <= MAX_PACKAGES and current.megabytes <= MAX_MEGABYTES and current.emulator_ok
    print(f"target <= {MAX_PACKAGES} packages and <= {MAX_MEGABYTES:g} MB with a working emulator: {within}")
    sys.exit(0 if within else 1)


if __name__ == "__main__":
    main()
