"""Run LocalBedrock standalone: ``python -m haiku_finetune.local [--time-scale N] [--seed N]``."""

from __future__ import annotations

import argparse
import threading

from . import LocalBedrock


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted, printing the environment that points boto3 at the emulator."""
    parser = argparse.ArgumentParser(prog="python -m haiku_finetune.local", description=__doc__)
    parser.add_argument("--time-scale", type=float, default=60.0, help="emulated seconds per real second (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed for identifiers and loss curves")
    args = parser.parse_args(argv)
    with LocalBedrock(time_scale=args.time_scale, seed=args.seed) as local:
        for name, value in local.session_env().items():
            print(f"export {name}={value}")
        print("# LocalBedrock is running; press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("# stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
