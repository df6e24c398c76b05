"""``qornn presets``: list the shipped presets."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("presets", help="list the shipped presets")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import list_presets, load_config

    for name in list_presets():
        cfg = load_config(name)
        print(f"{name:<28} {cfg.description}")
    return 0
