"""``python -m rnnkit``: the same command line as ``rnnkit``."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
