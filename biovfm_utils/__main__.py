"""Run the ``biovfm`` command line as ``python -m biovfm_utils``."""

import sys

from biovfm_utils.cli import main

sys.exit(main())
