"""``python -m faithful ...``: the same as the ``faithful`` command."""

import sys

from faithful.cli import main

if __name__ == "__main__":
    sys.exit(main())
