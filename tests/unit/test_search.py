"""Hyperparameter search against a scripted CustomizationJob: combinations, parallelism, quotas, failures, plans."""

from __future__ import annotations

import io
from typing import Any

import pytest

import haiku_finetune.search as search_module
from haiku_finetune import BedrockTransport, Hyperparameters
from haiku_finetune.errors import HyperparameterError, QuotaExceededError, WaitTimeoutError
from haiku_finetune.search import Dimension, IntUniform, LogUniform, SearchResult, Trial, Uniform, search
from tests.fakes import FakeClock

BASE_ARGS: dict[str, Any] = {
    "training_data": "s3://bucket/train.jsonl",
    "validation_data": "s3://bucket/validation.jsonl",
    "output_uri": "s3://bucket/out/",
    "role_arn": "arn:aws:iam::123456789012:role/ft",
    "job_name": "tickets",
    "custom_model_name": "tickets",
}


class _Metrics:
    def __init__(self, losses: list[float]) -> None:
        self.losses = losses

    @property
    def best_validation_loss(self) -> float | None:
        return min(self.losses) if self.losses else None

    @property
    def best_epoch(self) -> int | None:
        return self.losses.index(min(self.losses)) + 1 if self.losses else None


class _Estimate:
    def __init__(self, tokens: int | None, cost: float | None) -> None:
        self.training_tokens = tokens
        self.cost = cost


class _Plan:
    def __init__(self, kwargs: dict[str, Any]) -> None:
        epochs = kwargs["hyperparameters"].resolved()["epoch_count"]
        self.estimate = _Estimate(1000 * epochs, None)
        self.failures: list[Any] = []


class Scripted:
    """Replaces CustomizationJob: each job runs `duration` emulated seconds; loss falls with the LR multiplier."""

    def __init__(self, clock: FakeClock, *, duration: float = 3600.0, quota: int | None = None) -> None:
        self.clock = clock
        self.duration = duration
        self.quota = quota
        self.created: list[dict[str, Any]] = []
        self.running_peak = 0
        self.fail_names: set[str] = set()
        self.planned: list[dict[str, Any]] = []
        outer = self

        class Job:
            def __init__(self, kwargs: dict[str, Any]) -> None:
                self.kwargs = kwargs
                self.name = kwargs["job_name"]
                self.arn = f"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/x/{self.name}"
                self.started = outer.clock.monotonic()
                self.status = "InProgress"
                self.failure_message: str | None = None

            @classmethod
            def create(cls, **kwargs: Any) -> Job:
                active = [j for j in outer.jobs if j.status == "InProgress"]
                if outer.quota is not None and len(active) >= outer.quota:
                    raise QuotaExceededError(
                        "too many jobs", operation="CreateModelCustomizationJob", code="ServiceQuotaExceededException"
                    )
                job = cls(kwargs)
                outer.created.append(kwargs)
                outer.jobs.append(job)
                outer.running_peak = max(outer.running_peak, len(active) + 1)
                return job

            @classmethod
            def plan(cls, **kwargs: Any) -> _Plan:
                outer.planned.append(kwargs)
                return _Plan(kwargs)

            def refresh(self) -> Job:
                if self.status == "InProgress" and outer.clock.monotonic() - self.started >= outer.duration:
                    if self.name in outer.fail_names:
                        self.status, self.failure_message = "Failed", "bad data on line 3"
                    else:
                        self.status = "Completed"
                return self

            def metrics(self) -> _Metrics:
                hp = self.kwargs["hyperparameters"].resolved()
                lr, epochs = hp["learning_rate_multiplier"], hp["epoch_count"]
                return _Metrics([1.0 / (1 + lr * (e + 1)) + 0.01 * e for e in range(epochs)])

        self.jobs: list[Job] = []
        self.Job = Job


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport(clock: FakeClock) -> BedrockTransport:
    return BedrockTransport(region="us-west-2", clock=clock)


