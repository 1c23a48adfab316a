"""The sample dataset shipped with haiku_finetune, for the demo, the quickstart notebook and your experiments.

``support_tickets.jsonl`` holds 360 synthetic customer-support tickets, each labelled with the queue it belongs
to (billing, technical, account, shipping, refund, feature_request), in the prompt/completion JSONL form that
Bedrock uses for other models. The records were written for this project by
`haiku_finetune.data.generate_support_tickets` from templates; they describe no real person or order.
Convert them to the Messages format with ``haiku-finetune convert prompt-completion`` or
``DatasetBuilder.from_prompt_completion`` (adding `SYSTEM_PROMPT` as the system prompt).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CATEGORIES", "SYSTEM_PROMPT", "support_tickets_path"]

#: The labels a ticket can get, in a fixed order.
CATEGORIES: tuple[str, ...] = ("billing", "technical", "account", "shipping", "refund", "feature_request")

#: The system prompt to add when converting the records to the Messages format.
SYSTEM_PROMPT = (
    "You triage customer support tickets for an online store that also sells a companion app. "
    "Read the ticket and answer with exactly one queue name: " + ", ".join(CATEGORIES) + "."
)


def support_tickets_path() -> Path:
    """Return the path of the shipped ``support_tickets.jsonl`` (prompt/completion records)."""
    return Path(__file__).with_name("support_tickets.jsonl")
