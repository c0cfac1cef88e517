"""``python -m rlvr_boundary``: see :mod:`rlvr_boundary.cli`."""

import sys

from rlvr_boundary.cli import main

if __name__ == "__main__":
    sys.exit(main())
