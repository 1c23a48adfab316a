"""iam: least-privilege documents, trust evaluation, and ensure_service_role against moto's IAM."""

from __future__ import annotations

import json
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam
from tests.fakes import FakeClock

ACCOUNT = "123456789012"
REGION = "us-west-2"
KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _s3_resources(policy: dict[str, Any]) -> list[str]:
    return [r for s in policy["Statement"] for r in s["Resource"] if any(a.startswith("s3:") for a in s["Action"])]


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


# -- documents ------------------------------------------------------------------------------------------------


def test_trust_policy_has_both_conditions() -> None:
    policy = iam.trust_policy(ACCOUNT, REGION)
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert statement["Condition"]["ArnEquals"] == {
        "aws:SourceArn": "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/*"
    }
    assert iam.trust_policy(ACCOUNT, "cn-north-1")["Statement"][0]["Condition"]["ArnEquals"][
        "aws:SourceArn"
    ].startswith("arn:aws-cn:bedrock:cn-north-1:")
    with pytest.raises(ValueError, match="12 digits"):
        iam.trust_policy("1234", REGION)


def test_data_policy_is_least_privilege() -> None:
    policy = iam.data_access_policy(
        "s3://data-bucket/haiku/train.jsonl", "s3://data-bucket/haiku/val/", "s3://out-bucket/runs"
    )
    resources = _s3_resources(policy)
    assert "*" not in resources
    assert all(r.startswith("arn:aws:s3:::") for r in resources)
    assert not any(r in ("arn:aws:s3:::data-bucket/*", "arn:aws:s3:::out-bucket/*") for r in resources)
    statements = _by_sid(policy)
    read = statements["ReadTrainingAndValidationData"]
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == ["arn:aws:s3:::data-bucket/haiku/train.jsonl", "arn:aws:s3:::data-bucket/haiku/val/*"]
    write = statements["ReadAndWriteOutput"]
    assert write["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert write["Resource"] == ["arn:aws:s3:::out-bucket/runs/*"]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    lists = [s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"]]
    assert {s["Resource"][0] for s in lists} == {"arn:aws:s3:::data-bucket", "arn:aws:s3:::out-bucket"}
    for statement in lists:
        assert statement["Condition"]["StringLike"]["s3:prefix"], statement
    data_list = next(s for s in lists if s["Resource"] == ["arn:aws:s3:::data-bucket"])
    assert data_list["Condition"]["StringLike"]["s3:prefix"] == ["haiku/train.jsonl", "haiku/val", "haiku/val/*"]
    assert not any(a.startswith(("kms:", "ec2:")) for a in actions)


def test_kms_statement_only_when_asked() -> None:
    policy = iam.data_access_policy("s3://b-1/t.jsonl", None, "s3://b-1/out/", KEY)
    kms = _by_sid(policy)["UseDataAndModelKey"]
    assert kms["Resource"] == [KEY]
    assert set(kms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"}
    assert "bedrock.us-west-2.amazonaws.com" in kms["Condition"]["StringEquals"]["kms:ViaService"]
    with pytest.raises(ValueError, match="key ARN"):
        iam.data_access_policy("s3://b-1/t.jsonl", None, "s3://b-1/out/", "alias/mine")


def test_bucket_owner_condition() -> None:
    policy = iam.data_access_policy("s3://b-1/t.jsonl", None, "s3://b-1/out/", bucket_owner=ACCOUNT)
    for statement in policy["Statement"]:
        assert statement["Condition"]["StringEquals"]["s3:ResourceAccount"] == ACCOUNT


def test_data_policy_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="not an S3 URI"):
        iam.data_access_policy("/local/train.jsonl", None, "s3://b-1/out/")
    with pytest.raises(ValueError, match="no training"):
        iam.data_access_policy([], None, "s3://b-1/out/")


def test_vpc_policy_scoped_to_named_resources() -> None:
    policy = iam.vpc_policy(["subnet-1", "subnet-2"], ["sg-1"], region=REGION, account_id=ACCOUNT)
    statements = _by_sid(policy)
    assert statements["DescribeNetwork"]["Resource"] == ["*"]
    assert all(a.startswith("ec2:Describe") for a in statements["DescribeNetwork"]["Action"])
    named = statements["CreateInterfacesInNamedSubnets"]["Resource"]
    assert named == [
        "arn:aws:ec2:us-west-2:123456789012:subnet/subnet-1",
        "arn:aws:ec2:us-west-2:123456789012:subnet/subnet-2",
        "arn:aws:ec2:us-west-2:123456789012:security-group/sg-1",
    ]
    for sid in ("CreateOnlyBedrockManagedInterfaces", "ManageBedrockInterfacesInNamedSubnets", "TagNewInterfaces"):
        assert statements[sid]["Condition"], sid
        assert "*" not in statements[sid]["Resource"]
    with pytest.raises(ValueError, match="subnet"):
        iam.vpc_policy([], ["sg-1"], region=REGION, account_id=ACCOUNT)


# -- trust evaluation -------------------------------------------------------------------------------------------


def test_our_trust_policy_admits_bedrock_here_only() -> None:
    ours = iam.trust_policy(ACCOUNT, REGION)
    assert iam.trust_admits_bedrock(ours, ACCOUNT, REGION)[0] is True
    assert iam.trust_admits_bedrock(json.dumps(ours), ACCOUNT, REGION)[0] is True
    assert iam.trust_admits_bedrock(ours, "210987654321", REGION)[0] is False
    assert iam.trust_admits_bedrock(ours, ACCOUNT, "us-east-1")[0] is False


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}, True),
        ({"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"}, False),
        ({"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:*"}, True),
        ({"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "s3:GetObject"}, False),
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringLike": {"aws:SourceArn": "arn:aws:bedrock:*:123456789012:*"}},
            },
            True,
        ),
        (
            {
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            None,
        ),
    ],
)
def test_trust_evaluation(statement: dict[str, Any], expected: bool | None) -> None:
    verdict, why = iam.trust_admits_bedrock({"Version": "2012-10-17", "Statement": [statement]}, ACCOUNT, REGION)
    assert verdict is expected, why


def test_url_encoded_policy_is_parsed() -> None:
    encoded = "%7B%22Statement%22%3A%20%5B%5D%7D"
    assert iam.parse_policy(encoded) == {"Statement": []}


# -- the propagation refusal -------------------------------------------------------------------------------------


def _error(cls: type[hf.ServiceError], message: str) -> hf.ServiceError:
    return cls(message, operation="CreateModelCustomizationJob", code="X")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_error(hf.ServiceValidationError, "Could not assume the provided role arn:aws:iam::1:role/r"), True),
        (_error(hf.AccessDeniedError, "Bedrock cannot assume role r: check its trust policy"), True),
        (_error(hf.AccessDeniedError, "User is not authorized to perform iam:PassRole on role r"), False),
        (_error(hf.ServiceValidationError, "batchSize is out of range"), False),
        (_error(hf.ThrottlingError, "could not assume role"), False),
        (ValueError("assume role"), False),
    ],
)
def test_propagation_refusal_is_narrow(error: BaseException, expected: bool) -> None:
    assert iam.is_role_propagation_refusal(error) is expected


# -- ensure_service_role on moto -------------------------------------------------------------------------------


def test_ensure_creates_then_updates(aws: hf.BedrockTransport) -> None:
    arn = iam.ensure_service_role("haiku-ft", training="s3://b-1/t/", output="s3://b-1/out/", transport=aws)
    assert arn == f"arn:aws:iam::{ACCOUNT}:role/service-role/haiku-ft"
    client: Any = aws.client("iam")
    role = client.get_role(RoleName="haiku-ft")["Role"]
    assert iam.trust_admits_bedrock(role["AssumeRolePolicyDocument"], ACCOUNT, REGION)[0] is True
    tags = client.list_role_tags(RoleName="haiku-ft")["Tags"]
    assert {"Key": "created-by", "Value": "haiku-finetune"} in tags
    policy = client.get_role_policy(RoleName="haiku-ft", PolicyName=iam.DATA_POLICY_NAME)["PolicyDocument"]
    assert "arn:aws:s3:::b-1/t/*" in _s3_resources(iam.parse_policy(policy))

    again = iam.ensure_service_role(
        "haiku-ft",
        training="s3://b-2/t.jsonl",
        output="s3://b-2/out/",
        vpc_subnets=["subnet-1"],
        vpc_security_groups=["sg-1"],
        transport=aws,
    )
    assert again == arn
    policy = client.get_role_policy(RoleName="haiku-ft", PolicyName=iam.DATA_POLICY_NAME)["PolicyDocument"]
    assert "arn:aws:s3:::b-2/t.jsonl" in _s3_resources(iam.parse_policy(policy))
    names = client.list_role_policies(RoleName="haiku-ft")["PolicyNames"]
    assert sorted(names) == sorted([iam.DATA_POLICY_NAME, iam.VPC_POLICY_NAME])
    assert len(client.list_roles()["Roles"]) == 1


def test_vpc_policy_only_while_asked(aws: hf.BedrockTransport) -> None:
    client: Any = aws.client("iam")

    def policies() -> list[str]:
        return sorted(client.list_role_policies(RoleName="haiku-vpc")["PolicyNames"])

    args: dict[str, Any] = {"training": "s3://b-1/t.jsonl", "output": "s3://b-1/out/", "transport": aws}
    vpc = {"vpc_subnets": ["subnet-1"], "vpc_security_groups": ["sg-1"]}
    iam.ensure_service_role("haiku-vpc", **args)
    assert policies() == [iam.DATA_POLICY_NAME]
    iam.ensure_service_role("haiku-vpc", **args, **vpc)
    assert policies() == sorted([iam.DATA_POLICY_NAME, iam.VPC_POLICY_NAME])
    iam.ensure_service_role("haiku-vpc", **args)  # no longer asked: removed
    assert policies() == [iam.DATA_POLICY_NAME]
    iam.ensure_service_role("haiku-vpc", **args)  # and again, with nothing to remove
    assert policies() == [iam.DATA_POLICY_NAME]


def test_ensure_repairs_own_trust_but_not_yours(aws: hf.BedrockTransport) -> None:
    client: Any = aws.client("iam")
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    client.create_role(
        RoleName="ours",
        AssumeRolePolicyDocument=json.dumps(ec2_trust),
        Tags=[{"Key": "created-by", "Value": "haiku-finetune"}],
    )
    client.create_role(RoleName="yours", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    iam.ensure_service_role("ours", training="s3://b-1/t.jsonl", output="s3://b-1/o/", transport=aws)
    trust = client.get_role(RoleName="ours")["Role"]["AssumeRolePolicyDocument"]
    assert iam.trust_admits_bedrock(trust, ACCOUNT, REGION)[0] is True
    with pytest.raises(hf.HaikuFinetuneError, match="not made by haiku-finetune"):
        iam.ensure_service_role("yours", training="s3://b-1/t.jsonl", output="s3://b-1/o/", transport=aws)
    assert client.list_role_policies(RoleName="yours")["PolicyNames"] == []


def test_ensure_refuses_bad_arguments(aws: hf.BedrockTransport) -> None:
    with pytest.raises(ValueError, match="role name"):
        iam.ensure_service_role("bad name", training="s3://b-1/t", output="s3://b-1/o/", transport=aws)
    with pytest.raises(ValueError, match="both"):
        iam.ensure_service_role(
            "r", training="s3://b-1/t", output="s3://b-1/o/", vpc_subnets=["subnet-1"], transport=aws
        )


def test_propagation_window_runs_on_the_transport_clock(aws: hf.BedrockTransport) -> None:
    arn = iam.ensure_service_role("fresh", training="s3://b-1/t.jsonl", output="s3://b-1/o/", transport=aws)
    assert iam.propagation_window(arn, aws.clock) == pytest.approx(iam.ROLE_PROPAGATION_SECONDS)
    aws.clock.sleep(100)
    assert iam.propagation_window(arn, aws.clock) == pytest.approx(iam.ROLE_PROPAGATION_SECONDS - 100)
    aws.clock.sleep(100)
    assert iam.propagation_window(arn, aws.clock) == 0.0
    assert iam.propagation_window("arn:aws:iam::123456789012:role/other", aws.clock) == 0.0
    assert iam.propagation_window(arn, FakeClock()) == iam.ROLE_PROPAGATION_SECONDS


def test_role_name_from_arn() -> None:
    assert iam.role_name_from_arn("arn:aws:iam::123456789012:role/service-role/x") == "x"
    with pytest.raises(ValueError, match="role ARN"):
        iam.role_name_from_arn("arn:aws:iam::123456789012:user/x")
