"""The IAM service role Bedrock assumes to run a customization job: least-privilege documents and one ensure call.

* [`trust_policy`][haiku_finetune.iam.trust_policy] lets ``bedrock.amazonaws.com`` assume the role only for *this*
account's
  customization jobs in *this* region (``aws:SourceAccount`` and ``aws:SourceArn`` conditions).
* [`data_access_policy`][haiku_finetune.iam.data_access_policy] grants read on exactly the training/validation objects
(or prefixes), read and
  write under the output prefix only, ``s3:ListBucket`` only with an ``s3:prefix`` condition, never ``*`` as
  an S3 resource, and KMS permissions only when a key is given. Compare AWS's sample notebook (8 S3 actions
  on whole buckets) or helpers that attach ``AmazonS3FullAccess``. S3 keys are written with IAM's escapes
  (``*`` as ``${*}``, ``?`` as ``${?}``, ``$`` as ``${$}``), so a key character never becomes a wildcard or a
  policy variable: ``s3://bkt/*`` grants the one object named ``*``, not the bucket. ARNs and ids given to the
  builders (KMS keys, subnets, security groups) holding those characters are refused.
* [`vpc_policy`][haiku_finetune.iam.vpc_policy] adds the EC2 permissions a job in a VPC needs, scoped to the named
subnets and
  security groups (the ``Describe*`` actions cannot be scoped, so they are on ``*``).
* [`ensure_service_role`][haiku_finetune.iam.ensure_service_role] creates the role, or updates its inline policies, and
returns its ARN.

IAM is eventually consistent: Bedrock can refuse a role for some seconds after it was created or changed.
[`is_role_propagation_refusal`][haiku_finetune.iam.is_role_propagation_refusal] recognizes exactly that refusal, and
[`propagation_window`][haiku_finetune.iam.propagation_window] says for
how long after [`ensure_service_role`][haiku_finetune.iam.ensure_service_role] touched a role the jobs layer should
retry it. Nothing else is
retried here; the transport does the usual retrying.

Longer than ~600 lines on purpose: every policy document and its escaping rules, so one lint test covers them all.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any, TypeAlias

from ._clock import Clock
from ._tags import LIBRARY_TAG_KEY, LIBRARY_TAG_VALUE
from ._transport import BedrockTransport, resolve_transport
from .errors import (
    AccessDeniedError,
    HaikuFinetuneError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
)
from .storage import S3Uri

__all__ = [
    "DATA_POLICY_NAME",
    "ROLE_PROPAGATION_SECONDS",
    "VPC_POLICY_NAME",
    "data_access_policy",
    "ensure_service_role",
    "is_role_propagation_refusal",
    "parse_policy",
    "partition_for",
    "propagation_window",
    "role_name_from_arn",
    "simulate_data_access",
    "trust_admits_bedrock",
    "trust_policy",
    "vpc_policy",
]

_log = logging.getLogger(__name__)

BEDROCK_PRINCIPAL = "bedrock.amazonaws.com"
#: Name of the inline policy holding the S3 (and KMS) permissions.
DATA_POLICY_NAME = "haiku-finetune-data-access"
#: Name of the inline policy holding the VPC permissions.
VPC_POLICY_NAME = "haiku-finetune-vpc-access"
#: How long after :func:`ensure_service_role` created or changed a role a job create refused because the
#: role cannot be assumed is retried. IAM changes usually propagate within seconds; two minutes is generous.
ROLE_PROPAGATION_SECONDS = 120.0

_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_VERSION = "2012-10-17"

Locations: TypeAlias = "str | Sequence[str]"


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
#: IAM policy characters with a meaning in ARNs and StringLike values: wildcards, and ``$`` opening a policy
#: variable (``${aws:username}``). IAM's own escapes for them: ``${*}``, ``${?}``, ``${$}``.
_IAM_SPECIAL = re.compile(r"[*?$]")


def _literal(text: str) -> str:
    """Write ``text`` so IAM matches it literally: ``*``, ``?`` and ``$`` become ``${*}``, ``${?}``, ``${$}``.

    An S3 key may hold any of them (``team*/train.jsonl`` is a valid key, and Bedrock's URI pattern allows
    ``*``); unescaped, a key character would widen the grant (``s3://bkt/*`` would grant the whole bucket).
    The library's own wildcards (a trailing ``*`` after a prefix) are added after escaping.
    """
    return _IAM_SPECIAL.sub(lambda m: "${" + m.group(0) + "}", text)


def _object_arn(uri: S3Uri, partition: str) -> str:
    return f"arn:{partition}:s3:::{uri.bucket}/{_literal(uri.key)}"


def _plain(value: str, what: str) -> str:
    """Refuse an ARN or id given to a policy builder that holds an IAM wildcard or variable character."""
    if _IAM_SPECIAL.search(value):
        raise ValueError(
            f"{what} {value!r} contains '*', '?' or '$', which IAM would read as a wildcard or a policy variable; "
            "give the exact ARN or id"
        )
    return value


def _check_region(region: str) -> None:
    if not _REGION.fullmatch(region):
        raise ValueError(f"not an AWS region name: {region!r} (e.g. us-west-2)")


def partition_for(region: str) -> str:
    """Return the AWS partition of a region (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_name_from_arn(role_arn: str) -> str:
    """Return the role name (the last path segment) of a role ARN."""
    if ":role/" not in role_arn:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    return role_arn.rsplit("/", 1)[-1]


# -- documents --------------------------------------------------------------------------------------------


def trust_policy(account_id: str, region: str) -> dict[str, Any]:
    """Return the trust policy letting Bedrock assume the role for this account's customization jobs only.

    Args:
        account_id: The 12-digit account id jobs run in.
        region: The region jobs run in.
    """
    _check_account(account_id)
    _check_region(region)
    partition = partition_for(region)
    return {
        "Version": _VERSION,
        "Statement": [
            {
                "Sid": "BedrockModelCustomization",
                "Effect": "Allow",
                "Principal": {"Service": BEDROCK_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {
                        "aws:SourceArn": f"arn:{partition}:bedrock:{region}:{account_id}:model-customization-job/*"
                    },
                },
            }
        ],
    }


def data_access_policy(
    training: Locations,
    validation: Locations | None,
    output: str,
    kms_key_arn: str | None = None,
    *,
    bucket_owner: str | None = None,
    partition: str = "aws",
) -> dict[str, Any]:
    """Return the least-privilege S3 (and KMS) policy for a customization job's data.

    A location ending in ``/`` is a prefix (everything under it is readable); otherwise it is one object.
    The output location is always a prefix: Bedrock writes ``model-customization-job-<id>/...`` under it.

    Args:
        training: Training data URI(s).
        validation: Validation data URI(s), or ``None``.
        output: The output URI (``outputDataConfig.s3Uri``).
        kms_key_arn: The ARN of a KMS key that encrypts the data or the model; adds the KMS statement
            (``kms:ViaService`` limited to Bedrock and S3 in the key's region).
        bucket_owner: An account id; when given, every S3 statement requires ``s3:ResourceAccount`` to be it.
        partition: The AWS partition for ARNs.

    Returns:
        An IAM policy document (a dict ready for ``json.dumps``).

    Raises:
        ValueError: A location is not a valid S3 URI, or ``kms_key_arn`` is not a key ARN.
    """
    readers = [S3Uri(u) for u in _as_list(training)] + [S3Uri(u) for u in _as_list(validation)]
    if not readers:
        raise ValueError("no training data location given")
    out = S3Uri(output).as_prefix()
    if bucket_owner is not None:
        _check_account(bucket_owner)
    if partition not in ("aws", "aws-cn", "aws-us-gov"):
        raise ValueError(f"unknown AWS partition {partition!r}; expected aws, aws-cn or aws-us-gov")

    # Keys are written with IAM's escapes (see _literal): the only wildcards in the document are the library's
    # own trailing "*" after a prefix.
    read_objects: list[str] = []
    list_prefixes: dict[str, list[str]] = {}
    for uri in readers:
        if uri.is_prefix:
            read_objects.append(f"{_object_arn(uri, partition)}*")
            list_prefixes.setdefault(uri.bucket, []).extend(_listing_prefixes(uri.key))
        else:
            read_objects.append(_object_arn(uri, partition))
            list_prefixes.setdefault(uri.bucket, []).append(_literal(uri.key))
    list_prefixes.setdefault(out.bucket, []).extend(_listing_prefixes(out.key))

    owner = {"StringEquals": {"s3:ResourceAccount": bucket_owner}} if bucket_owner else None
    statements: list[dict[str, Any]] = [
        _statement("ReadTrainingAndValidationData", ["s3:GetObject"], _unique(read_objects), owner),
        _statement(
            "ReadAndWriteOutput",
            ["s3:GetObject", "s3:PutObject"],
            [f"{_object_arn(out, partition)}*"],
            owner,
        ),
    ]
    for bucket, prefixes in sorted(list_prefixes.items()):
        condition: dict[str, Any] = {"StringLike": {"s3:prefix": _unique(prefixes)}}
        if owner:
            condition.update(owner)
        statements.append(
            _statement(
                f"ListOnlyDataPrefixes{_sid(bucket)}", ["s3:ListBucket"], [f"arn:{partition}:s3:::{bucket}"], condition
            )
        )
    if kms_key_arn:
        statements.append(_kms_statement(kms_key_arn))
    return {"Version": _VERSION, "Statement": statements}


def vpc_policy(
    subnets: Sequence[str],
    security_groups: Sequence[str],
    *,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """Return the EC2 permissions a job running in your VPC needs, scoped to these subnets and security groups.

    Args:
        subnets: Subnet ids (``subnet-...``) or ARNs.
        security_groups: Security group ids (``sg-...``) or ARNs.
        region: The region of the VPC.
        account_id: The account that owns the subnets and security groups.
    """
    if not subnets or not security_groups:
        raise ValueError("a VPC configuration needs at least one subnet and one security group")
    _check_account(account_id)
    _check_region(region)
    for value in (*subnets, *security_groups):
        _plain(value, "subnet or security group")
    partition = partition_for(region)
    ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
    subnet_arns = [s if s.startswith("arn:") else f"{ec2}:subnet/{s}" for s in subnets]
    group_arns = [g if g.startswith("arn:") else f"{ec2}:security-group/{g}" for g in security_groups]
    interfaces = f"{ec2}:network-interface/*"
    return {
        "Version": _VERSION,
        "Statement": [
            # Describe calls cannot be limited to resources; they reveal no data.
            _statement(
                "DescribeNetwork",
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                ["*"],
            ),
            _statement("CreateInterfacesInNamedSubnets", ["ec2:CreateNetworkInterface"], subnet_arns + group_arns),
            _statement(
                "CreateOnlyBedrockManagedInterfaces",
                ["ec2:CreateNetworkInterface"],
                [interfaces],
                {"StringEquals": {"aws:RequestTag/BedrockManaged": "true"}},
            ),
            _statement(
                "ManageBedrockInterfacesInNamedSubnets",
                [
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                [interfaces],
                {
                    "ArnEquals": {"ec2:Subnet": subnet_arns},
                    "StringEquals": {"ec2:ResourceTag/BedrockManaged": "true"},
                },
            ),
            _statement(
                "TagNewInterfaces",
                ["ec2:CreateTags"],
                [interfaces],
                {
                    "StringEquals": {"ec2:CreateAction": ["CreateNetworkInterface"]},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["BedrockManaged", "BedrockModelCustomizationJobArn"]},
                },
            ),
        ],
    }


def _kms_statement(kms_key_arn: str) -> dict[str, Any]:
    _plain(kms_key_arn, "kms_key_arn")
    parts = kms_key_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[5].startswith("key/"):
        raise ValueError(
            f"kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got {kms_key_arn!r}; "
            "a policy cannot name a key by id or alias"
        )
    region = parts[3]
    # Bedrock uses the key directly for the model; S3 uses it on the role's behalf for SSE-KMS data objects.
    via = [f"bedrock.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
    return _statement(
        "UseDataAndModelKey",
        ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
        [kms_key_arn],
        {"StringEquals": {"kms:ViaService": via}},
    )


def _statement(
    sid: str, actions: list[str], resources: list[str], condition: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = dict(condition)
    return statement


def _listing_prefixes(key: str) -> list[str]:
    # A prefix "a/b/" is listed as "a/b/" or anything under it; also allow "a/b" (without the slash), which
    # some clients send when they list a folder.
    if not key:
        return ["*"]  # the bucket itself was named: listing all of it is what was asked
    key = _literal(key)
    return [key.rstrip("/"), f"{key}*"] if key.endswith("/") else [key, f"{key}/*"]


def _sid(bucket: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]", bucket) if part)


def _as_list(value: Locations | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _check_account(account_id: str) -> None:
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"an AWS account id is 12 digits, got {account_id!r}")


# -- trust evaluation -------------------------------------------------------------------------------------


def parse_policy(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """Return a policy document as a dict; IAM returns it URL-encoded JSON in some clients."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document if document.lstrip().startswith("{") else urllib.parse.unquote(document)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def trust_admits_bedrock(document: str | Mapping[str, Any], account_id: str, region: str) -> tuple[bool | None, str]:
    """Tell whether a trust policy lets Bedrock assume the role for a customization job in this account/region.

    Evaluates ``Allow`` statements naming ``bedrock.amazonaws.com`` and ``sts:AssumeRole`` with the condition
    operators IAM uses for these keys (``StringEquals``/``StringLike``/``ArnEquals``/``ArnLike`` on
    ``aws:SourceAccount``/``aws:SourceArn``). ``Deny`` statements and other condition keys make the answer
    "cannot tell" rather than a guess.

    Returns:
        ``(True, why)``, ``(False, why)`` or ``(None, why)`` when the policy uses something not evaluated here.
    """
    policy = parse_policy(document)
    job_arn = f"arn:{partition_for(region)}:bedrock:{region}:{account_id}:model-customization-job/example/abcdefghijkl"
    context = {"aws:sourceaccount": account_id, "aws:sourcearn": job_arn}
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    undecided = ""
    for statement in statements:
        if statement.get("Effect") != "Allow":
            if _names_bedrock(statement):
                undecided = "it has a Deny statement for bedrock.amazonaws.com"
            continue
        if not _names_bedrock(statement) or not _allows_assume(statement):
            continue
        verdict = _conditions_hold(statement.get("Condition", {}), context)
        if verdict is True:
            return True, f"bedrock.amazonaws.com may assume it for customization jobs in {account_id}/{region}"
        if verdict is None:
            undecided = "its conditions use keys or operators this check does not evaluate"
    if undecided:
        return None, f"cannot tell: {undecided}"
    return False, (
        f"its trust policy does not let bedrock.amazonaws.com assume it for customization jobs in account "
        f"{account_id}, region {region} (see haiku_finetune.iam.trust_policy)"
    )


def _names_bedrock(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    services = principal.get("Service", [])
    services = [services] if isinstance(services, str) else list(services)
    return BEDROCK_PRINCIPAL in services or "*" in services


def _allows_assume(statement: Mapping[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    return any(fnmatchcase("sts:assumerole", str(a).lower()) for a in actions)


_OPERATORS = {"stringequals", "stringlike", "arnequals", "arnlike"}


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool | None:
    for operator, pairs in conditions.items():
        op = operator.lower()
        if op not in _OPERATORS or not isinstance(pairs, Mapping):
            return None
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                return None
            values = [expected] if isinstance(expected, str) else list(expected)
            # IAM matches ArnEquals like ArnLike: segment-wise, with wildcards.
            ok = actual in values if op == "stringequals" else any(fnmatchcase(actual, v) for v in values)
            if not ok:
                return False
    return True


# -- the role ----------------------------------------------------------------------------------------------


_touched: dict[str, tuple[Clock, float]] = {}
_touched_lock = threading.Lock()


def ensure_service_role(
    name: str,
    *,
    training: Locations,
    output: str,
    validation: Locations | None = None,
    kms_key_arn: str | None = None,
    vpc_subnets: Sequence[str] | None = None,
    vpc_security_groups: Sequence[str] | None = None,
    bucket_owner: str | None = None,
    path: str = "/service-role/",
    description: str = "Assumed by Amazon Bedrock to run Claude 3 Haiku fine-tuning jobs (made by haiku-finetune)",
    tags: Mapping[str, str] | None = None,
    transport: BedrockTransport | None = None,
) -> str:
    """Create the Bedrock service role for fine-tuning, or bring an existing one up to date; return its ARN.

    Idempotent: a missing role is created with [`trust_policy`][haiku_finetune.iam.trust_policy], tagged
        ``created-by=haiku-finetune``;
    an existing role gets its inline policies replaced with the ones for these locations (the VPC policy is
    removed when no VPC is given). An existing role's
    trust policy is replaced only when the library made the role; a role of yours whose trust policy does not
    admit Bedrock is refused with an error rather than changed behind your back.

    Args:
        name: The role name (1–64 characters of letters, digits and ``+=,.@_-``).
        training: Training data URI(s) (an object, or a prefix ending in ``/``).
        output: The job output URI.
        validation: Validation data URI(s).
        kms_key_arn: A KMS key ARN used for the data or the model.
        vpc_subnets: Subnet ids, when jobs run in your VPC.
        vpc_security_groups: Security group ids, when jobs run in your VPC.
        bucket_owner: Require the buckets to belong to this account id.
        path: The role's IAM path.
        description: The role's description.
        tags: Extra tags for the role.
        transport: The transport to use (default: the process default).

    Returns:
        The role's ARN.

    Raises:
        HaikuFinetuneError: An existing role not made by the library does not trust Bedrock.
        AccessDeniedError: The caller may not read or write IAM roles.
        ValueError: A location, name or key is malformed.
    """
    if not _ROLE_NAME.fullmatch(name):
        raise ValueError(f"invalid IAM role name {name!r}: 1-64 characters of letters, digits and +=,.@_-")
    if bool(vpc_subnets) != bool(vpc_security_groups):
        raise ValueError("give both vpc_subnets and vpc_security_groups, or neither")
    t = resolve_transport(transport)
    account, region = t.account_id(), t.region
    partition = partition_for(region)
    trust = trust_policy(account, region)
    data = data_access_policy(training, validation, output, kms_key_arn, bucket_owner=bucket_owner, partition=partition)
    vpc = (
        vpc_policy(vpc_subnets or [], vpc_security_groups or [], region=region, account_id=account)
        if vpc_subnets
        else None
    )

    try:
        role = t.call("iam", "GetRole", RoleName=name)["Role"]
    except ResourceNotFoundError:
        role = None
    existed = role is not None
    if role is None:
        iam_tags = [{"Key": LIBRARY_TAG_KEY, "Value": LIBRARY_TAG_VALUE}]
        iam_tags += [{"Key": k, "Value": v} for k, v in (tags or {}).items() if k != LIBRARY_TAG_KEY]
        role = t.call(
            "iam",
            "CreateRole",
            RoleName=name,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=description,
            Tags=iam_tags,
        )["Role"]
        _log.info("created IAM role %s", role["Arn"])
    else:
        _update_trust(t, role, trust, account, region)
    arn = str(role["Arn"])
    t.call("iam", "PutRolePolicy", RoleName=name, PolicyName=DATA_POLICY_NAME, PolicyDocument=json.dumps(data))
    if vpc is not None:
        t.call("iam", "PutRolePolicy", RoleName=name, PolicyName=VPC_POLICY_NAME, PolicyDocument=json.dumps(vpc))
    elif existed:
        # The role's policies are those for what is asked now: a VPC policy from an earlier call would keep
        # granting network-interface rights no job of this role needs any more.
        try:
            t.call("iam", "DeleteRolePolicy", RoleName=name, PolicyName=VPC_POLICY_NAME)
        except ResourceNotFoundError:
            _log.debug("IAM role %s has no VPC policy to remove", name)
        else:
            _log.info("removed the VPC policy of IAM role %s (no VPC given)", name)
    with _touched_lock:
        _touched[arn] = (t.clock, t.clock.monotonic())
    return arn


def _update_trust(
    t: BedrockTransport, role: Mapping[str, Any], trust: dict[str, Any], account: str, region: str
) -> None:
    name = role["RoleName"]
    current = role.get("AssumeRolePolicyDocument")
    admits, why = trust_admits_bedrock(current, account, region) if current else (False, "it has no trust policy")
    if admits:
        return
    tags = role.get("Tags")
    if tags is None:
        tags = t.call("iam", "ListRoleTags", RoleName=name).get("Tags", [])
    ours = any(tag.get("Key") == LIBRARY_TAG_KEY and tag.get("Value") == LIBRARY_TAG_VALUE for tag in tags)
    if not ours:
        raise HaikuFinetuneError(
            f"IAM role {name} exists but was not made by haiku-finetune, and {why}. Use another role name, or "
            "add haiku_finetune.iam.trust_policy(account, region) to its trust policy yourself."
        )
    _log.info("updating the trust policy of IAM role %s: %s", name, why)
    t.call("iam", "UpdateAssumeRolePolicy", RoleName=name, PolicyDocument=json.dumps(trust))


def propagation_window(role_arn: str, clock: Clock) -> float:
    """Return how many more seconds a refusal of ``role_arn`` may be IAM still propagating, on ``clock``.

    Non-zero only when [`ensure_service_role`][haiku_finetune.iam.ensure_service_role] created or changed the role in
    this process within the
    last [`ROLE_PROPAGATION_SECONDS`][haiku_finetune.iam.ROLE_PROPAGATION_SECONDS] (measured on the same clock; a role
    touched under another clock
    gets the full window).
    """
    with _touched_lock:
        entry = _touched.get(role_arn)
    if entry is None:
        return 0.0
    touched_clock, at = entry
    if touched_clock is not clock:
        return ROLE_PROPAGATION_SECONDS
    return max(0.0, ROLE_PROPAGATION_SECONDS - (clock.monotonic() - at))


_ASSUME_WORDS = ("assume", "assumable", "trust")


def is_role_propagation_refusal(error: BaseException) -> bool:
    """Return True for the refusal Bedrock gives while a new role is not yet usable.

    That is a ``ValidationException`` or ``AccessDeniedException`` whose message is about the role not being
    assumable (it mentions the role and "assume" or "trust"). A missing ``iam:PassRole`` permission of the
    caller is *not* this refusal.
    """
    if not isinstance(error, (ServiceValidationError, AccessDeniedError)):
        return False
    if not isinstance(error, ServiceError):  # pragma: no cover - both classes are ServiceErrors
        return False
    text = error.message.lower()
    if "passrole" in text:
        return False
    return "role" in text and any(word in text for word in _ASSUME_WORDS)


# -- permission simulation ---------------------------------------------------------------------------------


def simulate_data_access(
    role_arn: str,
    *,
    training: Locations,
    output: str,
    validation: Locations | None = None,
    transport: BedrockTransport | None = None,
) -> tuple[bool, str]:
    """Ask IAM's policy simulator whether a role may read the data and write the output.

    Simulates ``s3:GetObject`` on each data location, ``s3:PutObject`` under the output prefix and
    ``s3:ListBucket`` with the matching ``s3:prefix`` on each bucket, as Bedrock would use them. The
    simulator sees identity policies only (not bucket policies or SCPs), so a pass is strong evidence, not
    proof.

    Returns:
        ``(True, why)`` when every action is allowed, ``(False, why)`` naming the first denied one.

    Raises:
        ServiceError: The simulator could not be used (e.g. ``AccessDeniedError`` when the caller lacks
            ``iam:SimulatePrincipalPolicy``): the caller decides what "not checked" means.
    """
    t = resolve_transport(transport)
    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") else "aws"
    probes: list[tuple[str, str, str | None]] = []
    for raw in _as_list(training) + _as_list(validation):
        uri = S3Uri(raw)
        key = uri.joinpath("train.jsonl") if uri.is_prefix else uri
        probes.append(("s3:GetObject", key.arn(partition), None))
        probes.append(("s3:ListBucket", f"arn:{partition}:s3:::{uri.bucket}", uri.key))
    out = S3Uri(output).as_prefix()
    job_dir = "model-customization-job-abcdefghijkl"
    sample = out.joinpath(job_dir, "training_artifacts", "step_wise_training_metrics.csv")
    probes.append(("s3:PutObject", sample.arn(partition), None))
    probes.append(("s3:ListBucket", f"arn:{partition}:s3:::{out.bucket}", out.key))
    for action, resource, prefix in _unique_probes(probes):
        params: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]}
        if prefix is not None:
            params["ContextEntries"] = [
                {"ContextKeyName": "s3:prefix", "ContextKeyValues": [prefix], "ContextKeyType": "string"}
            ]
        results = t.call("iam", "SimulatePrincipalPolicy", **params).get("EvaluationResults", [])
        for result in results:
            if result.get("EvalDecision") != "allowed":
                where = f" with s3:prefix {prefix!r}" if prefix is not None else ""
                return False, f"{action} on {resource}{where} is {result.get('EvalDecision', 'not allowed')}"
    return True, "the policy simulator allows reading the data and writing the output"


def _unique_probes(probes: list[tuple[str, str, str | None]]) -> list[tuple[str, str, str | None]]:
    return list(dict.fromkeys(probes))