@pytest.fixture
def scripted(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Scripted:
    fake = Scripted(clock)
    monkeypatch.setattr(search_module, "CustomizationJob", fake.Job)
    return fake


GRID: dict[str, list[Any]] = {"learning_rate_multiplier": [0.5, 1.5], "epoch_count": [2, 3]}


def test_grid_runs_every_combination_and_ranks_by_validation_loss(
    scripted: Scripted, transport: BedrockTransport, clock: FakeClock
) -> None:
    result = search(BASE_ARGS, grid=GRID, max_parallel=2, progress=False, transport=transport)
    assert [c["job_name"] for c in scripted.created] == ["tickets-t00", "tickets-t01", "tickets-t02", "tickets-t03"]
    assert scripted.created[0]["custom_model_name"] == "tickets-t00"
    assert scripted.running_peak == 2
    assert all(t.status == "Completed" for t in result.trials)
    # epoch e (from 0) has loss 1/(1 + lr*(e+1)) + 0.01*e: lr 1.5 over 3 epochs gives 0.4, 0.26, 1/5.5 + 0.02
    best = result.best
    assert best is not None
    assert best.values == {"learning_rate_multiplier": 1.5, "epoch_count": 3}
    assert best.objective == pytest.approx(1 / 5.5 + 0.02)
    assert best.best_epoch == 3
    assert [t.objective for t in result.leaderboard] == sorted(t.objective or 0 for t in result.trials)
    hp = result.best_hyperparameters
    assert isinstance(hp, Hyperparameters)
    assert hp.learning_rate_multiplier == 1.5
    # two waves of two one-hour jobs: about two emulated hours, no real sleeping
    assert 7200 <= clock.now - 1000 < 7200 + 400
    assert "| 1 |" in result.to_markdown()


def test_base_hyperparameters_are_kept_and_overridden(scripted: Scripted, transport: BedrockTransport) -> None:
    args = {**BASE_ARGS, "hyperparameters": {"batch_size": 8, "learning_rate_multiplier": 0.2}}
    search(args, grid={"learning_rate_multiplier": [0.4]}, progress=False, transport=transport)
    sent = scripted.created[0]["hyperparameters"]
    assert sent.batch_size == 8
    assert sent.learning_rate_multiplier == 0.4
    assert sent.to_api() == {"batchSize": "8", "learningRateMultiplier": "0.4"}


def test_failed_trial_is_recorded_and_ranked_last(scripted: Scripted, transport: BedrockTransport) -> None:
    scripted.fail_names = {"tickets-t01"}
    result = search(BASE_ARGS, grid={"learning_rate_multiplier": [0.5, 2.0]}, progress=False, transport=transport)
    failed = result.trials[1]
    assert failed.status == "Failed"
    assert failed.failure_message == "bad data on line 3"
    assert failed.objective is None
    assert result.leaderboard[-1] is failed
    best = result.best
    assert best is not None
    assert best.index == 0
    assert "Failed (bad data on line 3)" in result.to_markdown()


def test_quota_reached_waits_for_own_jobs(scripted: Scripted, transport: BedrockTransport) -> None:
    scripted.quota = 1
    result = search(BASE_ARGS, grid=GRID, max_parallel=3, progress=False, transport=transport)
    assert len(scripted.created) == 4
    assert scripted.running_peak == 1
    assert all(t.status == "Completed" for t in result.trials)


def test_quota_reached_with_nothing_running_raises(scripted: Scripted, transport: BedrockTransport) -> None:
    scripted.quota = 0
    with pytest.raises(QuotaExceededError):
        search(BASE_ARGS, grid=GRID, progress=False, transport=transport)


def test_random_space_is_seeded_and_within_ranges(scripted: Scripted, transport: BedrockTransport) -> None:
    space: dict[str, Dimension] = {
        "learning_rate_multiplier": LogUniform(0.1, 2.0),
        "early_stopping_threshold": Uniform(0.0, 0.01),
        "epoch_count": IntUniform(1, 3),
        "batch_size": [8, 16],
    }
    first = search(BASE_ARGS, space=space, trials=3, seed=4, progress=False, transport=transport)
    again = search(
        {**BASE_ARGS, "job_name": "again"}, space=space, budget=3, seed=4, progress=False, transport=transport
    )
    assert [t.values for t in first.trials] == [t.values for t in again.trials]
    for trial in first.trials:
        assert 0.1 <= trial.values["learning_rate_multiplier"] <= 2.0
        assert 1 <= trial.values["epoch_count"] <= 3
        assert trial.values["batch_size"] in (8, 16)
    assert len({t.values["learning_rate_multiplier"] for t in first.trials}) == 3


def test_plan_only_prints_jobs_and_tokens_and_submits_nothing(scripted: Scripted, transport: BedrockTransport) -> None:
    out = io.StringIO()
    plan = search(BASE_ARGS, grid=GRID, plan_only=True, out=out, transport=transport)
    assert scripted.created == []
    assert len(scripted.planned) == 4
    assert plan.planned
    assert [t.estimated_tokens for t in plan.trials] == [2000, 3000, 2000, 3000]
    assert plan.estimated_tokens == 10000
    assert plan.best is None
    printed = out.getvalue()
    assert "4 jobs (nothing submitted)" in printed
    assert "| 0 | 2 | 0.5 | 2 | 2,000 | tickets-t00 |" in printed
    assert "10,000" in printed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of grid"),
        ({"grid": GRID, "space": GRID}, "exactly one of grid"),
        ({"grid": {}}, "empty"),
        ({"grid": {"learning_rate": [1]}}, "unknown hyperparameter"),
        ({"grid": {"epoch_count": []}}, "no values"),
        ({"grid": {"epoch_count": "23"}}, "list of values"),
        ({"grid": {"learning_rate_multiplier": Uniform(0.1, 1)}}, "ranges are for space"),
        ({"space": {"epoch_count": [1, 2]}}, "needs trials"),
        ({"grid": GRID, "budget": 3}, "4 combinations but budget allows 3"),
        ({"grid": GRID, "max_parallel": 0}, "max_parallel"),
        ({"grid": GRID, "objective": "accuracy"}, "objective"),
    ],
)
def test_bad_searches_are_refused_before_any_job(
    scripted: Scripted, transport: BedrockTransport, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        search(BASE_ARGS, transport=transport, **kwargs)
    assert scripted.created == []


def test_out_of_range_combination_is_refused_before_any_job(scripted: Scripted, transport: BedrockTransport) -> None:
    with pytest.raises(HyperparameterError, match="trial 1"):
        search(BASE_ARGS, grid={"learning_rate_multiplier": [1.0, 0.05]}, transport=transport)
    assert scripted.created == []


def test_objective_needs_validation_data(scripted: Scripted, transport: BedrockTransport) -> None:
    args = {k: v for k, v in BASE_ARGS.items() if k != "validation_data"}
    with pytest.raises(ValueError, match="validation_data"):
        search(args, grid=GRID, transport=transport)


def test_timeout_keeps_trials_so_far(scripted: Scripted, transport: BedrockTransport) -> None:
    with pytest.raises(WaitTimeoutError) as caught:
        search(BASE_ARGS, grid=GRID, timeout=600, progress=False, transport=transport)
    partial = caught.value.result  # type: ignore[attr-defined]
    assert isinstance(partial, SearchResult)
    assert [t.status for t in partial.trials] == ["InProgress", "InProgress", "Planned", "Planned"]


def test_generated_names_without_a_prefix(scripted: Scripted, transport: BedrockTransport) -> None:
    args = {k: v for k, v in BASE_ARGS.items() if k not in ("job_name", "custom_model_name")}
    search(args, grid={"epoch_count": [1]}, progress=False, transport=transport)
    name = scripted.created[0]["job_name"]
    assert name.startswith("hp-search-")
    assert name.endswith("-t00")


def test_result_to_pandas(scripted: Scripted, transport: BedrockTransport) -> None:
    result = search(BASE_ARGS, grid=GRID, progress=False, transport=transport)
    frame = result.to_pandas()
    assert len(frame) == 4
    assert frame.iloc[0]["objective"] == pytest.approx(1 / 5.5 + 0.02)
    assert "learning_rate_multiplier" in frame.columns


def test_trial_model_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        Trial(index=0, values={}, hyperparameters={}, job_name="x", surprise=1)  # type: ignore[call-arg]
