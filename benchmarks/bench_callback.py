"""Wall time of one FaithfulnessMonitor evaluation, split into generation, embedding and metric.

Two settings, each a real ``Trainer.fit`` on the CPU with the monitor attached (training itself is one tiny step
per epoch, so the numbers are the monitor's):

- demo-sized: scikit-learn's bundled digits (1,797 real 8x8 images), an MLP generator producing 1x8x8 images,
  n = m = 1,797; identity embedding (d = 64) and the one-class embedding (d = 32, fitted at fit start);
- large: n = m = 10,000 vectors of d = 512 from an MLP generator, identity embedding.

The first evaluation also computes the real side's neighbour statistics (cached afterwards); the table shows it and
the median of the later ones. Prints a Markdown table.

    python benchmarks/bench_callback.py [--evaluations 4] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import disable_possible_user_warnings
from sklearn.datasets import load_digits
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from faithful.callback import FaithfulnessMonitor


class MLPGenerator(pl.LightningModule):
    """Noise -> MLP -> samples of ``shape``; trained for one token step per epoch (the monitor is what we time)."""

    def __init__(self, latent: int, hidden: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.latent, self.shape = latent, shape
        out = int(torch.tensor(shape).prod())
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(n, self.latent, generator=generator, device=self.device)
        return self.head(self.net(z)).reshape(n, *self.shape)

    def training_step(self, batch, batch_idx):
        return self.sample(8).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-4)


class Recorder(pl.Callback):
    def __init__(self, monitor: FaithfulnessMonitor) -> None:
        self.monitor = monitor
        self.timings: list[dict[str, float]] = []

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.timings.append(dict(self.monitor.last_timings))


def run(name: str, real: Tensor, module: MLPGenerator, monitor: FaithfulnessMonitor, evaluations: int) -> list[str]:
    recorder = Recorder(monitor)
    data = DataLoader(TensorDataset(real), batch_size=256, shuffle=True)
    start = time.perf_counter()
    pl.Trainer(
        max_epochs=evaluations,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_train_batches=1,
        limit_val_batches=1,
        callbacks=[monitor, recorder],
    ).fit(module, data, data)
    wall = time.perf_counter() - start
    n, d = monitor.num_real, monitor.metric_dim
    m = monitor.num_samples or n
    rows = []
    first, later = recorder.timings[0], recorder.timings[1:]
    for label, timing in (
        ("first", first),
        (f"later (median of {len(later)})", {k: statistics.median(t[k] for t in later) for k in first}),
    ):
        rows.append(
            f"| {name} | {n:,} | {m:,} | {d} | {label} | {timing['generation']:.3f} | {timing['embedding']:.3f} | "
            f"{timing['metric']:.3f} | {timing['total']:.3f} |"
        )
    setup = ", ".join(f"{key} {value:.2f} s" for key, value in monitor.setup_timings.items())
    rows.append(f"|  |  |  |  | fit start: {setup}; whole fit {wall:.1f} s |  |  |  |  |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=4, help="epochs, one evaluation each (>= 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    disable_possible_user_warnings()
    pl.seed_everything(0, verbose=False)

    digits = torch.as_tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    large = torch.randn(10_000, 512, generator=torch.Generator().manual_seed(0))

    rows = [
        "| setting | n (real) | m (synthetic) | d (embedded) | evaluation | generation s | embedding s | metric s "
        "| total s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    rows += run(
        "digits 8x8, identity",
        digits,
        MLPGenerator(32, 128, (1, 8, 8)),
        FaithfulnessMonitor(),
        args.evaluations,
    )
    rows += run(
        "digits 8x8, one-class",
        digits,
        MLPGenerator(32, 128, (1, 8, 8)),
        FaithfulnessMonitor(embedding="one-class", fit_kwargs={"progress": False}),
        args.evaluations,
    )
    rows += run(
        "10k x 512, identity",
        large,
        MLPGenerator(64, 512, (512,)),
        FaithfulnessMonitor(real=large, batch_size=1000),
        args.evaluations,
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), load average at the end {load:.1f}\n"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
