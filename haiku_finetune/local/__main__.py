"""Run LocalBedrock standalone: ``python -m haiku_finetune.local [--port N] [--time-scale X] [--seed N]``.

The same entry point as ``haiku-finetune local serve`` (``serve.py``); this module must not add options of its own.
"""

from __future__ import annotations

from .serve import serve_main

if __name__ == "__main__":
    raise SystemExit(serve_main())
