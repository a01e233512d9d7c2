"""`python -m citysim`: the same as the `citysim` command."""

import sys

from citysim.cli import main

sys.exit(main())
