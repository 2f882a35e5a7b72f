"""A small MLP GAN for flattened 8x8 digits, trained with manual optimisation."""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn

__all__ = ["DigitsGAN"]


def _mlp(sizes: list[int], negative_slope: float = 0.2, dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes[:-1]):
        layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(negative_slope)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return layers


class DigitsGAN(LightningModule):
    """Generator ``z -> tanh(MLP(z))`` and discriminator ``MLP(x) -> logit``, non-saturating GAN loss.

    ``sample(n)`` draws ``n`` generated samples: it is what :class:`faithful.FaithfulnessMonitor` calls.

    Args:
        num_features: size of a sample (64 for 8x8 digits).
        latent_dim: size of the generator's noise input.
        hidden: width of the hidden layers (two in each network).
        lr_generator: Adam learning rate of the generator.
        lr_discriminator: Adam learning rate of the discriminator.
        beta1: Adam's first-moment decay (0.5 is the usual GAN choice).
        label_smoothing: target for real samples in the discriminator loss is ``1 - label_smoothing``.
        dropout: dropout in the discriminator (it regularises a discriminator that sees only ~1400 images).
    """

    def __init__(
        self,
        num_features: int = 64,
        latent_dim: int = 32,
        hidden: int = 256,
        lr_generator: float = 1e-3,
        lr_discriminator: float = 1e-3,
        beta1: float = 0.5,
        label_smoothing: float = 0.1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.latent_dim = latent_dim
        self.generator = nn.Sequential(*_mlp([latent_dim, hidden, hidden, num_features]), nn.Tanh())
        self.discriminator = nn.Sequential(*_mlp([num_features, hidden, hidden, 1], dropout=dropout))

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` generated samples, shape ``(n, num_features)``, values in [-1, 1]."""
        z = torch.randn(n, self.latent_dim, generator=generator, device=self.device if generator is None else "cpu")
        return self.generator(z.to(self.device))

    def _discriminator_loss(self, real: Tensor, synthetic: Tensor) -> Tensor:
        real_logits = self.discriminator(real)
        synthetic_logits = self.discriminator(synthetic)
        target = torch.full_like(real_logits, 1.0 - self.hparams["label_smoothing"])
        return F.binary_cross_entropy_with_logits(real_logits, target) + F.binary_cross_entropy_with_logits(
            synthetic_logits, torch.zeros_like(synthetic_logits)
        )

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = batch[0]
        optimizers = self.optimizers()
        assert isinstance(optimizers, list), "configure_optimizers returns two optimizers"
        opt_generator, opt_discriminator = optimizers
        z = torch.randn(real.shape[0], self.latent_dim, device=self.device)

        synthetic = self.generator(z)
        d_loss = self._discriminator_loss(real, synthetic.detach())
        opt_discriminator.zero_grad()
        self.manual_backward(d_loss)
        opt_discriminator.step()

        logits = self.discriminator(synthetic)
        g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))  # non-saturating
        opt_generator.zero_grad()
        self.manual_backward(g_loss)
        opt_generator.step()

        self.log_dict({"train/d_loss": d_loss, "train/g_loss": g_loss}, on_step=False, on_epoch=True)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # The faithfulness metrics come from the callback; here only the discriminator's view of held-out data.
        real = batch[0]
        synthetic = self.sample(real.shape[0])
        self.log("val/d_loss", self._discriminator_loss(real, synthetic))

    def configure_optimizers(self) -> Any:
        betas = (self.hparams["beta1"], 0.999)
        return (
            torch.optim.Adam(self.generator.parameters(), lr=self.hparams["lr_generator"], betas=betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams["lr_discriminator"], betas=betas),
        )
