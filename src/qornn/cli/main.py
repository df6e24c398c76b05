"""Entry point of the ``qornn`` command.

Each command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a function
taking the parsed arguments and returning an exit code.  User errors
(:class:`qornn.errors.QornnError`) become one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from ..errors import QornnError

# Order of this list is the order of `qornn --help`.
COMMANDS = ["train", "eval", "info", "presets"]
OPTIONAL_COMMANDS = ["quantize", "bench", "report", "data", "bound", "export"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = "qornn " + shlex.join(sys.argv[1:] if argv is None else argv)  # recorded by `train`
    try:
        code = args.func(args)
    except QornnError as exc:
        print(f"qornn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qornn: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
