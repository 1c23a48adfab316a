"""``models``: the fine-tunable base models in a region, their lifecycle today and the library's profile for each.

Lists ``ListFoundationModels(byCustomizationType="FINE_TUNING")`` with each model's ``modelLifecycle`` (merged with
the profile's dates) and whether the library has a profile for it: confirmed, provisional or none. Profiles the
library knows for the region that the service does not list are shown too, with why (end of life, not offered).
This module only parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._args import Commands
from ._context import EXIT_OK, Context
from ._format import table


def _cmd_models(args: argparse.Namespace, ctx: Context) -> int:
    from .._lifecycle_check import profile_lifecycle_now
    from ..base_models import find_profile, profiles
    from ..lifecycle import lifecycle_state, merge_lifecycle, parse_model_lifecycle

    transport = ctx.transport(args)
    region = transport.region
    # ListFoundationModels is not paginated: one answer holds every model.
    pages = [transport.call("bedrock", "ListFoundationModels", byCustomizationType="FINE_TUNING")]
    today = transport.response_time(pages[0]).date() if pages else transport.now().date()
    rows: list[dict[str, Any]] = []
    listed: set[str] = set()
    for page in pages:
        for summary in page.get("modelSummaries", []):
            model_id = str(summary.get("modelId", ""))
            listed.add(model_id)
            profile = find_profile(model_id)
            service = parse_model_lifecycle(summary.get("modelLifecycle"), region, today, model_id=model_id)
            state = merge_lifecycle(service, lifecycle_state(profile, region, today)) if profile else service
            rows.append(
                {
                    "model_id": model_id,
                    "name": summary.get("modelName") or (profile.display_name if profile else ""),
                    "listed": True,
                    "lifecycle": state.stage.value if state else "unknown",
                    "detail": state.describe() if state else "the service gave no lifecycle",
                    "profile": _profile_kind(profile),
                    "profile_key": profile.key if profile else None,
                }
            )
    for profile in profiles():
        if profile.model_id in listed or region not in profile.fine_tuning_regions:
            continue
        state = profile_lifecycle_now(profile, transport)
        rows.append(
            {
                "model_id": profile.model_id,
                "name": profile.display_name,
                "listed": False,
                "lifecycle": state.stage.value,
                "detail": f"not listed by the service; the profile says: {state.describe()}",
                "profile": _profile_kind(profile),
                "profile_key": profile.key,
            }
        )
    if args.json:
        ctx.json({"region": region, "date": today.isoformat(), "models": rows})
        return EXIT_OK
    ctx.print(f"Fine-tunable models in {region} on {today}:")
    if not rows:
        ctx.print("  none")
        return EXIT_OK
    ctx.print(
        table(
            ["model id", "lifecycle", "profile", "detail"],
            [
                [
                    r["model_id"],
                    r["lifecycle"],
                    r["profile"] + (f" ({r['profile_key']})" if r["profile_key"] else ""),
                    r["detail"],
                ]
                for r in rows
            ],
        )
    )
    return EXIT_OK


def _profile_kind(profile: Any) -> str:
    if profile is None:
        return "none"
    return "provisional" if profile.provisional else "confirmed"


def register(commands: Commands) -> None:
    """Add ``models`` to the top-level parser."""
    commands.add(
        "models",
        _cmd_models,
        aws=True,
        json=True,
        help="fine-tunable base models in a region, their lifecycle and the library's profile",
        description="List the models the region offers for fine-tuning (ListFoundationModels), each with its "
        "lifecycle today (active, legacy, extended access, end of life) and the library's profile for it: "
        "confirmed, provisional or none.",
    )
