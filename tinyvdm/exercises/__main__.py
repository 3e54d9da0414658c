import sys

from tinyvdm.exercises.strip import main

sys.exit(main())
