"""Throughput of ``FineTunedModel.batch`` against LocalBedrock with 100 ms of added latency per call.

Four runs:

1. a plain sequential loop as in the seed (raw boto3 ``invoke_model`` one prompt at a time);
2. ``batch(prompts, concurrency=16)`` on 1,000 prompts — the ideal is 16 / 0.1 s = 160 calls/s;
3. the same batch with 10 % of calls throttled by the emulator: every result must come back, in input order,
   and no prompt may be answered twice;
4. a fine-tuned model behind a one-unit Provisioned Throughput whose token capacity (LocalBedrock's
   ``unit_capacity``) serves about 150 calls/s, called by ``batch(..., concurrency=32)`` on 2,000 prompts with
   50 ms per call (so the ceiling, 640 calls/s, is far above capacity) and the library's real-time retries:
   the capacity used (tokens served / tokens the unit could serve in that time, its burst included) and the
   share of attempts that were throttled.

Targets: run 2 >= 0.85 of ideal and >= 12 x run 1; run 3 complete, ordered, exactly once; run 4 >= 0.9 of
capacity with <= 3 % of attempts throttled, complete and in order.

    python benchmarks/bench_batch.py [--prompts 1000] [--concurrency 16] [--latency 0.1] [--sequential 100]
        [--capacity-prompts 2000] [--capacity-calls 150]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import haiku_finetune as hf
from haiku_finetune import Completion, FineTunedModel
from haiku_finetune._retry import RetryPolicy
from haiku_finetune.datasets import estimate_tokens
from haiku_finetune.local import EmulatedClock, Faults, LocalBedrock, UnitCapacity

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
SYSTEM = "You label support tickets with one word."
# Emulated time starts before Claude 3 Haiku's end of life in us-west-2, so it may be invoked and fine-tuned.
_BEFORE_END_OF_LIFE = datetime(2026, 1, 15, tzinfo=timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every call")
    parser.add_argument("--sequential", type=int, default=100, help="prompts for the sequential baseline")
    parser.add_argument("--throttle", type=float, default=0.10, help="share of calls throttled in run 3")
    parser.add_argument("--capacity-prompts", type=int, default=2000, help="prompts in run 4")
    parser.add_argument("--capacity-calls", type=float, default=150.0, help="calls/s the PT's capacity serves")
    parser.add_argument("--capacity-concurrency", type=int, default=32)
    parser.add_argument("--capacity-latency", type=float, default=0.05)
    parser.add_argument("--skip-to-capacity", action="store_true", help="run only run 4")
    args = parser.parse_args()
    if args.skip_to_capacity:
        print("PASS" if _capacity_run(args) else "MISS")
        return
    prompts = [f"Ticket {i}: I was charged twice for order {i}." for i in range(args.prompts)]

    local = LocalBedrock(faults=Faults(latency=args.latency))
    local.clock = EmulatedClock(start=_BEFORE_END_OF_LIFE)
    with local:
        answered: Counter[str] = Counter()
        lock = threading.Lock()

        def echo(request: dict[str, Any]) -> str:
            text = str(request["messages"][-1]["content"])
            with lock:
                answered[text] += 1
            return "billing " + text.split(":", 1)[0]

        local.set_responder(MODEL_ID, echo)
        model = FineTunedModel(MODEL_ID, transport=local.transport())

        # 1. The seed's loop: one raw call after another.
        env = local.session_env()
        raw = boto3.client(
            "bedrock-runtime",
            region_name=env["AWS_DEFAULT_REGION"],
            endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        raw.invoke_model(body=json.dumps(model.request_body("warm-up", max_tokens=8)), modelId=MODEL_ID)
        began = time.perf_counter()
        for prompt in prompts[: args.sequential]:
            body = json.dumps(
                {
                    "anthropic_version": "bedrock-2023-05-31",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": prompt}],
                    "system": SYSTEM,
                }
            )
            response = raw.invoke_model(body=body, modelId=MODEL_ID)
            json.loads(response["body"].read())["content"][0]["text"]
        sequential_rate = args.sequential / (time.perf_counter() - began)

        # 2. The batch, after a small warm-up batch that builds the pooled client and opens its connections
        # (the sequential baseline's client was built and connected before its clock started, too).
        model.batch(prompts[: args.concurrency * 2], concurrency=args.concurrency, progress=False, max_tokens=64)
        answered.clear()
        began = time.perf_counter()
        results = model.batch(prompts, concurrency=args.concurrency, progress=False, system=SYSTEM, max_tokens=64)
        batch_elapsed = time.perf_counter() - began
        batch_rate = len(prompts) / batch_elapsed
        ideal = args.concurrency / args.latency
        _check(prompts, results, answered, "run 2")

        # 3. The batch under 10 % throttling.
        answered.clear()
        local.faults = Faults(latency=args.latency, throttle=args.throttle)
        began = time.perf_counter()
        throttled_results = model.batch(
            prompts, concurrency=args.concurrency, progress=False, on_error="return", system=SYSTEM, max_tokens=64
        )
        throttled_elapsed = time.perf_counter() - began
        stats = model.last_batch_stats
        complete, in_order, once = _check(prompts, throttled_results, answered, "run 3")

    print(f"prompts {len(prompts)}, concurrency {args.concurrency}, added latency {args.latency * 1e3:.0f} ms per call")
    print(f"1. sequential loop (seed):  {sequential_rate:7.1f} calls/s  ({args.sequential} prompts)")
    print(
        f"2. batch:                   {batch_rate:7.1f} calls/s  ({batch_elapsed:.2f} s) = {batch_rate / ideal:.3f} of "
        f"ideal {ideal:.0f} calls/s (target >= 0.85), {batch_rate / sequential_rate:.1f} x sequential (target >= 12)"
    )
    print(
        f"3. batch, {args.throttle:.0%} throttled:    {len(prompts) / throttled_elapsed:7.1f} calls/s  "
        f"({throttled_elapsed:.2f} s); all {len(prompts)} back: {complete}; in order: {in_order}; "
        f"none twice: {once}"
    )
    if stats is not None:
        print(
            f"   throttled attempts {stats.throttled}, window min {stats.min_concurrency} / final "
            f"{stats.final_concurrency} of {stats.requested_concurrency}, cuts {stats.decreases}, "
            f"increases {stats.increases}, failed {stats.failed}"
        )
    verdict = batch_rate / ideal >= 0.85 and batch_rate / sequential_rate >= 12 and complete and in_order and once
    verdict = _capacity_run(args) and verdict
    print("PASS" if verdict else "MISS")


def _capacity_run(args: argparse.Namespace) -> bool:
    """Run 4: a batch against a Provisioned Throughput's token capacity. Returns whether it met its targets."""
    prompts = [f"Ticket {i}: I was charged twice for order {i}." for i in range(args.capacity_prompts)]
    replies = {p: "billing " + p.split(":", 1)[0] for p in prompts}
    # Size the unit so it serves --capacity-calls of these prompts per second, input tokens binding (the
    # emulator counts a prompt's tokens as the system prompt and message text, estimated).
    mean_in = sum(max(1, estimate_tokens(SYSTEM + p)) for p in prompts) / len(prompts)
    capacity = UnitCapacity(
        input_tokens_per_minute=args.capacity_calls * mean_in * 60,
        output_tokens_per_minute=args.capacity_calls * mean_in * 60,  # replies are shorter: never binding
        burst_seconds=1.0,
    )
    local = LocalBedrock(unit_capacity=capacity)
    local.clock = EmulatedClock(start=_BEFORE_END_OF_LIFE)
    with local, tempfile.TemporaryDirectory() as tmp:
        setup = local.transport()
        arn = _deploy(setup, Path(tmp))
        answered: Counter[str] = Counter()
        lock = threading.Lock()

        def label(request: dict[str, Any]) -> str:
            text = str(request["messages"][-1]["content"])
            with lock:
                answered[text] += 1
            return replies[text]

        local.set_responder(arn, label)
        local.faults = Faults(latency=args.capacity_latency)
        # Real-time retries, as against the service (the emulator's default transport sleeps on its clock).
        model = FineTunedModel(arn, transport=local.transport(retry=RetryPolicy()))
        began = time.perf_counter()
        results = model.batch(
            prompts,
            concurrency=args.capacity_concurrency,
            progress=False,
            on_error="return",
            system=SYSTEM,
            max_tokens=64,
        )
        elapsed = time.perf_counter() - began
        stats = model.last_batch_stats
    done = [r for r in results if isinstance(r, Completion)]
    served_in = sum(r.usage.input_tokens for r in done)
    served_out = sum(r.usage.output_tokens for r in done)
    # What one unit could serve in the run: its rate for the elapsed time plus the burst it starts with.
    window = elapsed + capacity.burst_seconds
    used = max(
        served_in / (capacity.input_tokens_per_minute / 60 * window),
        served_out / (capacity.output_tokens_per_minute / 60 * window),
    )
    throttled = stats.throttled if stats is not None else 0
    attempts = len(done) + throttled
    share = throttled / attempts if attempts else 0.0
    complete = len(done) == len(prompts)
    in_order = all(isinstance(r, Completion) and r.text == replies[p] for p, r in zip(prompts, results, strict=False))
    capacity_calls = capacity.input_tokens_per_minute / 60 / mean_in
    print(
        f"4. batch on a 1-unit PT ({capacity_calls:.0f} calls/s of capacity, concurrency "
        f"{args.capacity_concurrency}, {args.capacity_latency * 1e3:.0f} ms/call): {len(done) / elapsed:7.1f} calls/s "
        f"({elapsed:.2f} s); capacity used {used:.3f} (target >= 0.9); throttled {throttled} of {attempts} attempts "
        f"= {share:.2%} (target <= 3 %); complete: {complete}; in order: {in_order}"
    )
    if stats is not None:
        pace = f"{stats.pace:.1f} calls/s" if stats.pace is not None else "none"
        print(
            f"   window min {stats.min_concurrency} / final {stats.final_concurrency} of "
            f"{stats.requested_concurrency}, cuts {stats.decreases}, final pace {pace}, "
            f"{stats.tokens_per_second:.0f} tokens/s, failed {stats.failed}"
        )
    return used >= 0.9 and share <= 0.03 and complete and in_order


