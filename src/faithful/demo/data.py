"""Data modules over data sets that scikit-learn ships (no download): the 8x8 digits."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["DigitsDataModule", "load_digits_tensors", "split_indices"]


def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """scikit-learn's 1797 8x8 digits as ``(images (1797, 64) in [-1, 1], labels (1797,))``.

    The pixels are integers 0..16; ``x / 8 - 1`` maps them onto [-1, 1], the range of a ``tanh`` output.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.data, dtype=torch.float32) / 8.0 - 1.0
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    return images, labels


def split_indices(num_samples: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded random ``(train, val)`` index split; ``val_fraction`` of the samples (at least one) go to val."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"Expected argument `val_fraction` to be in (0, 1), but got {val_fraction!r}.")
    permutation = torch.randperm(num_samples, generator=torch.Generator().manual_seed(seed))
    num_val = max(1, round(val_fraction * num_samples))
    return permutation[num_val:], permutation[:num_val]


class DigitsDataModule(LightningDataModule):
    """scikit-learn's 8x8 digits, flattened to 64 values in [-1, 1], split into train and val.

    Batches are ``(images (B, 64), labels (B,))``; the generator only uses the images (the first element,
    which is also what :class:`faithful.FaithfulnessMonitor` takes by default).

    Args:
        batch_size: training batch size.
        val_fraction: share of the 1797 images held out for validation.
        seed: seed of the train/val split (independent of the training seed).
        num_workers: data loader workers; the data is a 460 kB tensor, so 0 is fastest.
    """

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.2, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"Expected argument `batch_size` to be a positive integer, but got {batch_size!r}.")
        split_indices(10, val_fraction, seed)  # validates val_fraction at construction
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.num_workers = num_workers
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        images, labels = load_digits_tensors()
        train, val = split_indices(images.shape[0], self.val_fraction, self.seed)
        self.train_set = TensorDataset(images[train], labels[train])
        self.val_set = TensorDataset(images[val], labels[val])

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup() first"
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "call setup() first"
        return DataLoader(self.val_set, batch_size=512, num_workers=self.num_workers)
