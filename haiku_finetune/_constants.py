"""Shared constants that are not model facts: job statuses and polling schedules.

Facts about a base model (ids, limits, hyperparameter ranges) live in `haiku_finetune.base_models`, not
here. This module imports only `PollInterval` (stdlib underneath), so any module, and
the CLI's parser, can use it without loading the AWS layers. It must do no I/O.
"""

from __future__ import annotations

from ._wait import PollInterval

__all__ = [
    "DEPLOYMENT_DELETE_POLL",
    "DEPLOYMENT_POLL",
    "JOB_POLL",
    "JOB_STATUSES",
    "TERMINAL_JOB_STATUSES",
]

#: Every ``status`` GetModelCustomizationJob returns, in lifecycle order.
JOB_STATUSES: tuple[str, ...] = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")

#: Job statuses after which nothing changes any more.
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Stopped"})

#: Polling a customization job: jobs take hours, so polls start at 30 s and slow to 2 min.
JOB_POLL = PollInterval(initial=30.0, maximum=120.0, growth=1.25)

#: Polling a Provisioned Throughput until it is in service (about 20 minutes): the same gentle schedule.
DEPLOYMENT_POLL = PollInterval(initial=30.0, maximum=120.0, growth=1.25)

#: Polling a Provisioned Throughput until it is gone: deletion is quick, so every 5 s.
DEPLOYMENT_DELETE_POLL = PollInterval(initial=5.0, maximum=5.0, growth=1.0)
