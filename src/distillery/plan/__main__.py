import sys

from distillery.plan.cli import main

sys.exit(main())
