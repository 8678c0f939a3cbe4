"""The one error convention of every ``python -m ...`` command in this project.

A user's mistake (a bad option, a file that is not weights, an output path we may not
touch) is reported as exactly one line on stderr, ``<prog>: error: <what>``, with exit
status 2 and nothing written. A traceback means a bug of ours, never a user mistake.

Library code raises `UserError` (or `ValueError`, which every model already raises for
bad input); the command-line wrappers only parse arguments, call the library and print.
This module sits on the lowest floor (golden/) so that every layer can use it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_USAGE = 2
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class UserError(ValueError):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


def one_line(message: object) -> str:
    """Collapse a message to one readable line: no ANSI colours, no line breaks."""
    text = _ANSI.sub("", str(message))
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return "; ".join(parts) if parts else type(message).__name__


class Parser(argparse.ArgumentParser):
    """argparse with the project's convention: one error line (no usage block), exit 2.

    ``Parser("hw.generate", "what it does", "python -m hw.generate --n=56")``: every
    command is named ``python -m <module>``, and its ``--help`` ends with an example.
    """

    def __init__(self, module: str, description: str, example: str | None = None) -> None:
        super().__init__(
            prog=f"python -m {module}",
            description=description,
            epilog=f"example: {example}" if example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def comma_ints(text: str, option: str) -> list[int]:
    """Parse ``--option 4,8,16`` into integers, or say which option is malformed."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--{option} must be a comma list of integers; got {text!r}") from None
    if not values:
        raise UserError(f"--{option} is empty")
    return values


def describe_os_error(exc: OSError) -> str:
    """'PATH: Permission denied' rather than '[Errno 13] Permission denied: PATH'."""
    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or one_line(exc)
    return f"{where}: {what}" if where else what


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body; turn user mistakes into one line on stderr and exit status 2."""
    try:
        return body()
    except ValueError as exc:  # UserError and the models' input checks
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
    except OSError as exc:  # unwritable output, unreadable input, disk full
        print(f"{prog}: error: {describe_os_error(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE
