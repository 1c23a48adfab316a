"""Hyperparameter search: run several fine-tuning jobs and keep the settings with the best validation loss.

``search(base_job_args, grid={...})`` tries every combination of a grid; ``search(base_job_args,
space={...}, trials=N)`` samples N combinations at random (seeded) from lists,
[`Uniform`][haiku_finetune.search.Uniform],
[`LogUniform`][haiku_finetune.search.LogUniform] and [`IntUniform`][haiku_finetune.search.IntUniform] ranges. Every
combination is checked against the documented
ranges before anything is submitted. Jobs run at most ``max_parallel`` at a time (customization jobs are
limited per account; when the service says the quota is reached, the search waits for one of its own jobs to
finish and tries again), each job's best validation loss is read from its metrics, and the result is a
leaderboard. ``plan_only=True`` prints the jobs and their estimated billed tokens and submits nothing.

Jobs are [`CustomizationJob`][haiku_finetune.jobs.CustomizationJob]; waiting goes through the shared poll loop on the
transport's clock. Jobs are never stopped or deleted here: a failed trial is recorded, not retried.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict

from ._carried import CarriesTransport
from ._names import generate_name
from ._transport import BedrockTransport, resolve_transport
from ._wait import PollInterval, PollState, wait_for
from .errors import HyperparameterError, MissingExtraError, QuotaExceededError, WaitTimeoutError
from .hyperparameters import HYPERPARAMETER_RANGES, Hyperparameters
from .jobs import CustomizationJob

if TYPE_CHECKING:
    import pandas

__all__ = ["IntUniform", "LogUniform", "SearchResult", "Trial", "Uniform", "search"]

_log = logging.getLogger(__name__)

#: Customization-job statuses after which a job changes no more.
_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        """Draw one value."""
        return round(rng.uniform(self.low, self.high), 6)


@dataclass(frozen=True)
class LogUniform:
    """A float whose logarithm is uniform on ``[log low, log high]`` (for learning-rate multipliers)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low <= 0 or self.high < self.low:
            raise ValueError(f"LogUniform needs 0 < low <= high, got ({self.low}, {self.high})")

    def sample(self, rng: random.Random) -> float:
        """Draw one value."""
        return round(math.exp(rng.uniform(math.log(self.low), math.log(self.high))), 6)


@dataclass(frozen=True)
class IntUniform:
    """An integer drawn uniformly from ``low`` to ``high`` inclusive."""

    low: int
    high: int

    def sample(self, rng: random.Random) -> int:
        """Draw one value."""
        return rng.randint(self.low, self.high)


Dimension = Sequence[Any] | Uniform | LogUniform | IntUniform


class Trial(CarriesTransport):
    """One combination of hyperparameters and the job that tried it (carrying the search's transport, so that
    ``trial.job()`` reaches the same endpoint).

    Attributes:
        index: The trial's number (0-based, in submission order).
        values: The searched hyperparameters of this trial (snake_case names).
        hyperparameters: Every hyperparameter the job ran with (base settings plus ``values``).
        job_name: The job's name.
        job_arn: The job's ARN (``None`` for a plan).
        status: ``Planned``, ``InProgress``, ``Completed``, ``Failed`` or ``Stopped``.
        objective: The best validation loss over the job's epochs (``None`` until known).
        best_epoch: The epoch that reached it, when the metrics say.
        failure_message: The service's explanation for a failed job.
        estimated_tokens: Billed training tokens the plan estimated (tokens in the data × epochs).
        estimated_cost: The plan's training-cost estimate (needs ``pricing`` in the job arguments).
    """

    model_config = ConfigDict(extra="forbid")

    index: int
    values: dict[str, int | float]
    hyperparameters: dict[str, int | float]
    job_name: str
    job_arn: str | None = None
    status: str = "Planned"
    objective: float | None = None
    best_epoch: int | None = None
    failure_message: str | None = None
    estimated_tokens: int | None = None
    estimated_cost: float | None = None

    def job(self) -> CustomizationJob:
        """The trial's customization job, on the search's transport.

        Raises:
            ValueError: The trial was only planned, never submitted.
        """
        if self.job_arn is None:
            raise ValueError(f"trial {self.index} was not submitted, so it has no job")
        return CustomizationJob.attach(self.job_arn, transport=self._transport)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trial):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like any pydantic model


class SearchResult(BaseModel):
    """The outcome of [`search`][haiku_finetune.search.search].

    Attributes:
        objective: What was minimized (``"validation_loss"``).
        trials: Every trial, in submission order.
        planned: True when this is a plan (``plan_only=True``): nothing was submitted.
        estimated_tokens: Billed training tokens over all trials, when every plan knew them.
        estimated_cost: Training cost over all trials, when every plan had a price.
    """

    model_config = ConfigDict(extra="forbid")

    objective: str
    trials: list[Trial]
    planned: bool = False
    estimated_tokens: int | None = None
    estimated_cost: float | None = None

    @property
    def leaderboard(self) -> list[Trial]:
        """Trials ordered best first: scored trials by objective, then the rest in submission order."""
        scored = sorted((t for t in self.trials if t.objective is not None), key=lambda t: (t.objective, t.index))
        return scored + [t for t in self.trials if t.objective is None]

    @property
    def best(self) -> Trial | None:
        """The trial with the lowest objective (``None`` when no trial produced one)."""
        board = self.leaderboard
        return board[0] if board and board[0].objective is not None else None

    @property
    def best_hyperparameters(self) -> Hyperparameters | None:
        """The best trial's hyperparameters, ready for ``CustomizationJob.create``."""
        best = self.best
        return Hyperparameters(**best.hyperparameters) if best else None

    def to_markdown(self) -> str:
        """Return the leaderboard as a Markdown table."""
        keys = sorted({k for t in self.trials for k in t.values})
        header = ["rank", "trial", *keys, self.objective, "best epoch", "status", "job"]
        if self.planned:
            header = ["trial", *keys, "epochs", "estimated tokens", "job"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for rank, t in enumerate(self.leaderboard if not self.planned else self.trials, start=1):
            values = [_fmt(t.values.get(k)) for k in keys]
            if self.planned:
                tokens = f"{t.estimated_tokens:,}" if t.estimated_tokens is not None else "unknown"
                cells = [str(t.index), *values, _fmt(t.hyperparameters.get("epoch_count")), tokens, t.job_name]
            else:
                objective = f"{t.objective:.4f}" if t.objective is not None else "n/a"
                status = t.status + (f" ({t.failure_message})" if t.failure_message else "")
                ranking = str(rank) if t.objective is not None else "-"
                cells = [ranking, str(t.index), *values, objective, _fmt(t.best_epoch), status, t.job_name]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if self.planned and self.estimated_tokens is not None:
            lines += ["", f"Estimated billed training tokens over all trials: {self.estimated_tokens:,}"]
        if self.planned and self.estimated_cost is not None:
            lines += [f"Estimated training cost over all trials: {self.estimated_cost:,.2f}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def to_pandas(self) -> pandas.DataFrame:
        """Return one DataFrame row per trial, best first.

        Raises:
            MissingExtraError: pandas is not installed (the ``pandas`` extra).
        """
        try:
            import pandas
        except ImportError as error:
            raise MissingExtraError("SearchResult.to_pandas()", "pandas", "pandas") from error
        records = [{**t.values, **t.model_dump(exclude={"values", "hyperparameters"})} for t in self.leaderboard]
        frame: pandas.DataFrame = pandas.DataFrame.from_records(records)
        return frame


def search(
    base_job_args: Mapping[str, Any],
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    space: Mapping[str, Dimension] | None = None,
    trials: int | None = None,
    seed: int = 0,
    max_parallel: int = 2,
    objective: Literal["validation_loss"] = "validation_loss",
    budget: int | None = None,
    plan_only: bool = False,
    timeout: float | None = None,
    progress: bool = True,
    poll_interval: PollInterval | None = None,
    out: TextIO | None = None,
    transport: BedrockTransport | None = None,
) -> SearchResult:
    """Search hyperparameters by running fine-tuning jobs; return a leaderboard by best validation loss.

    Args:
        base_job_args: Keyword arguments for [`CustomizationJob.create`][haiku_finetune.jobs.CustomizationJob.create]
            shared by every trial
            (``training_data``, ``validation_data``, ``output_uri``, ``role_arn``, ``staging_uri``, ...).
            ``hyperparameters`` there are the base settings each trial overrides; ``job_name`` and
            ``custom_model_name``, when given, become prefixes (``<name>-t00``, ``-t01``, ...).
        grid: Values to try for each hyperparameter (snake_case names, e.g.
            ``{"learning_rate_multiplier": [0.5, 1.0], "epoch_count": [2, 3]}``); every combination runs.
        space: For random search: a list of choices or a
            [`Uniform`][haiku_finetune.search.Uniform]/[`LogUniform`][haiku_finetune.search.LogUniform]/
            [`IntUniform`][haiku_finetune.search.IntUniform] range per hyperparameter.
        trials: How many random combinations to draw from ``space`` (default: ``budget``).
        seed: Random seed for ``space`` sampling.
        max_parallel: Jobs running at once (default 2; customization jobs have a per-account quota).
        objective: What to minimize: ``"validation_loss"``, the best (lowest) validation loss over epochs.
        budget: The most jobs this search may submit; a larger grid is refused before anything runs.
        plan_only: Print the trials and estimated billed tokens, submit nothing, return the plan.
        timeout: Seconds the whole search may wait (``None``: no limit); running jobs keep going after it.
        progress: Show a progress bar while waiting.
        poll_interval: How often to poll the running jobs.
        out: Where ``plan_only`` prints (default: standard output).
        transport: The transport to use; its clock times the waits.

    Returns:
        The [`SearchResult`][haiku_finetune.search.SearchResult]: every trial, ``best``, ``best_hyperparameters``,
        ``leaderboard``.

    Raises:
        ValueError: Neither or both of ``grid``/``space``, an empty dimension, a grid over ``budget``,
            missing ``validation_data``, or a reserved argument in ``base_job_args``.
        HyperparameterError: A combination is outside the documented ranges (nothing was submitted).
        WaitTimeoutError: ``timeout`` passed; the trials so far are in the error's ``result`` attribute.
    """
    if (grid is None) == (space is None):
        raise ValueError("give exactly one of grid= (every combination) or space= (random sampling)")
    if objective != "validation_loss":
        raise ValueError(f"objective must be 'validation_loss', got {objective!r}")
    if max_parallel < 1:
        raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
    if budget is not None and budget < 1:
        raise ValueError(f"budget must be at least 1 job, got {budget}")
    args = dict(base_job_args)
    for reserved in ("transport", "hyperparameters_grid"):
        if reserved in args:
            raise ValueError(f"pass {reserved!r} to search() itself, not in base_job_args")
    if args.get("validation_data") is None:
        raise ValueError("the objective validation_loss needs validation_data in base_job_args")

    combos = _combinations(grid, space, trials=trials if trials is not None else budget, seed=seed)
    if budget is not None and len(combos) > budget:
        raise ValueError(
            f"the search has {len(combos)} combinations but budget allows {budget} jobs; "
            "shrink the grid or raise budget"
        )
    base = _base_hyperparameters(args.pop("hyperparameters", None))
    job_prefix = _prefix(args.pop("job_name", None), "hp-search")
    model_prefix = _prefix(args.pop("custom_model_name", None), "hp-search").replace(".", "-")
    planned: list[tuple[Trial, dict[str, Any]]] = []
    for index, values in enumerate(combos):
        merged = {**base, **values}
        try:
            hyper = Hyperparameters(**merged)
        except HyperparameterError as error:
            raise HyperparameterError(
                f"trial {index} {values}: {error}", field=error.field, value=error.value
            ) from error
        trial = Trial(
            index=index,
            values=values,
            hyperparameters=hyper.resolved(),
            job_name=f"{job_prefix}-t{index:02d}",
        )
        job_args = {
            **args,
            "hyperparameters": hyper,
            "job_name": trial.job_name,
            "custom_model_name": f"{model_prefix}-t{index:02d}",
        }
        planned.append((trial, job_args))

    transport = resolve_transport(transport)
    for trial, _ in planned:
        trial._transport = transport
    if plan_only:
        return _plan(planned, objective=objective, out=out or sys.stdout, transport=transport)
    return _run(
        planned,
        objective=objective,
        max_parallel=max_parallel,
        timeout=timeout,
        progress=progress,
        interval=poll_interval,
        transport=transport,
    )


def _combinations(
    grid: Mapping[str, Sequence[Any]] | None,
    space: Mapping[str, Dimension] | None,
    *,
    trials: int | None,
    seed: int,
) -> list[dict[str, int | float]]:
    dimensions = grid if grid is not None else space
    assert dimensions is not None
    if not dimensions:
        raise ValueError("the search space is empty: name at least one hyperparameter")
    for name, dimension in dimensions.items():
        if name not in HYPERPARAMETER_RANGES:
            raise ValueError(f"unknown hyperparameter {name!r}; expected some of {list(HYPERPARAMETER_RANGES)}")
        if isinstance(dimension, (str, bytes)) or (
            not isinstance(dimension, (Uniform, LogUniform, IntUniform)) and not isinstance(dimension, Sequence)
        ):
            raise ValueError(f"{name}: give a list of values or a Uniform/LogUniform/IntUniform range")
        if grid is not None and not isinstance(dimension, Sequence):
            raise ValueError(f"{name}: a grid takes a list of values; ranges are for space= (random search)")
        if isinstance(dimension, Sequence) and len(dimension) == 0:
            raise ValueError(f"{name}: no values to try")
    if grid is not None:
        names = list(grid)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]
    assert space is not None
    if trials is None or trials < 1:
        raise ValueError("random search needs trials= (or budget=): how many combinations to draw")
    rng = random.Random(seed)
    drawn: list[dict[str, int | float]] = []
    for _ in range(trials):
        values: dict[str, int | float] = {}
        for name, dimension in space.items():
            if isinstance(dimension, (Uniform, LogUniform, IntUniform)):
                values[name] = dimension.sample(rng)
            else:
                values[name] = rng.choice(list(dimension))
        drawn.append(values)
    return drawn


def _base_hyperparameters(value: Any) -> dict[str, int | float]:
    if value is None:
        return {}
    if isinstance(value, Hyperparameters):
        return dict(value.model_dump(exclude_unset=True))
    if isinstance(value, Mapping):
        return dict(Hyperparameters(**value).model_dump(exclude_unset=True))
    raise TypeError(f"hyperparameters must be Hyperparameters or a dict, got {type(value).__name__}")


def _prefix(given: Any, default: str) -> str:
    if given:
        return _UNSAFE.sub("-", str(given)).strip("-")[:55] or default
    return generate_name(default, "job", reserve=len("-t00"))


def _plan(
    planned: Sequence[tuple[Trial, dict[str, Any]]], *, objective: str, out: TextIO, transport: BedrockTransport
) -> SearchResult:
    trials: list[Trial] = []
    total: int | None = 0
    total_cost: float | None = 0.0
    for trial, job_args in planned:
        plan = CustomizationJob.plan(**job_args, transport=transport)
        tokens, cost = plan.estimate.training_tokens, plan.estimate.cost
        trials.append(trial.model_copy(update={"estimated_tokens": tokens, "estimated_cost": cost}))
        total = None if tokens is None or total is None else total + tokens
        total_cost = None if cost is None or total_cost is None else total_cost + cost
        if plan.failures:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in plan.failures)
            print(f"trial {trial.index} ({trial.job_name}) would fail its checks: {failed}", file=out)
    result = SearchResult(
        objective=objective, trials=trials, planned=True, estimated_tokens=total, estimated_cost=total_cost
    )
    print(f"Hyperparameter search plan: {len(trials)} jobs (nothing submitted)", file=out)
    print(result.to_markdown(), file=out)
    return result


