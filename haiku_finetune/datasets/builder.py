"""DatasetBuilder: an ordered, in-memory training set you can build, check, split, deduplicate and write.

Records are plain dicts in the Messages format (``{"system"?: str, "messages": [{"role", "content"}, ...]}``).
Validation runs the same streaming validator as files do, on the written form, so line numbers are record
positions (1-based). Writing refuses invalid data unless told otherwise, and is atomic.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson

from .._files import atomic_write, atomic_write_many, regular_input
from ..base_models import get_profile
from ..errors import DatasetValidationError
from .conversion import (
    ConversionProblem,
    ConversionResult,
    _messages_record,
    _parsed_lines,
    openai_chat_record,
    prompt_completion_record,
    records_from_rows,
)
from .report import ValidationIssue, ValidationReport
from .tokens import TokenCounter
from .validation import BaseModelChoice, validate_file

__all__ = ["DatasetBuilder"]

Record = dict[str, Any]


class DatasetBuilder:
    """An ordered collection of training records.

    Args:
        records: Initial records (copied).
    """

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self._records: list[Record] = [copy.deepcopy(dict(r)) for r in records]

    # -- building -------------------------------------------------------------------------------------

    def add(self, *, user: str, assistant: str, system: str | None = None) -> DatasetBuilder:
        """Add a single-turn record. Returns the builder, for chaining."""
        for name, value in (("user", user), ("assistant", assistant), ("system", system)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        return self.add_conversation(
            [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}], system=system
        )

    def add_conversation(self, messages: Sequence[Mapping[str, str]], *, system: str | None = None) -> DatasetBuilder:
        """Add a multi-turn record: alternating user/assistant messages, the last one the assistant's target."""
        self._records.append(_messages_record(system, [dict(m) for m in messages]))
        return self

    def extend(self, records: Iterable[Mapping[str, Any]]) -> DatasetBuilder:
        """Add records (dicts in the Messages format, copied)."""
        self._records.extend(copy.deepcopy(dict(r)) for r in records)
        return self

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> DatasetBuilder:
        """Build from record dicts."""
        return cls(records)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> DatasetBuilder:
        """Load Messages-format JSONL.

        Raises:
            FileNotFoundError: No such file.
            DatasetValidationError: Lines that are not JSON objects (listed with their numbers). Records that
                parse but break the rules load fine:
                [`validate`][haiku_finetune.datasets.builder.DatasetBuilder.validate] reports them.
        """
        return cls._load(path, _json_object)

    @classmethod
    def from_prompt_completion(
        cls,
        path: str | os.PathLike[str],
        *,
        system: str | None = None,
        prompt_key: str = "prompt",
        completion_key: str = "completion",
    ) -> DatasetBuilder:
        """Load prompt/completion JSONL, converting each line into a single-turn record.

        Raises:
            DatasetValidationError: Lines that could not be converted (listed with their numbers).
        """
        return cls._load(
            path,
            lambda data: prompt_completion_record(
                data, system=system, prompt_key=prompt_key, completion_key=completion_key
            ),
        )

    @classmethod
    def from_openai_chat(cls, path: str | os.PathLike[str], *, drop_unsupported: bool = False) -> DatasetBuilder:
        """Load OpenAI chat fine-tuning JSONL (system messages lifted; tools, images and names refused)."""
        return cls._load(path, lambda data: openai_chat_record(data, drop_unsupported=drop_unsupported))

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]] | Any,
        *,
        user_column: str = "prompt",
        assistant_column: str = "completion",
        system_column: str | None = None,
        system: str | None = None,
    ) -> DatasetBuilder:
        """Build from rows (dicts, or a pandas DataFrame) with chosen columns.

        Raises:
            DatasetValidationError: Rows that could not be converted (numbered from 1).
        """
        result: ConversionResult = records_from_rows(
            rows, user_column=user_column, assistant_column=assistant_column, system_column=system_column, system=system
        )
        return cls._loaded("rows", result.records, result.errors)

    @classmethod
    def _load(cls, path: str | os.PathLike[str], make: Callable[[Any], Record | None]) -> DatasetBuilder:
        problems: list[ValidationIssue] = []
        records: list[Record] = []
        with open(_existing(path), "rb") as handle:
            for number, data in _parsed_lines(handle):
                try:
                    if isinstance(data, ConversionProblem):
                        raise data
                    record = make(data)
                except ConversionProblem as problem:
                    problems.append(ValidationIssue(problem.code, number, str(problem)))
                    continue
                if record is not None:
                    records.append(record)
        return cls._loaded(path, records, problems)

    @classmethod
    def _loaded(cls, source: object, records: list[Record], problems: list[ValidationIssue]) -> DatasetBuilder:
        """A builder holding ``records`` (taken, not copied), unless some input could not be loaded."""
        _raise_problems(source, problems)
        builder = cls()
        builder._records = records
        return builder

    # -- reading ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        """Yield the records themselves (do not mutate them; use
        [`records`][haiku_finetune.datasets.builder.DatasetBuilder.records] for copies)."""
        return iter(self._records)

    @property
    def records(self) -> list[Record]:
        """A deep copy of the records."""
        return copy.deepcopy(self._records)

    def __repr__(self) -> str:
        return f"DatasetBuilder({len(self)} records)"

    # -- checking and transforming ----------------------------------------------------------------------

    def to_jsonl_bytes(self) -> bytes:
        """The written form: UTF-8, one compact JSON object per line, ``\\n`` line ends, no BOM."""
        return b"".join(orjson.dumps(r) + b"\n" for r in self._records)

    def sha256(self) -> str:
        """SHA-256 of the written form (what [`write`][haiku_finetune.datasets.builder.DatasetBuilder.write] writes and
        manifests record)."""
        return hashlib.sha256(self.to_jsonl_bytes()).hexdigest()

    def validate(
        self,
        *,
        split: Literal["train", "validation"] = "train",
        max_issues: int = 1000,
        token_counter: TokenCounter | None = None,
        base_model: BaseModelChoice = None,
    ) -> ValidationReport:
        """Validate the records as the service would; line numbers are 1-based record positions.

        ``base_model`` picks whose data limits apply, as in
        [`validate_file`][haiku_finetune.datasets.validation.validate_file] (default: Claude 3 Haiku's).
        """
        stream = io.BytesIO(self.to_jsonl_bytes())
        report = validate_file(
            stream, split=split, max_issues=max_issues, token_counter=token_counter, base_model=base_model
        )
        report.source = f"DatasetBuilder ({split})"
        return report

    def deduplicate(self) -> DatasetBuilder:
        """Return a new builder without exact repeats (the first occurrence of each record is kept)."""
        seen: set[bytes] = set()
        kept = []
        for record in self._records:
            key = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            if key not in seen:
                seen.add(key)
                kept.append(record)
        return DatasetBuilder(kept)

    def split(
        self,
        *,
        validation_fraction: float | None = None,
        validation_size: int | None = None,
        seed: int = 0,
        base_model: BaseModelChoice = None,
    ) -> tuple[DatasetBuilder, DatasetBuilder]:
        """Split into training and validation sets, deterministically for a seed.

        Exactly one of ``validation_fraction`` (0 < f < 1, rounded, at least one record) and
        ``validation_size`` is given. Record order inside each part follows the original order.

        Args:
            validation_fraction: The share of records for validation.
            validation_size: The number of records for validation.
            seed: Seeds the choice of validation records.
            base_model: Whose record limits the up-front checks apply, as in
                [`validate_file`][haiku_finetune.datasets.validation.validate_file] (default: Claude 3 Haiku's).

        Raises:
            ValueError: Both or neither given; a size that leaves no training data; a validation set over the
                base model's limit; more records in all than its training + validation limit; or no profile
                knows ``base_model``.
        """
        limits = get_profile(base_model).limits
        n = len(self._records)
        if (validation_fraction is None) == (validation_size is None):
            raise ValueError("give exactly one of validation_fraction and validation_size")
        if validation_fraction is not None:
            if not 0 < validation_fraction < 1:
                raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
            size = max(1, round(n * validation_fraction))
        else:
            assert validation_size is not None
            size = validation_size
        if not 1 <= size < n:
            raise ValueError(f"a validation set of {size} from {n} records leaves no training data (or none to check)")
        if size > limits.max_validation_records:
            raise ValueError(
                f"a validation set of {size:,} records is over the {limits.max_validation_records:,} allowed; "
                f"ask for validation_size={limits.max_validation_records} or less"
            )
        if n > limits.max_total_records:
            raise ValueError(
                f"{n:,} records is more than the {limits.max_total_records:,} training + validation records "
                "allowed; sample the data down first"
            )
        chosen = set(random.Random(seed).sample(range(n), size))
        train = DatasetBuilder()
        validation = DatasetBuilder()
        train._records = [r for i, r in enumerate(self._records) if i not in chosen]
        validation._records = [r for i, r in enumerate(self._records) if i in chosen]
        return train, validation

    def write_split(
        self,
        train_path: str | os.PathLike[str],
        validation_path: str | os.PathLike[str],
        *,
        validation_fraction: float | None = None,
        validation_size: int | None = None,
        seed: int = 0,
        inputs: Iterable[str | os.PathLike[str]] = (),
        base_model: BaseModelChoice = None,
    ) -> tuple[DatasetBuilder, DatasetBuilder]:
        """Split (as [`split`][haiku_finetune.datasets.builder.DatasetBuilder.split]) and write both files, all or
        nothing.

        Both parts must be usable as they are: each needs at least the base model's minimum of records
        (``limits.min_records``, for training and for validation data), and each is validated before anything is
        written. Both files are written to temporary files and renamed into place only when both are complete, so
        a failure leaves neither.

        Args:
            train_path: Where to write the training part.
            validation_path: Where to write the validation part.
            validation_fraction: As [`split`][haiku_finetune.datasets.builder.DatasetBuilder.split].
            validation_size: As [`split`][haiku_finetune.datasets.builder.DatasetBuilder.split].
            seed: As [`split`][haiku_finetune.datasets.builder.DatasetBuilder.split].
            inputs: Files the records came from: an output that is one of them is refused.
            base_model: Whose data limits the split and each part are checked against, as in
                [`validate_file`][haiku_finetune.datasets.validation.validate_file] (default: Claude 3 Haiku's).

        Returns:
            The training and validation parts.

        Raises:
            ValueError: The split cannot give two parts of at least the minimum of records; the message says what
                to pass (``validation_size=``) or how many records are missing.
            DatasetValidationError: A part breaks the rules (nothing is written).
            UnsafePathError: An output is an input, a symlink, a FIFO or a device, or both outputs are one file.
        """
        n = len(self._records)
        limits = get_profile(base_model).limits
        minimum = limits.min_records
        train, validation = self.split(
            validation_fraction=validation_fraction, validation_size=validation_size, seed=seed, base_model=base_model
        )
        if len(validation) < minimum or len(train) < minimum:
            asked = f"a {validation_fraction:.0%} validation split" if validation_fraction is not None else "this split"
            got = f"{asked} of {n:,} records gives {len(validation):,} validation and {len(train):,} training records"
            need = f"each file needs at least {minimum} records (Bedrock's minimum for training and validation)"
            if n < 2 * minimum:
                advice = (
                    f"{n:,} records cannot make two such files: add at least {2 * minimum - n} records, or train "
                    "without a validation file"
                )
            else:
                advice = (
                    f"pass validation_size=N (--validation-size N) with {minimum} <= N <= "
                    f"{min(n - minimum, limits.max_validation_records):,}"
                )
            raise ValueError(f"{got}, but {need}; {advice}")
        train_data, validation_data = train.to_jsonl_bytes(), validation.to_jsonl_bytes()
        parts: tuple[tuple[bytes, Literal["train", "validation"]], ...] = (
            (train_data, "train"),
            (validation_data, "validation"),
        )
        for data, split in parts:
            report = validate_file(io.BytesIO(data), split=split, base_model=base_model)
            report.source = f"DatasetBuilder ({split})"
            report.raise_for_errors()
        atomic_write_many([(train_path, train_data), (validation_path, validation_data)], inputs=inputs)
        return train, validation

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        split: Literal["train", "validation"] = "train",
        allow_invalid: bool = False,
        base_model: BaseModelChoice = None,
    ) -> Path:
        """Write the records as JSONL (UTF-8, no BOM, ``\\n``), atomically.

        Args:
            path: Where to write.
            split: Which rules to check against.
            allow_invalid: Write even when validation finds errors.
            base_model: Whose data limits apply, as in
                [`validate_file`][haiku_finetune.datasets.validation.validate_file] (default: Claude 3 Haiku's).

        Returns:
            The path written.

        Raises:
            DatasetValidationError: The data fails validation (nothing is written).
        """
        data = self.to_jsonl_bytes()
        if not allow_invalid:
            report = validate_file(io.BytesIO(data), split=split, base_model=base_model)
            report.source = f"DatasetBuilder ({split})"
            report.raise_for_errors()
        return atomic_write(path, data)  # refuses a symlink, a FIFO or a device at the path; keeps a file's mode


def _existing(path: str | os.PathLike[str]) -> Path:
    return regular_input(path, what="dataset file")  # os.stat first: a FIFO or a device is refused, not opened


def _json_object(data: Any) -> Record:
    """A parsed line as it is, when it is a JSON object (Messages JSONL needs no conversion)."""
    if not isinstance(data, dict):
        raise ConversionProblem("not_object", "a record must be a JSON object")
    return data


def _raise_problems(source: object, problems: list[ValidationIssue]) -> None:
    if problems:
        listed = "\n".join(f"  {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise DatasetValidationError(
            f"{source}: {len(problems)} line(s) could not be loaded\n{listed}{more}", issues=problems
        )
