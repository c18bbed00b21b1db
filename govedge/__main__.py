"""``python -m govedge`` runs the command line."""

import sys

from govedge.cli import main

sys.exit(main())
