"""`python -m tinypolicy_host.cli`: the same as the `tinypolicy` console script."""
import sys

from . import main

sys.exit(main())
