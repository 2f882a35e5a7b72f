"""``python -m faithful.demo [--config FILE] [--trainer.max_epochs=N ...]``: the main job."""

import sys

from faithful.demo.app import main

sys.exit(main())
