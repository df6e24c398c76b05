"""Entry point of the ``qornn`` command.

Each command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
taking the parsed arguments and returning an exit code.  User errors
(:class:`qornn.errors.QornnError`, a bad command line, a full disk or unwritable
output, memory exhausted) become one line ``qornn: error: ...`` on stderr and exit
code 2.  A closed pipe (``qornn ... | head``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys

from ..errors import OutputError, QornnError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``qornn: error: MESSAGE (see qornn COMMAND --help)``, exit code 2."""

    def error(self, message: str):
        self.exit(2, f"qornn: error: {message} (see `{self.prog} --help`)\n")


# Order of this list is the order of `qornn --help`.
COMMANDS = ["train", "eval", "info", "presets"]
OPTIONAL_COMMANDS = ["quantize", "bench", "report", "data", "bound", "export", "sweep"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="qornn",
        description="Tiny orthogonal RNNs with binary, ternary or k-bit recurrent weights.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS + OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(f"qornn.cli.{name}")
        except ModuleNotFoundError as exc:  # a command not (yet) present in this build
            if exc.name == f"qornn.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of unwritable output succeeds."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured by a test)
        pass


def _run(argv) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a one-line usage error (already printed)
        code = exc.code
    else:
        args.command_line = "qornn " + shlex.join(sys.argv[1:] if argv is None else argv)  # recorded by `train`
        code = args.func(args)
    try:
        sys.stdout.flush()  # surface a full or closed stdout here, not at interpreter exit
    except BrokenPipeError:
        raise
    except OSError as exc:
        _silence_stdout()
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
    return code if isinstance(code, int) else (0 if code is None else 2)


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except QornnError as exc:
        message = f"qornn: error: {_one_line(exc)}"
    except BrokenPipeError:  # `qornn ... | head`: the reader has what it wanted
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a command stopped by a closed pipe
    except KeyboardInterrupt:
        print("qornn: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        message = "qornn: error: out of memory; lower train.batch_size, the sequence length or model.hidden_size"
    except RuntimeError as exc:  # torch's allocator: "DefaultCPUAllocator: can't allocate memory ..."
        text = _one_line(exc)
        if "can't allocate memory" not in text and "out of memory" not in text:
            raise
        message = (f"qornn: error: out of memory ({text[:160]}); lower train.batch_size, the sequence length "
                   f"or model.hidden_size")
    except OSError as exc:  # an unwritable stdout (print) or a file that no QornnError named
        if exc.filename is None:
            _silence_stdout()
        message = f"qornn: error: cannot write {exc.filename or 'to standard output'}: {exc.strerror or exc}"
    print(message, file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
