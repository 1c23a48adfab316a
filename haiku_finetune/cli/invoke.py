"""``invoke``: send one prompt to a deployed model (or any model id) and print the reply.

The prompt comes from an argument or, with ``-`` or none, from standard input; ``--stream`` prints the reply as
it arrives. Handlers import the model layer when they run. This module only parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from ._args import Commands, non_negative_float, positive_int
from ._context import EXIT_OK, Context, UsageError

if TYPE_CHECKING:
    from .._transport import BedrockTransport
    from ..model import FineTunedModel


_log = logging.getLogger(__name__)


def resolve_model(value: str, transport: BedrockTransport) -> FineTunedModel:
    """A model from what the user typed: a deployment's name or ARN through the deployment; another ARN or a model
    id as it is.

    ``base`` is the base model (Claude 3 Haiku), handy to compare with a deployment.
    """
    from ..model import FineTunedModel

    if value == "base":
        return FineTunedModel.base(transport=transport)
    name = not value.startswith("arn:") and "." not in value  # ids of foundation models have a dot
    if not (name or ":provisioned-model/" in value):  # other ARNs and model ids as they are
        return FineTunedModel(value, transport=transport)
    from ..deployment import ProvisionedDeployment
    from ..errors import AccessDeniedError

    # Through the deployment: its model knows the base model it was fine-tuned from (its max_tokens limit).
    try:
        return ProvisionedDeployment.attach(value, transport=transport).model
    except AccessDeniedError:
        if not value.startswith("arn:"):
            raise  # a name means nothing to the runtime: only the deployment can say which ARN it is
        # Permission to invoke it but not to read it: invoke the ARN as given (the default base model's limits).
        _log.warning("could not read deployment %s (access denied); invoking it as given", value)
        return FineTunedModel(value, transport=transport)


def read_prompt(value: str | None, stdin: Any = None) -> str:
    """The prompt: ``value``, or standard input when it is ``-`` or missing; never empty.

    Raises:
        UsageError: The prompt is empty, standard input is closed, or it is a terminal with nothing given.
    """
    if value is None or value == "-":
        stream = stdin if stdin is not None else sys.stdin
        if stream is None:  # started with standard input closed (<&-)
            raise UsageError("standard input is closed: give a PROMPT, or pipe it into -")
        if value is None and stream.isatty():
            raise UsageError("give a PROMPT, or '-' to read it from standard input")
        value = stream.read()
    if not value.strip():
        raise UsageError("the prompt is empty")
    return value


def _cmd_invoke(args: argparse.Namespace, ctx: Context) -> int:
    prompt = read_prompt(args.prompt)
    model = resolve_model(args.model, ctx.transport(args))
    options: dict[str, Any] = {"max_tokens": args.max_tokens}
    if args.system is not None:
        options["system"] = args.system
    if args.temperature is not None:
        options["temperature"] = args.temperature
    try:
        if args.stream:
            stream = model.stream(prompt, **options)
        else:
            completion = model.invoke(prompt, **options)
    except ValueError as error:  # a parameter the library refused before sending anything
        raise UsageError(str(error)) from None
    if args.stream:
        with stream:
            for text in stream:
                if not args.json:
                    ctx.out.write(text)
                    ctx.out.flush()
        completion = stream.completion
        if not args.json:
            ctx.print("")
    if args.json:
        ctx.json(
            {
                "model": model.model_id,
                "text": completion.text,
                "stop_reason": completion.stop_reason,
                "input_tokens": completion.usage.input_tokens,
                "output_tokens": completion.usage.output_tokens,
                "latency": completion.latency,
            }
        )
    elif not args.stream:
        ctx.print(completion.text)
    if completion.stop_reason == "max_tokens":
        ctx.err.write(f"(the reply was cut at --max-tokens {args.max_tokens})\n")
    return EXIT_OK


def register(commands: Commands) -> None:
    """Add ``invoke`` to the top-level parser."""
    p = commands.add(
        "invoke",
        _cmd_invoke,
        aws=True,
        json=True,
        help="send one prompt to a deployed model and print the reply",
        description="Invoke a model through the Bedrock runtime: a Provisioned Throughput (its ARN or name), a "
        "model id, or 'base' for Claude 3 Haiku itself. The prompt is the argument, or standard input with '-'.",
    )
    p.add_argument("model", metavar="MODEL", help="deployment ARN or name, a model id, or 'base'")
    p.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt; '-' (or none) reads standard input")
    p.add_argument("--system", metavar="TEXT", help="system prompt")
    p.add_argument("--max-tokens", type=positive_int, default=1024, metavar="N", help="reply budget (default 1024)")
    p.add_argument("--temperature", type=non_negative_float, metavar="X", help="sampling temperature (0-1)")
    p.add_argument("--stream", action="store_true", help="print the reply as it arrives")
