"""Throughput of ``FineTunedModel.batch`` against LocalBedrock with 100 ms of added latency per call.

Three runs:

1. a plain sequential loop as in the seed (raw boto3 ``invoke_model`` one prompt at a time);
2. ``batch(prompts, concurrency=16)`` on 1,000 prompts — the ideal is 16 / 0.1 s = 160 calls/s;
3. the same batch with 10 % of calls throttled by the emulator: every result must come back, in input order,
   and no prompt may be answered twice.

Targets: run 2 >= 0.85 of ideal and >= 12 x run 1; run 3 complete, ordered, exactly once.

    python benchmarks/bench_batch.py [--prompts 1000] [--concurrency 16] [--latency 0.1] [--sequential 100]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config

from haiku_finetune import Completion, FineTunedModel
from haiku_finetune.local import Faults, LocalBedrock

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
SYSTEM = "You label support tickets with one word."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every call")
    parser.add_argument("--sequential", type=int, default=100, help="prompts for the sequential baseline")
    parser.add_argument("--throttle", type=float, default=0.10, help="share of calls throttled in run 3")
    args = parser.parse_args()
    prompts = [f"Ticket {i}: I was charged twice for order {i}." for i in range(args.prompts)]

    with LocalBedrock(faults=Faults(latency=args.latency)) as local:
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
            f"{stats.final_concurrency} of {stats.requested_concurrency}, halvings {stats.decreases}, "
            f"increases {stats.increases}, failed {stats.failed}"
        )
    verdict = batch_rate / ideal >= 0.85 and batch_rate / sequential_rate >= 12 and complete and in_order and once
    print("PASS" if verdict else "MISS")


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