def _deploy(transport: hf.BedrockTransport, tmp: Path) -> str:
    """Train a tiny custom model on the emulator and put it behind a one-unit Provisioned Throughput."""
    bucket = "bench-capacity"
    transport.call("s3", "CreateBucket", Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    path = tmp / "train.jsonl"
    records = [
        {
            "system": SYSTEM,
            "messages": [
                {"role": "user", "content": f"Ticket {i}: I was charged twice for order {i}."},
                {"role": "assistant", "content": "billing"},
            ],
        }
        for i in range(40)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    train = hf.storage.upload_dataset(path, f"s3://{bucket}/data/", transport=transport)
    output = f"s3://{bucket}/out/"
    role = hf.iam.ensure_service_role(
        "bench-capacity", training=f"s3://{bucket}/data/", output=output, transport=transport
    )
    job = hf.CustomizationJob.create(
        training_data=train,
        output_uri=output,
        role_arn=role,
        hyperparameters=hf.Hyperparameters(epoch_count=1, batch_size=8),
        transport=transport,
    )
    model = job.wait(progress=False).custom_model
    # Not a `with` block: the bench uses it after this returns and the emulator's end takes it away (nothing bills),
    # so the billing warning (at create and at the first use, the wait) is expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deployment = hf.ProvisionedDeployment.create(model, model_units=1, name="bench-capacity", transport=transport)
        deployment.wait(progress=False)
    return deployment.arn


def _check(
    prompts: list[str], results: list[Completion] | list[Completion | BaseException], answered: Counter[str], run: str
) -> tuple[bool, bool, bool]:
    complete = len(results) == len(prompts) and all(isinstance(r, Completion) for r in results)
    in_order = all(
        isinstance(r, Completion) and r.text == "billing " + p.split(":", 1)[0]
        for p, r in zip(prompts, results, strict=False)
    )
    once = all(answered[p] == 1 for p in prompts) and sum(answered.values()) == len(prompts)
    if not (complete and in_order and once):
        failures = [r for r in results if not isinstance(r, Completion)]
        print(f"{run}: {len(failures)} failures, e.g. {failures[:3]}")
    return complete, in_order, once


if __name__ == "__main__":
    main()
