"""Generate the sample dataset shipped with haiku_finetune: support tickets labelled with their queue.

The records are written by this script, not collected from anyone: each one is built from a handful of
templates per category, filled from small word lists with a seeded random generator, so the output is the same
on every machine and every run. The shipped file ``support_tickets.jsonl`` (next to this script) is its output;
``tests/test_demo_data.py`` checks the two agree.

Each line is a prompt/completion record, the format Bedrock uses for other models' fine-tuning, so the demo can
show the conversion to the Messages format Claude 3 Haiku needs::

    {"prompt": "Subject: ...\\n\\n<ticket text>", "completion": "billing"}

Run it again after editing the templates::

    python -m haiku_finetune.data.generate_support_tickets

This module is a build helper: nothing in the library imports it.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from haiku_finetune._files import atomic_write
from haiku_finetune.data import CATEGORIES

__all__ = ["DEFAULT_PATH", "PER_CATEGORY", "SEED", "generate", "main", "render", "write"]

#: The seed of the generator; changing it changes every record.
SEED = 20240307

#: Records per category (6 categories x 60 = 360 records).
PER_CATEGORY = 60

#: Where the generated file lives inside the package.
DEFAULT_PATH = Path(__file__).with_name("support_tickets.jsonl")

_PRODUCTS = (
    "Aero kettle",
    "Nimbus headphones",
    "Trailhead backpack",
    "Lumen desk lamp",
    "Brewmaster grinder",
    "Quill tablet stand",
    "Orbit smart plug",
    "Cascade water filter",
    "Summit rain jacket",
    "Pixel photo printer",
)
# The products that talk to the companion app (pairing, firmware, Wi-Fi).
_GADGETS = ("Nimbus headphones", "Orbit smart plug", "Pixel photo printer", "Lumen desk lamp", "Aero kettle")
_PLANS = ("Plus membership", "Family plan", "Pro subscription", "annual membership", "Student plan")
_CARRIERS = ("the courier", "the postal service", "the delivery partner", "the carrier")
_CITIES = ("Lisbon", "Leeds", "Denver", "Osaka", "Toronto", "Lyon", "Austin", "Bergen", "Perth", "Cork")
_DEVICES = ("Android phone", "iPhone", "iPad", "Windows laptop", "Chromebook", "MacBook")
_BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
_FEATURES = (
    "a dark mode in the app",
    "exporting my order history to CSV",
    "a wish list I can share with family",
    "scheduling deliveries for a specific day",
    "two-factor login with a hardware key",
    "splitting one order across two addresses",
    "a widget that shows delivery status",
    "saving more than one payment card",
    "filtering reviews by verified buyers",
    "gift wrapping options at checkout",
)
_OPENERS = ("Hi,", "Hello,", "Hi there,", "Good morning,", "Hey team,", "Dear support,", "", "")
_CLOSERS = (
    "Thanks.",
    "Thank you for your help.",
    "Please get back to me soon.",
    "Cheers.",
    "Regards.",
    "",
    "",
)
_TONES = ("", "This is the second time I am writing about this. ", "No rush, ", "I am quite frustrated. ")

# Each template is (subject, body). Slots: {product} {plan} {amount} {amount2} {order} {days} {carrier} {city}
# {device} {browser} {feature} {date} {card} {gadget}.
_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "billing": (
        (
            "Charged twice for {plan}",
            "My card ending {card} was charged {amount} twice this month for the {plan}. "
            "Can you check the invoice and remove the duplicate charge?",
        ),
        (
            "Invoice shows the wrong amount",
            "The invoice for order {order} says {amount2} but the checkout page showed {amount}. "
            "Which price is right, and can I get a corrected invoice?",
        ),
        (
            "Question about my {plan} renewal",
            "I was billed {amount} on {date} for the {plan} renewal. I thought the price was lower. "
            "Did the price change, and where can I see the billing history?",
        ),
        (
            "Need a VAT invoice",
            "Our company bought a {product} (order {order}). Please send an invoice with our VAT number "
            "so accounting can process the {amount} payment.",
        ),
        (
            "Payment declined but money taken",
            "Checkout said my payment was declined, but my bank shows a pending charge of {amount} from you "
            "on {date}. Is the charge real, and will it be released?",
        ),
        (
            "Update the card on file",
            "The card ending {card} expired. How do I update the payment method for the {plan} "
            "so the next billing cycle does not fail?",
        ),
        (
            "Unexpected fee on my statement",
            "There is a {amount} fee on my statement labelled as a service charge. I never agreed to a fee. "
            "Please explain what this billing item is.",
        ),
    ),
    "technical": (
        (
            "App crashes on launch",
            "The app crashes as soon as I open it on my {device}. I reinstalled it twice and restarted "
            "the {device}, but it still closes immediately.",
        ),
        (
            "{gadget} will not pair",
            "My {gadget} will not connect to the app. Bluetooth finds it, then the pairing fails with an "
            "error code after a few seconds. I am using a {device}.",
        ),
        (
            "Checkout page keeps loading",
            "On {browser} the checkout page spins forever after I press pay. I cleared the cache and "
            "disabled extensions, and it still hangs.",
        ),
        (
            "Firmware update failed",
            "The firmware update for my {gadget} stopped at 60 percent and now the device shows a "
            "blinking red light. How do I recover it?",
        ),
        (
            "Error 500 on the website",
            "Every time I open my order page in {browser} I get an error 500. It started on {date} and "
            "happens on my {device} as well.",
        ),
        (
            "Notifications stopped working",
            "Push notifications from the app stopped arriving on my {device}. Notifications are enabled in "
            "the settings and the app is up to date.",
        ),
        (
            "{gadget} keeps disconnecting",
            "My {gadget} drops its Wi-Fi connection every few minutes, and the app then shows it as offline. "
            "The router is in the same room.",
        ),
    ),
    "account": (
        (
            "Cannot log in",
            "I cannot log in to my account. The password reset email never arrives, and I checked the spam "
            "folder. My email address has not changed.",
        ),
        (
            "Change the email on my account",
            "I want to change the email address on my account to my new work address. The profile page "
            "does not let me edit it.",
        ),
        (
            "Account locked",
            "My account was locked after too many login attempts on my {device}. How long until I can sign "
            "in again, or can you unlock it?",
        ),
        (
            "Delete my account",
            "Please close my account and delete my personal data. I no longer use the {plan} and do not "
            "want a profile stored.",
        ),
        (
            "Two-factor code not arriving",
            "The two-factor verification code never reaches my phone, so I am stuck at the sign in screen. "
            "Can you reset the verification method on my account?",
        ),
        (
            "Merge two accounts",
            "I accidentally created a second account with another email. Can you merge the two accounts so "
            "my order history and {plan} are in one profile?",
        ),
        (
            "Someone else used my account",
            "I got a login alert from {city} and I have never been there. I changed my password, but please "
            "check my account for other sessions.",
        ),
    ),
    "shipping": (
        (
            "Where is order {order}?",
            "My order {order} was supposed to arrive {days} days ago. Tracking has not updated since it left "
            "the warehouse. When will it be delivered?",
        ),
        (
            "Package marked delivered but not here",
            "Tracking for order {order} says delivered, but there is no parcel at my door in {city}. "
            "My neighbours do not have it either.",
        ),
        (
            "Change my delivery address",
            "I just placed order {order} and entered my old address. Can the delivery go to my new address "
            "in {city} instead before it ships?",
        ),
        (
            "Shipping to {city}",
            "Do you deliver to {city}, and how many days does standard shipping take for a {product}? "
            "I need it within {days} days.",
        ),
        (
            "Parcel stuck in customs",
            "My {product} from order {order} has been held at customs for {days} days. {carrier} says "
            "paperwork is missing. What do I need to send?",
        ),
        (
            "Only part of my order arrived",
            "Order {order} arrived with the {product} missing from the box. The packing slip lists it. "
            "Is the rest of the shipment still on the way?",
        ),
        (
            "Delivery attempted while I was home",
            "{carrier} left a note saying they tried to deliver order {order}, but I was home all day in "
            "{city}. How do I reschedule the delivery?",
        ),
    ),
    "refund": (
        (
            "Refund for a returned {product}",
            "I returned the {product} from order {order} {days} days ago and the return shows as received. "
            "I still have not got my refund of {amount}.",
        ),
        (
            "I want my money back",
            "The {product} stopped working after a week. I do not want a replacement, I want a full refund "
            "of {amount} for order {order}.",
        ),
        (
            "Refund to a different card",
            "I returned order {order}, but the card I paid with is closed. Can the refund of {amount} go to "
            "a different card or as store credit?",
        ),
        (
            "Cancel and refund my {plan}",
            "I cancelled the {plan} on {date}, the same day it renewed. Please refund the {amount} renewal charge.",
        ),
        (
            "Partial refund for a damaged item",
            "The {product} arrived with a cracked case. I am happy to keep it if you refund part of the "
            "{amount} price. Photos attached to order {order}.",
        ),
        (
            "How long do refunds take?",
            "You approved the return of my {product} on {date}. How many days until the refund of {amount} "
            "shows on my card?",
        ),
        (
            "Refund missing shipping cost",
            "I got a refund for order {order}, but it did not include the {amount2} shipping cost even though "
            "the {product} was faulty. Please refund the shipping too.",
        ),
    ),
    "feature_request": (
        (
            "Suggestion: {feature}",
            "It would be great to have {feature}. I use the app on my {device} every week and this would "
            "save me a lot of time.",
        ),
        (
            "Feature idea",
            "Have you considered adding {feature}? Several people in my family would use it. Please pass "
            "the idea to the product team.",
        ),
        (
            "Please add {feature}",
            "I love the store, but the one thing missing for me is {feature}. Is it on your roadmap?",
        ),
        (
            "Would pay more for {feature}",
            "As a customer on the {plan} I would happily pay a bit more if you offered {feature}. Any plans to "
            "build it?",
        ),
        (
            "Idea for the {product} app",
            "The companion app for my {gadget} works well. A nice improvement would be {feature}, "
            "especially on a {device}.",
        ),
        (
            "Product feedback",
            "Small feedback from a long-time customer: {feature} would make ordering much easier. "
            "Otherwise the app is great.",
        ),
        (
            "Request: {feature}",
            "My team orders supplies every month. Could you add {feature}? Other stores we use already offer it.",
        ),
    ),
}


def _slots(rng: random.Random) -> dict[str, str]:
    amount = rng.randint(5, 400) + rng.choice((0, 0.49, 0.99))
    return {
        "product": rng.choice(_PRODUCTS),
        "gadget": rng.choice(_GADGETS),
        "plan": rng.choice(_PLANS),
        "amount": f"${amount:.2f}",
        "amount2": f"${rng.randint(4, 60) + 0.99:.2f}",
        "order": f"#{rng.randint(100000, 999999)}",
        "days": str(rng.randint(2, 21)),
        "carrier": rng.choice(_CARRIERS),
        "city": rng.choice(_CITIES),
        "device": rng.choice(_DEVICES),
        "browser": rng.choice(_BROWSERS),
        "feature": rng.choice(_FEATURES),
        "date": f"{rng.choice(('March', 'April', 'May', 'June'))} {rng.randint(1, 28)}",
        "card": f"{rng.randint(0, 9999):04d}",
    }


def _ticket(rng: random.Random, category: str) -> str:
    subject, body = rng.choice(_TEMPLATES[category])
    slots = _slots(rng)
    opener, closer, tone = rng.choice(_OPENERS), rng.choice(_CLOSERS), rng.choice(_TONES)
    if category == "feature_request":
        tone = ""  # nobody is frustrated while suggesting a feature
    text = body.format(**slots)
    if tone and not tone.endswith(", "):
        text = tone + text
    elif tone:
        text = tone + text[0].lower() + text[1:]
    parts = [f"Subject: {subject.format(**slots)}", ""]
    if opener:
        parts.append(opener)
    parts.append(text)
    if closer:
        parts.append(closer)
    return "\n".join(parts)


def generate(*, seed: int = SEED, per_category: int = PER_CATEGORY) -> list[dict[str, str]]:
    """Return the sample records, deterministically for a seed.

    Categories are interleaved (one of each in turn, in a shuffled order per round) so any prefix of the list
    is roughly balanced. No two records have the same prompt.

    Args:
        seed: Seed of the random generator.
        per_category: How many records each category gets.

    Returns:
        Prompt/completion dicts.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    records: list[dict[str, str]] = []
    for _ in range(per_category):
        order = list(CATEGORIES)
        rng.shuffle(order)
        for category in order:
            prompt = _ticket(rng, category)
            while prompt in seen:
                prompt = _ticket(rng, category)
            seen.add(prompt)
            records.append({"prompt": prompt, "completion": category})
    return records


def render(records: Sequence[dict[str, str]]) -> str:
    """Return the JSONL text of ``records``: one compact JSON object per line, UTF-8, ``\\n`` endings."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write(path: str | os.PathLike[str] = DEFAULT_PATH, *, seed: int = SEED) -> Path:
    """Generate the records and write them to ``path`` atomically (temporary file, then rename).

    Returns:
        The path written.
    """
    return atomic_write(path, render(generate(seed=seed)).encode("utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped file (or write to the path given as the only argument)."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = write(args[0]) if args else write()
    print(f"wrote {len(generate())} records to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
