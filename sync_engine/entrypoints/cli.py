"""The ``sync-engine`` command line.

Exit codes everywhere: 0 success, 1 completed with problems, 2 bad usage. Every command that
prints data accepts ``--json``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from sync_engine import __version__
from sync_engine.bootstrap import build_validator
from sync_engine.config import Settings, load_settings
from sync_engine.domain.serialization import plan_to_dict
from sync_engine.entrypoints import store_commands
from sync_engine.entrypoints.output import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    UsageError,
    print_json,
)
from sync_engine.errors import ConfigError, SyncEngineError
from sync_engine.parsing import parse_plan


def _plan_files(argument: str) -> Iterator[tuple[str, Path]]:
    """(display path, real path) of each plan a command-line path names."""
    path = Path(argument)
    if path.is_file():
        yield argument, path
    elif path.is_dir():
        for found in sorted(path.rglob("*.md")):
            relative = found.relative_to(path)
            if any(part.startswith(".") for part in relative.parts[:-1]):
                continue
            if "node_modules" in relative.parts:
                continue
            yield str(Path(argument) / relative), found
    else:
        raise UsageError(f"{argument}: no such file or folder")


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(getattr(args, "root", None))
    except ConfigError as error:
        raise UsageError(str(error)) from error


def _command_validate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        validator = build_validator(settings)
    except ConfigError as error:
        raise UsageError(str(error)) from error
    table = settings.status_table()
    files = [item for argument in args.paths for item in _plan_files(argument)]
    reports = []
    for shown, real in files:
        try:
            data = real.read_bytes()
        except OSError as error:
            raise UsageError(f"{shown}: cannot be read: {error.strerror}") from error
        reports.append((shown, validator.validate(parse_plan(data, shown, table))))
    failed = any(report.has_errors for _, report in reports)
    if args.json:
        print_json(
            {
                "files": [
                    {
                        "path": shown,
                        "tasks": report.tasks,
                        "score": report.score,
                        "findings": [finding.to_dict() for finding in report.findings],
                    }
                    for shown, report in reports
                ]
            }
        )
        return EXIT_PROBLEMS if failed else EXIT_OK
    for shown, report in reports:
        print(f"{shown}: {report.tasks} tasks, score {report.score}/100")
        for finding in report.findings:
            where = f"{shown}:{finding.line}" if finding.line else shown
            hint = f"  (hint: {finding.hint})" if finding.hint else ""
            print(f"  {where}: {finding.severity.value} [{finding.code}] {finding.message}{hint}")
    errors = sum(1 for _, r in reports for f in r.findings if f.severity.value == "error")
    warnings = sum(1 for _, r in reports for f in r.findings if f.severity.value == "warning")
    print(f"{len(reports)} files, {errors} errors, {warnings} warnings")
    return EXIT_PROBLEMS if failed else EXIT_OK


def _command_parse(args: argparse.Namespace) -> int:
    settings = _settings(args)
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    result = parse_plan(path.read_bytes(), args.file, settings.status_table())
    data = plan_to_dict(result.plan, settings.status_table())
    if args.json:
        print_json(data)
    else:
        plan = result.plan
        print(f"{args.file}: {plan.title or '(no title)'}")
        print(
            f"  version {plan.version or '-'}, date {plan.date or '-'}, declared progress "
            f"{plan.declared_progress if plan.declared_progress is not None else '-'}%, "
            f"computed {data['progress']['percent']}%"
        )
        for phase in data["phases"]:
            print(
                f"  phase {phase['number']}: {phase['title']} (line {phase['line']}, "
                f"{phase['progress']['done']}/{phase['progress']['total']} done)"
            )
        print(f"  {len(plan.tasks)} tasks, {len(plan.findings)} parser findings")
    return EXIT_PROBLEMS if result.plan.flags.skip_sync else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sync-engine",
        description="Keep Markdown development plans and a database in step.",
    )
    parser.add_argument("--version", action="version", version=f"sync-engine {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    validate = commands.add_parser("validate", help="check plans against the schema and rules")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="plan files or folders")
    validate.add_argument("--root", help="plans root whose sync-engine.toml applies")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=_command_validate)

    parse = commands.add_parser("parse", help="print a plan's parsed model")
    parse.add_argument("file", metavar="FILE")
    parse.add_argument("--root", help="plans root whose sync-engine.toml applies")
    parse.add_argument("--json", action="store_true", help="print JSON")
    parse.set_defaults(handler=_command_parse)
    store_commands.register(commands)
    return parser


# Built once a process: the command line is the same for every call of ``main``.
_parser = functools.cache(build_parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # What the imports made lives as long as the process: out of the collector's sight, a
    # full collection during a command walks only the command's own objects, not some fifty
    # thousand of the libraries' (tens of milliseconds each time, in a sync of one plan).
    gc.freeze()
    try:
        code: int = args.handler(args)
    except (UsageError, ConfigError) as error:
        print(f"sync-engine: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SyncEngineError as error:
        print(f"sync-engine: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK
    return code
