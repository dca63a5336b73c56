import sys

from distillery.tracking.cli import main

sys.exit(main())
