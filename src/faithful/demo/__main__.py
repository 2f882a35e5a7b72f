"""``python -m faithful.demo [--config FILE] [--trainer.max_epochs=N ...]``: the main job."""

import sys

from faithful.demo.main import main

sys.exit(main())
