"""The job manifest: what you keep to reproduce or audit a custom model, as JSON.

Dataset SHA-256s and record counts, hyperparameters (all effective values and the ones sent), base model,
region, job and model ARNs, library version. This module builds and writes the document; it makes no AWS call
of its own (the job hands it what it read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import atomic_write
from .._version import __version__
from ._submit import TAG_PREFIX
from .plan import DatasetInfo

if TYPE_CHECKING:
    from .job import CustomizationJob

__all__ = ["MANIFEST_VERSION", "build_manifest", "read_manifest", "rerun_fields"]

#: The ``manifest_version`` written (and the highest one :func:`read_manifest` accepts).
MANIFEST_VERSION = 1


def build_manifest(
    job: CustomizationJob,
    description: Mapping[str, Any],
    datasets: Mapping[str, DatasetInfo],
    tags: Mapping[str, str],
    *,
    path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Return (and optionally write, atomically) the manifest of ``job``.

    Args:
        job: The job, freshly refreshed.
        description: Its ``GetModelCustomizationJob`` description.
        datasets: Dataset details known from creating it (empty for an attached job).
        tags: Its tags (used when ``datasets`` is empty).
        path: Also write the manifest there as JSON.
    """
    known = dict(datasets) or _datasets_from_tags(tags)
    training = _with_uri(known.get("training"), job.training_uri)
    validation_uris = job.validation_uris
    validation = _with_uri(known.get("validation"), validation_uris[0]) if validation_uris else None
    hp = job.hyperparameters
    document: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "library": {"name": "haiku-finetune", "version": __version__},
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "region": job.region,
        "job": {
            "name": job.name,
            "arn": job.arn,
            "status": job.status,
            "created": _iso(description.get("creationTime")),
            "ended": _iso(description.get("endTime")),
            "role_arn": description.get("roleArn"),
            "output_uri": job.output_uri,
        },
        "custom_model": {"name": job.custom_model_name, "arn": job.custom_model_arn},
        "base_model": description.get("baseModelArn"),
        "hyperparameters": {"effective": hp.resolved(), "api": hp.to_api() or description.get("hyperParameters")},
        "datasets": {
            "training": _dataset_entry(training),
            "validation": _dataset_entry(validation) if validation is not None else None,
        },
    }
    if path is not None:
        _write_json(Path(path), document)
    return document


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a manifest written by [`CustomizationJob.manifest`][haiku_finetune.jobs.CustomizationJob.manifest].

    Raises:
        ValueError: The file is not a manifest, or one of a newer version than this library writes.
    """
    document: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a haiku-finetune job manifest (not a JSON object)")
    version = document.get("manifest_version")
    if not isinstance(version, int):
        raise ValueError(f"{path} is not a haiku-finetune job manifest (no manifest_version)")
    if version > MANIFEST_VERSION:
        raise ValueError(f"{path} is manifest version {version}; this library reads up to {MANIFEST_VERSION}")
    return document


def rerun_fields(manifest: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The [`JobSpec`][haiku_finetune.jobs.JobSpec] fields that re-run the job a manifest describes, with ``overrides``
    on top.

    Training and validation data, output location, role and the effective hyperparameters come from the
    manifest; the job and model names are left out (new ones are generated: a name cannot be reused).

    Raises:
        ValueError: The manifest lacks what a re-run needs (the training data's URI, the output or the role).
    """
    job = manifest.get("job") or {}
    datasets = manifest.get("datasets") or {}
    training = (datasets.get("training") or {}).get("uri")
    validation = (datasets.get("validation") or {}).get("uri")
    fields: dict[str, Any] = {
        "training_data": training,
        "output_uri": job.get("output_uri"),
        "role_arn": job.get("role_arn"),
        "hyperparameters": dict((manifest.get("hyperparameters") or {}).get("effective") or {}),
    }
    if validation:
        fields["validation_data"] = validation
    fields.update(overrides)
    missing = [name for name in ("training_data", "output_uri", "role_arn") if not fields.get(name)]
    if missing:
        raise ValueError(f"the manifest does not give {', '.join(missing)}: pass them as keyword arguments")
    return fields


def _datasets_from_tags(tags: Mapping[str, str]) -> dict[str, DatasetInfo]:
    found: dict[str, DatasetInfo] = {}
    for key in ("training", "validation"):
        sha = tags.get(f"{TAG_PREFIX}{key}-sha256")
        records = tags.get(f"{TAG_PREFIX}{key}-records")
        if sha or records:
            found[key] = DatasetInfo(
                source="tags", sha256=sha, records=int(records) if records and records.isdigit() else None
            )
    return found


def _with_uri(info: DatasetInfo | None, uri: str) -> DatasetInfo:
    if info is None:
        return DatasetInfo(source=uri, uri=uri, note="not known: the job carries none of haiku_finetune's dataset tags")
    return info if info.uri else info.model_copy(update={"uri": uri})


def _dataset_entry(info: DatasetInfo) -> dict[str, Any]:
    return {
        "uri": info.uri,
        "sha256": info.sha256,
        "records": info.records,
        "bytes": info.size,
        "tokens": info.tokens,
        "note": info.note,
    }


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"))