def _run(
    planned: Sequence[tuple[Trial, dict[str, Any]]],
    *,
    objective: str,
    max_parallel: int,
    timeout: float | None,
    progress: bool,
    interval: PollInterval | None,
    transport: BedrockTransport,
) -> SearchResult:
    trials = {trial.index: trial for trial, _ in planned}
    pending = [(trial.index, job_args) for trial, job_args in planned]
    running: dict[int, CustomizationJob] = {}
    clock = transport.clock
    started = clock.monotonic()
    limit = max_parallel

    def snapshot() -> SearchResult:
        return SearchResult(objective=objective, trials=[trials[i] for i in sorted(trials)])

    while pending or running:
        while pending and len(running) < limit:
            index, job_args = pending[0]
            try:
                job = CustomizationJob.create(**job_args, transport=transport)
            except QuotaExceededError:
                if not running:
                    raise
                # Our own running jobs hold the quota: run with what we have and retry when one ends.
                limit = len(running)
                _log.warning("customization-job quota reached; waiting for a running trial before submitting more")
                break
            pending.pop(0)
            running[index] = job
            trials[index] = trials[index].model_copy(update={"job_arn": job.arn, "status": "InProgress"})
            _log.info("trial %d submitted as %s", index, job.arn)

        def fetch() -> PollState:
            done = []
            for index, job in running.items():
                job.refresh()
                if job.status in _TERMINAL:
                    done.append(index)
            left = len(pending) + len(running) - len(done)
            return PollState(
                status=f"{len(done)} finished" if done else "running",
                detail=f"{len(running)} running, {left} to go",
                finished=bool(done),
                value=done,
            )

        remaining = None if timeout is None else max(0.0, timeout - (clock.monotonic() - started))
        try:
            state = wait_for(
                fetch,
                what=f"hyperparameter search ({len(trials)} trials)",
                clock=clock,
                timeout=remaining,
                interval=interval,
                progress=progress,
                reattach_hint="running jobs: " + ", ".join(j.arn for j in running.values()),
            )
        except WaitTimeoutError as error:
            error.result = snapshot()  # type: ignore[attr-defined]
            raise
        for index in state.value:
            trials[index] = _finish(trials[index], running.pop(index))
        limit = max_parallel
    return snapshot()


def _finish(trial: Trial, job: CustomizationJob) -> Trial:
    status = job.status
    if status != "Completed":
        _log.warning("trial %d (%s) ended %s", trial.index, job.arn, status)
        return trial.model_copy(update={"status": status, "failure_message": job.failure_message})
    metrics = job.metrics()
    return trial.model_copy(
        update={"status": status, "objective": metrics.best_validation_loss, "best_epoch": metrics.best_epoch}
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
