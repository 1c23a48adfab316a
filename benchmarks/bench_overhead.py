"""How much time does ``FineTunedModel.invoke`` add on top of a raw boto3 ``invoke_model``?

Both send the same body to the same LocalBedrock endpoint (no added latency, an instant responder), call for
call, interleaved so drift hits both alike. The library's extra work per call is: checking the parameters,
building and encoding the body, the transport's retry wrapper, and parsing the reply into a ``Completion``.
Target: median library call <= 1.15 x median raw call.

    python benchmarks/bench_overhead.py [--calls 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import boto3
from botocore.config import Config

from haiku_finetune import FineTunedModel
from haiku_finetune.local import LocalBedrock

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"  # on-demand Haiku: no deployment needed for a runtime call
PROMPT = "Summarize: the customer was charged twice for order 1234 and wants a refund."
SYSTEM = "You summarize support tickets in one sentence."
TARGET = 1.15


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="measured calls per side")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    with LocalBedrock() as local:
        local.set_responder(MODEL_ID, lambda request: "The customer wants a refund for a double charge.")
        model = FineTunedModel(MODEL_ID, transport=local.transport())
        env = local.session_env()
        raw = boto3.client(
            "bedrock-runtime",
            region_name=env["AWS_DEFAULT_REGION"],
            endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        # The seed's way: json.dumps a Messages body, invoke_model, json.loads the reply.
        body = json.dumps(model.request_body(PROMPT, system=SYSTEM, max_tokens=64, temperature=0.1, top_p=0.9))

        def raw_call() -> str:
            response = raw.invoke_model(body=body, modelId=MODEL_ID)
            return str(json.loads(response["body"].read())["content"][0]["text"])

        def library_call() -> str:
            return model.invoke(PROMPT, system=SYSTEM, max_tokens=64, temperature=0.1, top_p=0.9).text

        assert raw_call() == library_call(), "both paths must get the same answer"
        for _ in range(args.warmup):
            raw_call()
            library_call()
        raw_times: list[float] = []
        library_times: list[float] = []
        for i in range(args.calls):
            # Alternate which goes first, so neither always gets the warmer connection or cache.
            if i % 2:
                raw_times.append(_timed(raw_call))
                library_times.append(_timed(library_call))
            else:
                library_times.append(_timed(library_call))
                raw_times.append(_timed(raw_call))

    raw_median = statistics.median(raw_times)
    library_median = statistics.median(library_times)
    ratio = library_median / raw_median

    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    print(f"calls per side:            {args.calls} (after {args.warmup} warm-up calls each)")
    print(f"raw boto3 invoke_model:    median {raw_median * 1e3:.3f} ms   p90 {p90(raw_times) * 1e3:.3f} ms")
    print(f"FineTunedModel.invoke:     median {library_median * 1e3:.3f} ms   p90 {p90(library_times) * 1e3:.3f} ms")
    print(f"overhead per call:         {(library_median - raw_median) * 1e6:.0f} us")
    print(f"ratio (library / raw):     {ratio:.3f}  (target <= {TARGET})  {'PASS' if ratio <= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
