"""Helpers shared by several commands."""
from __future__ import annotations

import sys

from ..jsonio import dumps


def add_set_argument(parser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.hidden_size=256 (repeatable)")


def print_json(obj) -> None:
    """Strict JSON on stdout: a NaN or infinite number is printed as null and listed under "non_finite"."""
    sys.stdout.write(dumps(obj, indent=2) + "\n")
