"""``haiku-finetune deployments orphans``: ``--delete`` deletes the listed deployments after a y/N question (``--yes``
agrees up front and is required without a terminal); ``--models`` also lists unused tagged custom models. One
LocalBedrock in this process (the fixtures of ``test_find_billed``)."""

from __future__ import annotations

import json

import pytest

import haiku_finetune as hf
from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from haiku_finetune.deployment import ProvisionedDeployment
from haiku_finetune.local import LocalBedrock
from tests.e2e.test_find_billed import emulator, transport

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")

__all__ = ["emulator", "transport"]  # fixtures used here


class _Terminal:
    """A stand-in for an interactive standard input."""

    def isatty(self) -> bool:
        return True


def _run(transport: hf.BedrockTransport, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), transport=transport)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_orphans_delete_yes_deletes_the_listed_deployments(
    emulator: tuple[LocalBedrock, str], transport: hf.BedrockTransport, capsys: pytest.CaptureFixture[str]
) -> None:
    local, model = emulator
    deps = [ProvisionedDeployment.create(model, name=f"orphan-{i}", transport=transport) for i in range(2)]
    code, out, err = _run(transport, capsys, "deployments", "orphans", "--delete", "--yes")
    assert (code, err) == (EXIT_OK, "")
    assert "orphan-0" in out and "age" in out
    assert out.endswith("deleted orphan-0\ndeleted orphan-1\n")
    assert local.deployments() == []
    assert all(d.arn not in {x["provisionedModelArn"] for x in local.deployments()} for d in deps)


def test_orphans_delete_refused_keeps_them_and_no_terminal_needs_yes(
    emulator: tuple[LocalBedrock, str],
    transport: hf.BedrockTransport,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local, model = emulator
    dep = ProvisionedDeployment.create(model, name="kept", transport=transport)
    questions: list[str] = []
    monkeypatch.setattr("sys.stdin", _Terminal())

    def answer_no(question: str) -> str:
        questions.append(question)
        return "n"

    monkeypatch.setattr("builtins.input", answer_no)
    code, out, err = _run(transport, capsys, "deployments", "orphans", "--delete")
    assert (code, err) == (EXIT_PROBLEMS, "")  # still billed
    assert out.endswith("not deleted\n")
    assert questions == ["Delete these 1 Provisioned Throughput(s)? [y/N] "]
    assert [d["provisionedModelArn"] for d in local.deployments()] == [dep.arn]

    monkeypatch.setattr("sys.stdin", type("NoTerminal", (), {"isatty": lambda self: False})())
    code, out, err = _run(transport, capsys, "deployments", "orphans", "--delete")
    assert code == EXIT_USAGE
    assert err == (
        "haiku-finetune deployments orphans: error: refusing to delete 1 Provisioned Throughput(s) without "
        "confirmation: pass --yes\n"
    )
    assert [d["provisionedModelArn"] for d in local.deployments()] == [dep.arn]


def test_orphans_models_lists_the_unused_custom_model(
    emulator: tuple[LocalBedrock, str], transport: hf.BedrockTransport, capsys: pytest.CaptureFixture[str]
) -> None:
    _, model = emulator
    assert _run(transport, capsys, "deployments", "orphans") == (
        EXIT_OK,
        "no deployments created by haiku-finetune are running\n",
        "",
    )
    code, out, _ = _run(transport, capsys, "deployments", "orphans", "--models")
    assert code == EXIT_PROBLEMS
    assert model in out and "billed for storage monthly" in out
    assert "aws bedrock delete-custom-model --model-identifier NAME --region us-west-2" in out
    code, out, _ = _run(transport, capsys, "deployments", "orphans", "--models", "--json")
    [row] = json.loads(out)
    assert (row["kind"], row["arn"]) == ("custom-model", model)
    assert isinstance(row["age_hours"], float)
