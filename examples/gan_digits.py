"""The main job as a script: a small GAN on 8x8 digits with FaithfulnessMonitor attached.

The same as ``faithful demo`` / ``python -m faithful.demo``; the model, data module and default config live in
:mod:`faithful.demo` (``src/faithful/demo/config.yaml``, mirrored in ``configs/demo.yaml``). Examples::

    python examples/gan_digits.py
    python examples/gan_digits.py --trainer.max_epochs=50
    python examples/gan_digits.py --config configs/demo.yaml --model.lr_generator=5e-4
    python examples/gan_digits.py --print_config   # every option with its value
"""

import sys

from faithful.demo import main

if __name__ == "__main__":
    sys.exit(main())
