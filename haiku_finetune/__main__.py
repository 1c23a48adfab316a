"""``python -m haiku_finetune``: the same as the ``haiku-finetune`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
