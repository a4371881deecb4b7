"""``python -m kycbridge.cli``: the same as the ``kycbridge`` command."""

import sys

from . import main

sys.exit(main())
