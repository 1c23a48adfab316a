"""Shared constants that are not model facts: job statuses and polling schedules.

Facts about a base model (ids, limits, hyperparameter ranges) live in :mod:`haiku_finetune.base_models`, not
here. This module must import nothing from the package, so any module (and the CLI's parser) can use it
without loading the AWS layers.
"""

from __future__ import annotations

__all__ = ["DEFAULT_JOB_POLL", "JOB_STATUSES", "TERMINAL_JOB_STATUSES"]

#: Every ``status`` GetModelCustomizationJob returns, in lifecycle order.
JOB_STATUSES: tuple[str, ...] = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")

#: Job statuses after which nothing changes any more.
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Stopped"})

#: Polling schedule of a customization job, in seconds: (initial, maximum, growth per poll). Jobs take hours,
#: so polls start at 30 s and slow to 2 min.
DEFAULT_JOB_POLL: tuple[float, float, float] = (30.0, 120.0, 1.25)
