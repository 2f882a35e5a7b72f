"""Export the α-precision / β-recall curves a FaithfulnessMonitor drew into TensorBoard as a PNG file.

The monitor draws one figure per evaluation (tag ``val/curves``, titled with the epoch and the authenticity).
This writes one of them, by default the last, to a PNG, e.g. for a report::

    python examples/export_curves.py runs/demo/version_0 --out curves.png
    python examples/export_curves.py runs/demo/version_0 --epoch 119 --out best.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def curve_images(log_dir: Path | str, tag: str = "val/curves") -> list[tuple[int, int | None, bytes]]:
    """``(step, epoch, png bytes)`` of every figure under ``tag`` in a TensorBoard run directory, by step.

    The epoch comes from the scalar ``epoch`` Lightning logs at the same step (``None`` if there is none).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    if tag not in events.Tags()["images"]:
        raise SystemExit(f"export_curves.py: error: no images tagged {tag!r} in {log_dir} (was log_curves on?)")
    epochs = {}
    if "epoch" in events.Tags()["scalars"]:
        epochs = {event.step: int(event.value) for event in events.Scalars("epoch")}
    return [(event.step, epochs.get(event.step), event.encoded_image_string) for event in events.Images(tag)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="export_curves.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("log_dir", type=Path, help="a run directory, e.g. runs/demo/version_0")
    parser.add_argument("--out", type=Path, default=Path("curves.png"), help="PNG file to write (default curves.png)")
    parser.add_argument("--epoch", type=int, default=None, help="the evaluation of this epoch (default: the last)")
    parser.add_argument("--tag", default="val/curves", help="image tag (default val/curves: prefix + 'curves')")
    args = parser.parse_args(argv)
    if not args.log_dir.is_dir():
        parser.error(f"{args.log_dir} is not a directory")
    images = curve_images(args.log_dir, args.tag)
    if args.epoch is None:
        step, epoch, png = images[-1]
    else:
        matches = [image for image in images if image[1] == args.epoch]
        if not matches:
            known = sorted({epoch for _, epoch, _ in images if epoch is not None})
            parser.error(f"no figure for epoch {args.epoch}; figures exist for epochs {known}")
        step, epoch, png = matches[-1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    where = f"epoch {epoch}" if epoch is not None else f"step {step}"
    print(f"wrote {args.out} ({where}, {len(png)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
