"""IAM documents never grant more than the named prefixes: S3 key characters never become wildcards (issue 14)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from haiku_finetune import iam

ACCOUNT = "123456789012"
HOSTILE = [
    "s3://bkt/*",
    "s3://bkt/?",
    "s3://bkt/team*/train.jsonl",
    "s3://bkt/team?/",
    "s3://bkt/${aws:username}/train.jsonl",
    "s3://bkt/$/*/?/",
    "s3://bkt/a*b?c$d/",
    "s3://bkt/${*}/x",
    "s3://bkt/plain/train.jsonl",
    "s3://bkt/",
]
ESCAPES = ("${*}", "${?}", "${$}")


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for uri in HOSTILE:
        for output in ("s3://out-bkt/o*/", "s3://bkt/out?/x", "s3://bkt/"):
            yield f"data {uri} -> {output}", iam.data_access_policy(uri, [uri], output, bucket_owner=ACCOUNT)
            yield (
                f"data {uri} (kms)",
                iam.data_access_policy(
                    [uri, "s3://other-bkt/v$/"],
                    None,
                    output,
                    f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    partition="aws-cn",
                ),
            )
    yield "trust", iam.trust_policy(ACCOUNT, "us-west-2")
    yield "vpc", iam.vpc_policy(["subnet-1"], ["sg-1"], region="us-west-2", account_id=ACCOUNT)


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield path, value


def _unescaped(text: str) -> str:
    for escape in ESCAPES:
        text = text.replace(escape, "")
    return text


# Wildcards the library writes on purpose: a trailing "*" after a prefix ("/*" or "...prefix*"), the whole-account
# job ARN in the trust policy, EC2 Describe on "*", and network interfaces (scoped by conditions).
def _allowed_wildcard(name: str, path: str, value: str) -> bool:
    if path.endswith(".Action") or (name == "vpc" and value == "*" and path.endswith(".Resource")):
        return True
    if value.endswith(":network-interface/*") or value.endswith(":model-customization-job/*"):
        return True
    return value == "*" and path.endswith("s3:prefix")  # the bucket root itself was named


@pytest.mark.parametrize(("name", "document"), list(_documents()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_key_character_becomes_a_wildcard_or_a_variable(name: str, document: dict[str, Any]) -> None:
    for path, value in _strings(document):
        if _allowed_wildcard(name, path, value):
            continue
        rest = _unescaped(value)
        if rest.endswith("*") and ("Resource" in path or "s3:prefix" in path):
            rest = rest[:-1]  # the library's own trailing wildcard after an escaped prefix
        assert "*" not in rest and "?" not in rest, (name, path, value)
        assert "${" not in rest and "$" not in rest, (name, path, value)


def test_a_bucket_wildcard_uri_grants_one_object_not_the_bucket() -> None:
    policy = iam.data_access_policy("s3://bkt/*", None, "s3://bkt/out/")
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadTrainingAndValidationData")
    assert read["Resource"] == ["arn:aws:s3:::bkt/${*}"]
    listing = next(s for s in policy["Statement"] if s["Sid"].startswith("ListOnlyDataPrefixes"))
    assert "*" not in [_unescaped(p) for p in listing["Condition"]["StringLike"]["s3:prefix"]]


def test_keys_are_escaped_and_prefixes_keep_their_own_wildcard() -> None:
    policy = iam.data_access_policy("s3://bkt/team*/", "s3://bkt/${aws:username}/v.jsonl", "s3://bkt/o?/")
    resources = [r for s in policy["Statement"] for r in s["Resource"]]
    assert "arn:aws:s3:::bkt/team${*}/*" in resources
    assert "arn:aws:s3:::bkt/${$}{aws:username}/v.jsonl" in resources
    assert "arn:aws:s3:::bkt/o${?}/*" in resources


@pytest.mark.parametrize(
    "call",
    [
        lambda: iam.data_access_policy("s3://bkt/a", None, "s3://bkt/o/", "arn:aws:kms:us-west-2:1:key/*"),
        lambda: iam.vpc_policy(["subnet-*"], ["sg-1"], region="us-west-2", account_id=ACCOUNT),
        lambda: iam.vpc_policy(
            ["subnet-1"], ["arn:aws:ec2:us-west-2:1:security-group/?"], region="us-west-2", account_id=ACCOUNT
        ),
        lambda: iam.vpc_policy(["subnet-1"], ["sg-1"], region="us-*", account_id=ACCOUNT),
        lambda: iam.trust_policy(ACCOUNT, "*"),
        lambda: iam.data_access_policy("s3://bkt/a", None, "s3://bkt/o/", bucket_owner="*"),
    ],
)
def test_wildcards_in_arns_ids_and_regions_are_refused(call: Any) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert "\n" not in str(info.value) and re.search(r"\*|\?|region|account", str(info.value))
