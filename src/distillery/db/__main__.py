import sys

from distillery.db.cli import main

sys.exit(main())
