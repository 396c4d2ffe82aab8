"""``python -m adapters.cli``: the same as the ``callfsm`` console script."""

import sys

from adapters.cli import main

sys.exit(main())
