"""Write docs/reference/cli.md from the command line's own parsers.

    python scripts/cli_reference.py           # rewrite the page
    python scripts/cli_reference.py --check   # exit 1 if the page is out of date

The page is every command's ``--help`` text, so the reference cannot drift from the
options the commands really take (tests/test_docs.py runs ``--check``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "cli.md"


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse keeps no public list of its subcommands
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    yield path, parser
    for name, sub in _subparsers(parser):
        yield from _walk(sub, path + (name,))


def render() -> str:
    from rnnkit.cli.main import build_parser

    os.environ["COLUMNS"] = "88"  # help text wrapped the same on every terminal
    parts = [
        "# Command line\n",
        "Every command's own `--help`, generated from the parsers "
        "(`python scripts/cli_reference.py`).\n",
    ]
    for path, parser in _walk(build_parser(), ("rnnkit",)):
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "".join(parts)


def main(argv=None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    check = args.parse_args(argv).check
    text = render()
    if check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is out of date: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
