"""The image's entrypoint: `python entrypoint.py [COMMAND] [ARGS]` (default: upgrade head)."""

import sys

from migrator.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
