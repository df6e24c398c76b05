"""Helpers shared by several commands."""
from __future__ import annotations

import json
import sys


def add_set_argument(parser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.hidden_size=256 (repeatable)")


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")
