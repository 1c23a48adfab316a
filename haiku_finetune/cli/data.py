"""Dataset commands: ``validate``, ``convert``, ``split``, ``stats`` and ``simulate-early-stopping``.

They work offline on local files and call the library for everything (validation, conversion, splitting,
early stopping); handlers import what they need when they run. This module only parses, calls and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._args import Commands, Parser, existing_file, fraction, losses, non_negative_float, output_file, positive_int
from ._context import EXIT_OK, EXIT_PROBLEMS, PROG, Context, UsageError
from ._format import issue_lines, table

if TYPE_CHECKING:
    from ..base_models import BaseModelProfile

# What ``validate -`` calls standard input in its output.
_STDIN = "<stdin>"


def _file_or_stdin(value: str) -> Path | str:
    """An input file, or ``-`` for standard input."""
    return "-" if value == "-" else existing_file(value)


def _base_model(args: argparse.Namespace) -> BaseModelProfile | None:
    """The ``--base-model`` profile (``None``: the default); an unknown one is a usage error listing the known."""
    from ..base_models import get_profile

    if args.base_model is None:
        return None
    try:
        return get_profile(args.base_model)
    except ValueError as error:
        raise UsageError(f"--base-model: {error}") from None


def _cmd_validate(args: argparse.Namespace, ctx: Context) -> int:
    from ..datasets import FilesValidationReport, ValidationReport, validate_file, validate_files, validate_stream

    profile = _base_model(args)
    result: ValidationReport | FilesValidationReport
    if args.file == "-":
        if args.validation is not None:
            raise UsageError("--validation needs FILE to be a file, not - (standard input)")
        if sys.stdin is None:  # started with standard input closed (<&-)
            raise UsageError("standard input is closed: give FILE, or pipe the data into -")
        # Read through the library's bounded stream reader: /dev/zero or an endless pipe ends in one error line.
        result = validate_stream(sys.stdin.buffer, split=args.split, max_issues=args.max_issues, base_model=profile)
        result.source = _STDIN
    elif args.validation is not None:
        result = validate_files(args.file, args.validation, max_issues=args.max_issues, base_model=profile)
    else:
        result = validate_file(args.file, split=args.split, max_issues=args.max_issues, base_model=profile)
    if args.json:
        ctx.json(result.to_dict())
        return EXIT_OK if result.ok else EXIT_PROBLEMS
    if isinstance(result, FilesValidationReport):
        reports = [result.train, *([result.validation] if result.validation is not None else [])]
        cross_errors, cross_warnings = result.cross_errors, result.cross_warnings
    else:
        reports, cross_errors, cross_warnings = [result], [], []

    paths = [_STDIN if args.file == "-" else str(args.file), str(args.validation)]
    for path, rep in zip(paths, reports, strict=False):
        _print_issues(ctx, path, rep.errors, rep.warnings, quiet=args.quiet)
    _print_issues(ctx, "training + validation", cross_errors, cross_warnings, quiet=args.quiet)
    for path, rep in zip(paths, reports, strict=False):
        errors = len(rep.errors) + rep.omitted_errors
        warnings = len(rep.warnings) + rep.omitted_warnings
        verdict = "valid" if rep.ok else "INVALID"
        more = (
            f" (only the first {len(rep.errors) + len(rep.warnings)} listed: raise --max-issues to see more)"
            if rep.omitted_errors or rep.omitted_warnings
            else ""
        )
        ctx.print(
            f"{path}: {verdict} as {rep.split} data: {rep.stats.records} records, {errors} error(s), "
            f"{warnings} warning(s){more}"
        )
    if cross_errors or cross_warnings:
        ctx.print(f"training + validation: {len(cross_errors)} error(s), {len(cross_warnings)} warning(s)")
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _print_issues(ctx: Context, where: str, errors: Sequence[Any], warnings: Sequence[Any], *, quiet: bool) -> None:
    """Print ``where``'s errors, then (unless ``quiet``) its warnings, one compiler-style line each."""
    for text in issue_lines(where, errors, "error"):
        ctx.print(text)
    if not quiet:
        for text in issue_lines(where, warnings, "warning"):
            ctx.print(text)


def _cmd_convert(args: argparse.Namespace, ctx: Context) -> int:
    from .._files import UnsafePathError

    try:
        return _convert(args, ctx)
    except UnsafePathError as error:  # DST is SRC, a FIFO, a device...: the library refuses, nothing is written
        raise UsageError(str(error)) from None


