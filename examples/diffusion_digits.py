"""A small DDPM on scikit-learn's 8x8 digits, with the faithfulness metrics watching it learn.

Denoising diffusion (Ho et al., 2020) with an MLP noise predictor and a sinusoidal time embedding,
100 noise steps (cosine schedule), ancestral sampling. ``FaithfulnessMonitor`` draws samples from the
model's ``sample(n)`` at every evaluation and logs IPα, IRβ and authenticity against the training digits.

Run (from the repository root; every option of ``configs/diffusion.yaml`` can be overridden)::

    python examples/diffusion_digits.py
    python examples/diffusion_digits.py --trainer.max_epochs=20 --model.num_steps=50
    python examples/diffusion_digits.py --help
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from faithful.demo import DigitsDataModule
from faithful.demo.app import RunSummary, fit_and_report, run_cli

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "diffusion.yaml"


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer steps ``t`` (B,) -> (B, dim), as in the Transformer / DDPM."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class NoisePredictor(nn.Module):
    """MLP ``(x_t, t) -> ε``: the time embedding is added to every hidden layer."""

    def __init__(self, num_features: int, hidden: int, num_layers: int, time_dim: int) -> None:
        super().__init__()
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.input = nn.Linear(num_features, hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, hidden)) for _ in range(num_layers)
        )
        self.output = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, num_features))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        time = self.time_mlp(timestep_embedding(t, self.time_dim))
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h + time)  # residual blocks keep a deep-ish MLP trainable at a high learning rate
        return self.output(h)


def noise_schedule(name: str, num_steps: int) -> Tensor:
    """β_1..β_T: ``"cosine"`` (Nichol & Dhariwal, 2021; β clipped at 0.999) or ``"linear"`` (Ho et al., 2020,
    β from 1e-4 to 0.02 over 1000 steps, rescaled to ``num_steps``)."""
    if name == "linear":
        scale = 1000 / num_steps
        return torch.linspace(1e-4 * scale, 0.02 * scale, num_steps)
    if name == "cosine":
        s = 0.008
        steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        alphas_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - alphas_bar[1:] / alphas_bar[:-1]).clamp(max=0.999).float()
    raise ValueError(f"Expected argument `schedule` to be 'cosine' or 'linear', but got {name!r}.")


class DigitsDDPM(LightningModule):
    """DDPM with an MLP noise predictor; ``sample(n)`` runs the ``num_steps`` reverse steps.

    Args:
        num_features: size of a sample (64 for 8x8 digits).
        num_steps: diffusion steps T.
        hidden: width of the noise predictor.
        num_layers: residual blocks of the noise predictor.
        time_dim: size of the sinusoidal time embedding.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
    """

    betas: Tensor
    alphas: Tensor
    alphas_bar: Tensor

    def __init__(
        self,
        num_features: int = 64,
        num_steps: int = 100,
        hidden: int = 256,
        num_layers: int = 3,
        time_dim: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        schedule: str = "cosine",
        clip_denoised: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.num_features = num_features
        self.num_steps = num_steps
        self.model = NoisePredictor(num_features, hidden, num_layers, time_dim)
        betas = noise_schedule(schedule, num_steps)
        self.clip_denoised = clip_denoised
        alphas = 1.0 - betas
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alphas_bar", torch.cumprod(alphas, dim=0))

    def _loss(self, x0: Tensor) -> Tensor:
        t = torch.randint(0, self.num_steps, (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        alpha_bar = self.alphas_bar[t][:, None]
        x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
        return F.mse_loss(self.model(x_t, t), noise)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss = self._loss(batch[0])
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch[0]))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples by ancestral sampling (σ_t² = β_t), the x₀ prediction clipped to [-1, 1]."""
        device = self.alphas_bar.device

        def noise() -> Tensor:
            return torch.randn(n, self.num_features, generator=generator, device="cpu").to(device)

        x = noise()
        for step in reversed(range(self.num_steps)):
            t = torch.full((n,), step, device=device, dtype=torch.long)
            alpha_bar = self.alphas_bar[step]
            eps = self.model(x, t)
            x0 = (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
            if self.clip_denoised:
                x0 = x0.clamp(-1.0, 1.0)
            if step == 0:
                return x0
            # posterior q(x_{t-1} | x_t, x0) mean; its variance is replaced by β_t (Ho et al.'s choice)
            alpha_bar_prev = self.alphas_bar[step - 1]
            mean = (alpha_bar_prev.sqrt() * self.betas[step] / (1 - alpha_bar)) * x0 + (
                self.alphas[step].sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar)
            ) * x
            x = mean + self.betas[step].sqrt() * noise()
        return x

    def configure_optimizers(self) -> Any:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])


def run(argv: list[str] | None = None) -> RunSummary:
    """Train with ``configs/diffusion.yaml`` overridden by ``argv``; print the table and where it all went."""
    threads = torch.get_num_threads()
    try:
        cli = run_cli(
            DigitsDDPM,
            DigitsDataModule,
            CONFIG,
            argv,
            prog="diffusion_digits.py",
            description="Train a small DDPM on 8x8 digits and watch IPα, IRβ and authenticity.",
        )
        return fit_and_report(cli)
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
