"""`python -m gradverify`: the same as the `gradverify` command."""

import sys

from gradverify.cli import main

sys.exit(main())