def _convert(args: argparse.Namespace, ctx: Context) -> int:
    from ..datasets import convert_csv, convert_openai_chat, convert_prompt_completion

    if args.format == "prompt-completion":
        result = convert_prompt_completion(args.src, args.dst, system=args.system)
    elif args.format == "openai":
        result = convert_openai_chat(args.src, args.dst, drop_unsupported=args.drop_unsupported)
    else:
        result = convert_csv(
            args.src,
            args.dst,
            user_column=args.user_column,
            assistant_column=args.assistant_column,
            system_column=args.system_column,
            system=args.system,
        )
    if args.json:
        ctx.json(result.to_dict())
        return EXIT_OK if result.ok else EXIT_PROBLEMS
    for text in issue_lines(str(args.src), result.errors, "error"):
        ctx.print(text)
    if result.destination is None:
        ctx.print(f"nothing written: {len(result.errors)} problem(s) with {args.src}")
        return EXIT_PROBLEMS
    dropped = f", {result.dropped} dropped on purpose" if result.dropped else ""
    ctx.print(
        f"wrote {result.written} record(s) to {result.destination}{dropped}; "
        f"{len(result.errors)} input line(s) could not be converted"
    )
    if result.ok:
        ctx.print(f"next: {PROG} validate {result.destination}")
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _cmd_split(args: argparse.Namespace, ctx: Context) -> int:
    from .._files import UnsafePathError
    from ..datasets import DatasetBuilder
    from ..errors import DatasetValidationError

    src: Path = args.src
    stem = src.name[: -len(".jsonl")] if src.name.endswith(".jsonl") else src.stem
    train_out = Path(args.train_out) if args.train_out else src.with_name(f"{stem}.train.jsonl")
    val_out = Path(args.validation_out) if args.validation_out else src.with_name(f"{stem}.validation.jsonl")
    profile = _base_model(args)
    builder = DatasetBuilder.from_jsonl(src)
    by_size = args.validation_size is not None
    try:
        # All or nothing: both parts are checked (sizes, rules) before either file is written.
        train, validation = builder.write_split(
            train_out,
            val_out,
            validation_size=args.validation_size if by_size else None,
            validation_fraction=None if by_size else args.validation_fraction,
            seed=args.seed,
            inputs=[src],
            base_model=profile,
        )
    except DatasetValidationError:
        raise
    except (UnsafePathError, ValueError) as error:  # the message explains the minimum sizes and what to pass
        raise UsageError(str(error)) from None
    if args.json:
        ctx.json(
            {
                "train": {"path": str(train_out), "records": len(train), "sha256": train.sha256()},
                "validation": {"path": str(val_out), "records": len(validation), "sha256": validation.sha256()},
                "seed": args.seed,
            }
        )
    else:
        ctx.print(f"train:      {len(train):>6} records -> {train_out}")
        ctx.print(f"validation: {len(validation):>6} records -> {val_out}")
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace, ctx: Context) -> int:
    from ..datasets import validate_file

    report = validate_file(args.file, split=args.split)
    if args.json:
        ctx.json({"file": str(args.file), "ok": report.ok, "stats": report.stats.to_dict()})
    else:
        ctx.print(str(args.file))
        ctx.print(str(report.stats))
        if not report.ok:
            errors = len(report.errors) + report.omitted_errors
            ctx.print(f"{errors} validation error(s): '{PROG} validate {args.file}' lists them")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def _cmd_simulate(args: argparse.Namespace, ctx: Context) -> int:
    from ..early_stopping import simulate_early_stopping

    values = losses(args.losses)
    _check_range("--threshold", "early_stopping_threshold", args.threshold)
    _check_range("--patience", "early_stopping_patience", args.patience)
    try:
        result = simulate_early_stopping(values, threshold=args.threshold, patience=args.patience)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.json:
        ctx.json(result.model_dump(mode="json"))
        return EXIT_OK
    rows = []
    for epoch, (loss, improved) in enumerate(zip(values, result.improved, strict=False), 1):
        note = "best" if epoch == result.best_epoch else ""
        if epoch == result.stopped_epoch:
            note = (note + ", stopped here").lstrip(", ")
        rows.append((epoch, loss, "yes" if improved else ("reference" if epoch == 1 else "no"), note))
    ctx.print(table(("epoch", "validation loss", "improved", "note"), rows))
    ignored = len(values) - result.epochs_run
    if ignored:
        ctx.print(f"({ignored} later epoch(s) would not run)")
    ctx.print("")
    ctx.print(result.explanation)
    return EXIT_OK


def _check_range(option: str, name: str, value: float) -> None:
    """Refuse a value outside the documented range of hyperparameter ``name`` (read where ``Hyperparameters``
    reads it), naming the option and the range."""
    from ..hyperparameters import HYPERPARAMETER_RANGES

    spec = HYPERPARAMETER_RANGES[name]
    if not spec.minimum <= value <= spec.maximum:
        raise UsageError(f"{option} {value:g} is outside the documented range of {spec.api_key}: {spec.describe()}")


def _convert_format(conv: Commands, name: str, *, help: str, description: str) -> Parser:
    """Add ``convert NAME``: like every input format, it takes SRC and DST and ``--json`` and runs `_cmd_convert`."""
    parser = conv.add(name, _cmd_convert, json=True, help=help, description=description)
    parser.add_argument("src", type=existing_file, metavar="SRC", help="input file")
    parser.add_argument("dst", type=output_file, metavar="DST", help="output JSONL file (written atomically)")
    return parser


