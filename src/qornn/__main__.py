"""``python -m qornn ...``: the ``qornn`` command, e.g. for ``torchrun --nproc_per_node 2 -m qornn train ...``."""
import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
