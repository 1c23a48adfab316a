"""Write ``examples/quickstart.ipynb``: the demo's workflow, cell by cell, on LocalBedrock.

The notebook is generated, not edited by hand, so its code stays reviewable as plain Python here and the file
stays free of outputs and execution counts. Regenerate it after changing a cell::

    python examples/make_quickstart_notebook.py

``tests/demo/test_demo_notebook.py`` checks the file is up to date and executes it with nbclient.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).with_name("quickstart.ipynb")

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# Fine-tune Claude 3 Haiku in Amazon Bedrock — quickstart

This notebook runs the whole fine-tuning workflow of the AWS blog post with `haiku_finetune`: prepare and validate
data, create the IAM role, upload to S3, plan and run a fine-tuning job, read its metrics and early stopping, deploy
the model on Provisioned Throughput, invoke it, evaluate it against the base model, and clean up.

It runs **offline** on LocalBedrock, the library's Bedrock emulator, with a manual clock: waiting for a multi-hour
job takes no real time. The package is not on PyPI: install it from a checkout with `pip install -e '.[local,plot]'`
(or build a wheel, `python -m build`, and `pip install 'dist/haiku_finetune-<version>-py3-none-any.whl[local,plot]'`).
To run against AWS instead, drop the `LocalBedrock` cell and the `transport=transport` arguments: the library then
uses your default credentials.""",
    ),
    (
        "md",
        """## 1. Start LocalBedrock

Every AWS call below goes through `transport`, wired to the emulator. The emulator runs at a date when Claude 3 Haiku
could still be fine-tuned in us-west-2 (it reached its end of life there on 2026-09-10; see `docs/migration.md`).""",
    ),
    (
        "code",
        """import datetime
from pathlib import Path

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.demo import DEMO_VALIDATION_LOSSES
from haiku_finetune.local import LocalBedrock

local = LocalBedrock(validation_losses=list(DEMO_VALIDATION_LOSSES), date=datetime.date(2026, 2, 1))
local.start()
transport = local.transport()
workdir = Path("quickstart-output")
workdir.mkdir(exist_ok=True)
print("Bedrock endpoint:", local.endpoint_url, "account:", transport.account_id())""",
    ),
    (
        "md",
        """## 2. Prepare the data

The sample dataset ships with the package: 360 support tickets labelled with their queue, in the
prompt/completion form other Bedrock models use. Convert them to the Messages format Claude 3 Haiku needs,
adding a system prompt.""",
    ),
    (
        "code",
        """data = hf.DatasetBuilder.from_prompt_completion(support_tickets_path(), system=SYSTEM_PROMPT)
print(len(data), "records")
data.records[0]""",
    ),
    ("md", "Validate every record against the Bedrock rules — every problem would be listed with its line number."),
    (
        "code",
        """messages_path = data.write(workdir / "support_tickets.messages.jsonl")
report = hf.validate_file(messages_path)
print(report)
report.raise_for_errors()""",
    ),
    ("md", "Split deterministically into training, validation (for early stopping) and a held-out test set."),
    (
        "code",
        """rest, test = data.split(validation_size=60, seed=7)
train, validation = rest.split(validation_size=60, seed=7)
len(train), len(validation), len(test)""",
    ),
    (
        "md",
        """## 3. IAM role and S3

The service role trusts Bedrock for this account's customization jobs only, and may read the data prefix and
write the output prefix — nothing else.""",
    ),
    (
        "code",
        """transport.call("s3", "CreateBucket", Bucket="quickstart",
               CreateBucketConfiguration={"LocationConstraint": transport.region})
data_uri, output_uri = "s3://quickstart/data/", "s3://quickstart/output/"
role_arn = iam.ensure_service_role(
    "haiku-quickstart", training=data_uri, validation=data_uri, output=output_uri, transport=transport
)
train_uri = storage.upload_dataset(train, data_uri + "train.jsonl", transport=transport)
validation_uri = storage.upload_dataset(validation, data_uri + "validation.jsonl", transport=transport)
role_arn, train_uri, validation_uri""",
    ),
    (
        "md",
        """## 4. Hyperparameters

The blog post's example uses `learningRateMultiplier = 0.05`, below the documented minimum of 0.1. The library
refuses it before any call is made:""",
    ),
    (
        "code",
        """try:
    hf.Hyperparameters.from_api({"epochCount": "5", "batchSize": "32", "learningRateMultiplier": "0.05",
                                 "earlyStoppingThreshold": "0.001", "earlyStoppingPatience": "2"})
except hf.HyperparameterError as error:
    print(error)

hyperparameters = hf.Hyperparameters(epoch_count=5, batch_size=32, learning_rate_multiplier=0.1,
                                     early_stopping_threshold=0.001, early_stopping_patience=2)
hyperparameters.to_api()""",
    ),
    (
        "md",
        "## 5. Plan, then create the job\n\n"
        "`plan` runs every preflight check and estimates the job; it submits nothing.",
    ),
    (
        "code",
        """job_args = dict(training_data=train_uri, validation_data=validation_uri, output_uri=output_uri,
                role_arn=role_arn, hyperparameters=hyperparameters, transport=transport)
plan = hf.CustomizationJob.plan(**job_args)
print(plan)""",
    ),
    (
        "code",
        """job = hf.CustomizationJob.create(**job_args)
job.wait()      # a progress bar; on the emulator's manual clock this takes no real time
job.status""",
    ),
    (
        "md",
        """## 6. Metrics and early stopping

The job was set to 5 epochs; the validation loss stopped improving after epoch 2, so with threshold 0.001 and
patience 2 early stopping ended training after epoch 4.""",
    ),
    (
        "code",
        """metrics = job.metrics()
print(metrics.epoch_validation_losses())
print(metrics.early_stopping())
metrics.plot(workdir / "loss.png")""",
    ),
    (
        "md",
        """## 7. Deploy on Provisioned Throughput, invoke, evaluate

Provisioned Throughput is billed by the hour until deleted; the `with` block deletes it on every exit path.
The evaluation compares the base model with the fine-tuned one on the held-out test set. (LocalBedrock answers
with stand-ins, not a model: the numbers show the plumbing, not Claude's quality.)""",
    ),
    (
        "code",
        """from haiku_finetune.evaluation import LabelAccuracy, evaluate

with hf.ProvisionedDeployment.create(job.custom_model, model_units=1, transport=transport) as deployment:
    deployment.wait()
    ticket = test.records[0]["messages"][0]["content"]
    print(deployment.model.invoke(ticket, system=SYSTEM_PROMPT, max_tokens=20).text)
    evaluation = evaluate(
        {"base": hf.FineTunedModel.base(transport=transport), "tuned": deployment.model},
        test,
        scorers=[LabelAccuracy()],
    )
evaluation.save(workdir / "evaluation")
evaluation  # a table per model, the confusion matrices and a plot of the scores""",
    ),
    (
        "md",
        "`LabelAccuracy()` takes its labels from the test set: the base model's free-text replies all land in one "
        "`(other)` column of the confusion matrix.",
    ),
    ("md", "## 8. Clean up\n\nThe deployment is gone; stop the emulator."),
    (
        "code",
        """print("deployments left:", len(local.deployments()))
local.stop()""",
    ),
]


def build() -> nbformat.NotebookNode:
    """Return the notebook built from :data:`CELLS`."""
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, (kind, source) in enumerate(CELLS):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"cell-{index:02d}"  # stable ids: regenerating gives the same file
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def render() -> str:
    """Return the notebook's JSON text, as written to disk."""
    return str(nbformat.writes(build())) + "\n"


def main() -> int:
    """Write the notebook next to this script."""
    tmp = NOTEBOOK.with_name(f".{NOTEBOOK.name}.tmp")
    tmp.write_text(render(), encoding="utf-8")
    tmp.replace(NOTEBOOK)
    print(f"wrote {NOTEBOOK}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