def _base_model_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-model",
        metavar="ID",
        help="apply this base model's data limits: a profile key, model id or ARN (default: Claude 3 Haiku)",
    )


def register(commands: Commands) -> None:
    """Add this group's subcommands to the top-level parser."""
    from ..base_models import DEFAULT_BASE_MODEL

    # validate
    p = commands.add(
        "validate",
        _cmd_validate,
        json=True,
        help="check a training (and validation) file against every Bedrock rule",
        description="Check JSONL training data line by line; every problem is listed with its line number. "
        "Exit status 1 when the data has errors (warnings alone do not fail).",
    )
    p.add_argument(
        "file", type=_file_or_stdin, metavar="FILE", help="JSONL file in the Messages format (- reads standard input)"
    )
    p.add_argument(
        "--split", choices=("train", "validation"), default="train", help="which limits apply (default: train)"
    )
    p.add_argument(
        "--validation", type=existing_file, metavar="FILE", help="also check a validation file and cross-file rules"
    )
    p.add_argument("--max-issues", type=positive_int, default=1000, metavar="N", help="list at most N (default 1000)")
    _base_model_flag(p)
    p.add_argument("-q", "--quiet", action="store_true", help="list errors only, not warnings")

    # convert
    conv = commands.group(
        "convert",
        help="convert prompt/completion, OpenAI chat or CSV data to the Messages format",
        description="Convert data to the JSONL Messages format Claude 3 Haiku fine-tuning takes. Bad input lines "
        "are listed with their numbers (exit status 1); the output is written atomically.",
        dest="format",
        metavar="FORMAT",
    )
    c = _convert_format(
        conv,
        "prompt-completion",
        help='{"prompt", "completion"} JSONL (the format of other Bedrock models)',
        description='Convert {"prompt": ..., "completion": ...} JSONL records to the Messages format.',
    )
    c.add_argument("--system", metavar="TEXT", help="system prompt to add to every record")
    c = _convert_format(
        conv,
        "openai",
        help="OpenAI chat fine-tuning JSONL",
        description='Convert OpenAI chat JSONL ({"messages": [...]}); system messages move to the top-level '
        "system prompt. Tool calls, images and names are refused unless --drop-unsupported.",
    )
    c.add_argument("--drop-unsupported", action="store_true", help="drop tool calls, images and names")
    c = _convert_format(
        conv,
        "csv",
        help="a CSV file with a prompt column and a reply column",
        description="Convert a CSV file with a header row: one record per row.",
    )
    c.add_argument("--user-column", default="prompt", metavar="NAME", help="column with the user turn (prompt)")
    c.add_argument(
        "--assistant-column", default="completion", metavar="NAME", help="column with the reply (completion)"
    )
    c.add_argument("--system-column", metavar="NAME", help="column with a per-row system prompt")
    c.add_argument("--system", metavar="TEXT", help="system prompt for every record")

    # split
    p = commands.add(
        "split",
        _cmd_split,
        json=True,
        help="split a JSONL file into training and validation files",
        description="Shuffle deterministically (by --seed) and split into training and validation files that "
        "respect the Bedrock limits.",
    )
    p.add_argument("src", type=existing_file, metavar="SRC", help="JSONL file in the Messages format")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--validation-fraction", type=fraction, default=0.1, metavar="F", help="share for validation (default 0.1)"
    )
    size.add_argument("--validation-size", type=positive_int, metavar="N", help="records for validation")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    p.add_argument(
        "--train-out", type=output_file, metavar="PATH", help="training output (default SRC stem + .train.jsonl)"
    )
    p.add_argument(
        "--validation-out",
        type=output_file,
        metavar="PATH",
        help="validation output (default SRC stem + .validation.jsonl)",
    )
    _base_model_flag(p)

    # stats
    p = commands.add(
        "stats",
        _cmd_stats,
        json=True,
        help="record, turn and token statistics of a JSONL file",
        description="Print records, turns, system prompts and estimated tokens per record of a Messages file.",
    )
    p.add_argument("file", type=existing_file, metavar="FILE")
    p.add_argument("--split", choices=("train", "validation"), default="train", help="which limits apply")

    # simulate-early-stopping
    p = commands.add(
        "simulate-early-stopping",
        _cmd_simulate,
        json=True,
        help="apply Bedrock's early-stopping rules to per-epoch validation losses",
        description="Show at which epoch training would stop and which checkpoint is best.",
        epilog="Example (the documented table): --losses 0.9 0.8 0.7 0.66 0.64 0.65 0.65 --threshold 0 --patience 2",
    )
    p.add_argument("--losses", nargs="+", required=True, metavar="LOSS", help="validation loss per epoch")
    threshold, patience = (
        DEFAULT_BASE_MODEL.hyperparameters[n] for n in ("early_stopping_threshold", "early_stopping_patience")
    )
    p.add_argument("--threshold", type=non_negative_float, default=threshold.default, help=threshold.brief())
    p.add_argument("--patience", type=positive_int, default=int(patience.default), help=patience.brief())
