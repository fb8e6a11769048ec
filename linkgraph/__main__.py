from __future__ import annotations

import sys

from linkgraph.cli import main

sys.exit(main())
