r"""The paper's evaluation embedding: a one-class network (Deep SVDD) fitted on real data only.

Alaa et al. (ICML 2022, section 5) measure α-precision and β-recall with *balls* around a center. That
is only sensible in a space where the real data is roughly a ball, typical samples close to the center
and rare ones far from it. :class:`OneClassEmbedding` learns such a space: a bias-free MLP trained with
the Deep SVDD objective (Ruff et al., ICML 2018) to map the real data close to a fixed center ``c``.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from faithful.functional._checks import _check_finite, _check_samples
from faithful.functional._parallel import intra_op_threads
from faithful.functional.curves import quantile_sorted

__all__ = ["OBJECTIVES", "OneClassEmbedding"]

log = logging.getLogger(__name__)

#: Training objectives of :class:`OneClassEmbedding` (name -> what it minimises).
OBJECTIVES = {
    "soft-boundary": "R^2 + (1/nu) * mean(max(0, ||phi(x) - c||^2 - R^2)), R the (1 - nu)-quantile",
    "one-class": "mean(||phi(x) - c||^2)",
}

# Slope of the LeakyReLU. Deep SVDD needs an *unbounded* activation (a bounded one saturates to a
# constant, which is again a collapse onto c) and one without a shift; LeakyReLU also keeps a gradient
# for negative inputs so no unit dies while everything is pulled towards c.
_NEGATIVE_SLOPE = 0.01
# Multiply-adds of one training step (forward and backward) below which `fit` trains on one intra-op thread.
_ONE_THREAD_STEP_WORK = 2**25


def _is_int(value: object) -> bool:
    # numbers.Integral also admits numpy integers; bool is an int subclass but never a size or a seed.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _check_features(x: object, name: str, in_features: int) -> Tensor:
    """A floating point 2-D tensor with ``in_features`` columns (shared by ``fit`` and ``forward``)."""
    x = _check_samples(x, name)
    if x.shape[1] != in_features:
        raise ValueError(
            f"Expected argument `{name}` to have {in_features} features (in_features), but got shape {tuple(x.shape)}."
        )
    return x


class OneClassEmbedding(nn.Module):
    r"""Deep SVDD evaluation embedding :math:`\Phi` of Alaa et al. (ICML 2022), fitted on real data only.

    An MLP without bias terms, trained so that the real data lands close to a fixed center :math:`c`.
    With ``objective="soft-boundary"`` it minimises

    .. math::

        L = R^2 + \frac{1}{\nu}\,\frac{1}{B}\sum_{x \in \text{batch}}
            \max\bigl(0, \|\Phi(x) - c\|^2 - R^2\bigr),

    where the radius :math:`R` is 0 for the first ``warmup_epochs`` epochs and afterwards, before every
    epoch, the :math:`(1 - \nu)`-quantile of :math:`\|\Phi(x_i) - c\|` over the training data (as in Deep
    SVDD). With ``objective="one-class"`` it minimises :math:`\frac1B\sum\|\Phi(x) - c\|^2`.

    The center :math:`c` is, unless given, the mean of the *initial* network's outputs on the real data,
    with every coordinate closer to 0 than ``eps`` pushed to :math:`\pm` ``eps`` (Deep SVDD): a bias-free
    network maps 0 to 0, so a zero coordinate could be matched exactly by zeroing weights. Inputs are
    standardised with the real data's per-feature mean and standard deviation (1 for a constant column),
    so raw tabular columns of different scales can be passed.

    Differences from the authors' code: their soft-boundary loss is overwritten by
    ``(1/nu) * mean(||phi(x) - c||^2)`` (``100 * mean(...)`` with their ν = 0.01), their radius is never
    updated and their center is fixed to all ones; here the loss stated in the paper is minimised, R
    follows the quantile and the center comes from the data as in Deep SVDD.

    What it does to the metrics (measured, see ``docs/embedding.md``): the embedding concentrates the data
    around ``c``, which is what the α-balls need, but it also pulls separate modes of the data together.
    k-NN quantities (β-recall, authenticity) then see less of the data's cluster structure, and a
    generator that drops modes is no longer penalised by IRβ. It also fits its training data more
    tightly than fresh data: use a real reference for the metric that is disjoint from the fit data.

    Use it with the metric by embedding both real and synthetic samples with the *same* fitted network and
    passing its center: ``alpha_precision_beta_recall_authenticity(emb(real), emb(synthetic),
    center=emb.center)``.

    Buffers (saved by ``state_dict``, moved by ``.to(device)``): ``center`` ``(out_features,)``,
    ``radius`` (0-d; after ``fit`` the :math:`(1 - \nu)`-quantile of the training distances to ``center``,
    for both objectives), ``feature_mean`` and ``feature_std`` ``(in_features,)`` and ``fitted`` (0-d
    bool).

    Args:
        in_features: number of input features (columns of the data).
        hidden: widths of the hidden layers (each followed by a LeakyReLU); ``()`` for a linear map.
        out_features: dimension of the embedding.
        objective: one of :data:`OBJECTIVES`: ``"soft-boundary"`` or ``"one-class"``.
        nu: ν in (0, 1]: the share of the training data allowed outside the radius R.
        center: a fixed ``(out_features,)`` center; ``None`` computes it from the data at every ``fit``.
        eps: the smallest magnitude of a data-derived center coordinate.

    Raises:
        ValueError: if a size is not a positive integer, ``objective`` is unknown, ``nu`` is outside
            (0, 1], ``eps`` is negative or ``center`` has the wrong shape or non-finite values.
        TypeError: if ``hidden`` is not a sequence or ``center`` is not a real-valued tensor.

    Example:
        >>> import torch
        >>> from faithful.embedding import OneClassEmbedding
        >>> from faithful.functional import alpha_precision_beta_recall_authenticity
        >>> gen = torch.Generator().manual_seed(0)
        >>> real, synthetic = torch.randn(300, 10, generator=gen), torch.randn(200, 10, generator=gen)
        >>> embedding = OneClassEmbedding(10, hidden=(32,), out_features=8)
        >>> embedding = embedding.fit(real, epochs=5, batch_size=64, progress=False)
        >>> embedding.training_loss_[-1] < embedding.training_loss_[0]
        True
        >>> embedding.center.shape, embedding.training
        (torch.Size([8]), False)
        >>> real_embedded, synthetic_embedded = embedding(real), embedding(synthetic)
        >>> real_embedded.shape
        torch.Size([300, 8])
        >>> result = alpha_precision_beta_recall_authenticity(
        ...     real_embedded, synthetic_embedded, center=embedding.center
        ... )
        >>> sorted(key for key in result if result[key].ndim == 0)
        ['alpha_precision', 'authenticity', 'beta_recall']
    """

    center: Tensor
    radius: Tensor
    feature_mean: Tensor
    feature_std: Tensor
    fitted: Tensor

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (128, 64),
        out_features: int = 32,
        objective: str = "soft-boundary",
        nu: float = 0.1,
        center: Tensor | None = None,
        eps: float = 0.1,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"Expected argument `{name}` to be a positive integer, but got {value!r}.")
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(
                f"Expected argument `hidden` to be a sequence of positive integers (layer widths), "
                f"but got {type(hidden).__name__}."
            )
        if not all(_is_int(width) and width >= 1 for width in hidden):
            raise ValueError(
                f"Expected argument `hidden` to hold positive integers (layer widths), but got {tuple(hidden)!r}."
            )
        if objective not in OBJECTIVES:
            raise ValueError(f"Expected argument `objective` to be one of {tuple(OBJECTIVES)}, but got {objective!r}.")
        if not _is_real(nu) or not 0.0 < nu <= 1.0:
            raise ValueError(f"Expected argument `nu` to be a number in (0, 1], but got {nu!r}.")
        if not _is_real(eps) or eps < 0.0:
            raise ValueError(f"Expected argument `eps` to be a non-negative number, but got {eps!r}.")

        self.in_features = int(in_features)
        self.hidden = tuple(int(width) for width in hidden)
        self.out_features = int(out_features)
        self.objective = objective
        self.nu = float(nu)
        self.eps = float(eps)
        #: Mean loss of every training epoch of the last ``fit``.
        self.training_loss_: list[float] = []
        #: Wall-clock seconds of the last ``fit``.
        self.fit_time_: float | None = None

        # No bias anywhere, and no normalisation layer (BatchNorm's affine shift is a bias too): with a
        # bias the network reaches zero loss by setting every weight to 0 and the last bias to c, mapping
        # *every* input onto the center (Ruff et al. 2018, Prop. 2), and the embedding says nothing.
        # skip_init builds the layers without drawing from the global RNG; ``fit`` draws the weights
        # from its own seeded generator.
        widths = (self.in_features, *self.hidden, self.out_features)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(pairwise(widths)):
            layers.append(nn.utils.skip_init(nn.Linear, fan_in, fan_out, bias=False))
            if i < len(widths) - 2:
                layers.append(nn.LeakyReLU(_NEGATIVE_SLOPE))
        self.net = nn.Sequential(*layers)
        self.reset_parameters(torch.Generator().manual_seed(0))

        self._fixed_center = center is not None
        self.register_buffer("center", self._check_center(center))
        self.register_buffer("radius", torch.zeros(()))
        self.register_buffer("feature_mean", torch.zeros(self.in_features))
        self.register_buffer("feature_std", torch.ones(self.in_features))
        self.register_buffer("fitted", torch.tensor(False))
        # A host-side copy of ``fitted`` so that ``forward`` does not sync with the GPU on every call.
        self._is_fitted = False
        self.register_load_state_dict_post_hook(_after_load)

    def _check_center(self, center: object) -> Tensor:
        if center is None:
            return torch.zeros(self.out_features)
        if not isinstance(center, Tensor) or center.is_complex() or center.dtype == torch.bool:
            raise TypeError(
                f"Expected argument `center` to be None or a real-valued tensor of shape ({self.out_features},), "
                f"but got {type(center).__name__ if not isinstance(center, Tensor) else center.dtype}."
            )
        if tuple(center.shape) != (self.out_features,):
            raise ValueError(
                f"Expected argument `center` to have shape ({self.out_features},) (out_features), "
                f"but got shape {tuple(center.shape)}."
            )
        if not bool(torch.isfinite(center).all()):
            raise ValueError("Expected argument `center` to hold only finite values, but it contains NaN or inf.")
        # On the CPU like the freshly built parameters; ``.to(device)`` moves everything together.
        return center.detach().to(device="cpu", dtype=torch.float32).clone()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh weights (Kaiming-uniform for LeakyReLU) from ``generator`` (CPU), then copy them over.

        Drawing on the CPU makes the initial weights, and so a seeded ``fit``, the same on every device.
        """
        gain = nn.init.calculate_gain("leaky_relu", _NEGATIVE_SLOPE)
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    bound = gain * math.sqrt(3.0 / layer.in_features)
                    weight = torch.empty(layer.weight.shape).uniform_(-bound, bound, generator=generator)
                    layer.weight.copy_(weight)

    @property
    def device(self) -> torch.device:
        """The device of the module's buffers and parameters."""
        return self.center.device

    def extra_repr(self) -> str:
        return f"objective={self.objective!r}, nu={self.nu}, fixed_center={self._fixed_center}"

    # ----------------------------------------------------------------------------------------------
    # forward
    # ----------------------------------------------------------------------------------------------

    def _standardize(self, x: Tensor) -> Tensor:
        return (x - self.feature_mean) / self.feature_std

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``x`` of shape ``(num_samples, in_features)`` into ``(num_samples, out_features)``.

        ``x`` is standardised with the statistics of the fit data, then passed through the MLP. It is
        moved to the module's device and dtype; the output lives there.

        Raises:
            RuntimeError: if the module was neither fitted nor loaded from a fitted ``state_dict``.
            TypeError: if ``x`` is not a floating point tensor.
            ValueError: if ``x`` is not 2-D with ``in_features`` columns.
        """
        if not self._is_fitted:
            raise RuntimeError(
                "This OneClassEmbedding is not fitted yet: call `.fit(real)` first, or load the "
                "`state_dict` of a fitted one."
            )
        x = _check_features(x, "x", self.in_features)
        x = x.to(device=self.feature_mean.device, dtype=self.feature_mean.dtype)
        return self.net(self._standardize(x))

    def distance_to_center(self, x: Tensor) -> Tensor:
        """``(num_samples,)`` Euclidean distances ``||phi(x) - c||``: the one-class anomaly score."""
        return torch.linalg.vector_norm(self(x) - self.center, dim=1)

    # ----------------------------------------------------------------------------------------------
    # fit
    # ----------------------------------------------------------------------------------------------

    def _check_fit_arguments(
        self,
        real: object,
        epochs: int,
        batch_size: int,
        lr: float,
        weight_decay: float,
        warmup_epochs: int | None,
        seed: int,
        progress: bool,
    ) -> tuple[Tensor, int]:
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"Expected argument `{name}` to be a positive integer, but got {value!r}.")
        if not _is_real(lr) or lr <= 0.0:
            raise ValueError(f"Expected argument `lr` to be a positive number, but got {lr!r}.")
        if not _is_real(weight_decay) or weight_decay < 0.0:
            raise ValueError(f"Expected argument `weight_decay` to be a non-negative number, but got {weight_decay!r}.")
        if warmup_epochs is None:
            warmup_epochs = min(10, epochs // 2)
        elif not _is_int(warmup_epochs) or not 0 <= warmup_epochs <= epochs:
            raise ValueError(
                f"Expected argument `warmup_epochs` to be an integer in [0, epochs] = [0, {epochs}], "
                f"but got {warmup_epochs!r}."
            )
        if not _is_int(seed):
            raise ValueError(f"Expected argument `seed` to be an integer, but got {seed!r}.")
        if not isinstance(progress, bool):
            raise ValueError(f"Expected argument `progress` to be a bool, but got {progress!r}.")

        real = _check_features(real, "real", self.in_features)
        if real.shape[0] < 2:
            raise ValueError(
                f"Expected argument `real` to hold at least 2 samples (a spread to standardise by and a "
                f"radius to take), but got {real.shape[0]}."
            )
        _check_finite(real, "real")
        return real, warmup_epochs

    def _check_device(self, device: torch.device | str | None) -> torch.device:
        if device is None:
            return self.device
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"Expected argument `device` to be None, a torch.device or a device string such as 'cpu' or "
                f"'cuda:0', but got {device!r}."
            ) from err

    def _freeze(self) -> None:
        """Eval mode and no gradients: a fitted embedding is a fixed measuring instrument."""
        self.eval()
        self.requires_grad_(False)

    def _squared_distances(self, z: Tensor) -> Tensor:
        return (z - self.center).pow(2).sum(dim=1)

    @torch.no_grad()
    def _all_squared_distances(self, x: Tensor, batch_size: int) -> Tensor:
        """Squared distances of every (standardised) training sample with the current weights."""
        return torch.cat([self._squared_distances(self.net(chunk)) for chunk in x.split(batch_size)])

    def fit(
        self,
        real: Tensor,
        *,
        epochs: int = 60,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        warmup_epochs: int | None = None,
        seed: int = 0,
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> OneClassEmbedding:
        r"""Train the embedding on real samples only; returns ``self``, frozen.

        Every call starts from scratch: the weights are drawn anew from ``seed``, the standardisation
        statistics are taken from ``real`` and, unless a center was fixed at construction, so is the
        center. Adam minimises the objective over shuffled mini-batches. With the same ``seed`` the
        result is identical run to run on the CPU; ``fit`` uses its own ``torch.Generator`` (for the
        weights and the shuffling) and leaves the global RNG alone.

        Afterwards the module is in eval mode with ``requires_grad=False`` on every parameter: it is an
        evaluation instrument, and freezing it keeps a surrounding optimiser or ``loss.backward()`` from
        changing or tracking it. ``training_loss_`` holds the mean loss of every epoch and ``fit_time_``
        the seconds taken (also logged at INFO level).

        Args:
            real: ``(n, in_features)`` real samples, ``n >= 2``, finite, floating point.
            epochs: passes over the data.
            batch_size: samples per optimiser step (a batch larger than ``n`` means full-batch).
            lr: Adam's learning rate.
            weight_decay: Adam's L2 penalty (Deep SVDD's regulariser on the weights).
            warmup_epochs: soft-boundary only: epochs trained with R = 0 before R follows the
                :math:`(1 - \nu)`-quantile; must lie in ``[0, epochs]``. ``None``: ``min(10, epochs // 2)``
                (Deep SVDD warms up for 10 epochs).
            seed: seed of the local generator for the initial weights and the batch order.
            device: where to train; ``None`` keeps the module's current device. The module is moved
                there and stays there; ``real`` is copied there.
            progress: show a tqdm bar with the epoch, the loss and the elapsed time.

        Raises:
            TypeError: if ``real`` is not a floating point tensor.
            ValueError: if ``real`` has the wrong shape, fewer than 2 samples or non-finite rows, a
                hyperparameter is out of range or ``device`` is not a device.
        """
        real, warmup_epochs = self._check_fit_arguments(
            real, epochs, batch_size, lr, weight_decay, warmup_epochs, seed, progress
        )
        target = self._check_device(device)
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(int(seed))

        # inference_mode(False)/enable_grad: fit may be called from a Lightning hook running under
        # no_grad or inference mode, and it needs autograd all the same.
        threads = self._fit_threads(batch_size, target)
        with torch.inference_mode(False), torch.enable_grad(), intra_op_threads(threads):
            self.to(target)
            # A fit that raises half-way must not leave a module that claims to be fitted.
            self.fitted.fill_(False)
            self._is_fitted = False
            # Statistics and the training copy in float64: columns far from 0 relative to their spread
            # (raw tabular data) would lose their digits if centred in float32.
            data = real.detach().to(device=target, dtype=torch.float64)
            mean = data.mean(dim=0)
            std = data.std(dim=0, correction=0)
            # A constant column carries no information; std 1 keeps it at 0 instead of 0/0 = NaN.
            std = torch.where(std > 0, std, torch.ones_like(std))
            self.feature_mean.copy_(mean)
            self.feature_std.copy_(std)
            x = ((data - mean) / std).to(self.feature_mean.dtype)
            del data

            self.reset_parameters(generator)
            self.net.train()
            self.net.requires_grad_(True)
            if not self._fixed_center:
                self.center.copy_(self._initial_center(x, batch_size))
            self.radius.zero_()

            soft_boundary = self.objective == "soft-boundary"
            n = x.shape[0]
            optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=weight_decay)
            self.training_loss_ = []
            bar = tqdm(range(epochs), desc="OneClassEmbedding.fit", unit="epoch", disable=not progress)
            for epoch in bar:
                if soft_boundary and epoch >= warmup_epochs:
                    self._update_radius(x, batch_size)
                order = torch.randperm(n, generator=generator).to(target)
                total = torch.zeros((), dtype=torch.float64, device=target)
                for index in order.split(batch_size):
                    loss = self._loss(self.net(x[index]), soft_boundary)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.detach() * index.numel()
                # One host sync per epoch (not per step) for the history and the bar.
                self.training_loss_.append(float(total) / n)
                bar.set_postfix(loss=f"{self.training_loss_[-1]:.4g}", radius=f"{float(self.radius):.4g}")
            bar.close()

            self._update_radius(x, batch_size)
            self.fitted.fill_(True)
            self._is_fitted = True
            self._freeze()
        self.fit_time_ = time.perf_counter() - start
        log.info(
            "OneClassEmbedding fitted on %d samples in %.2f s (%d epochs, final loss %.4g, radius %.4g)",
            n,
            self.fit_time_,
            epochs,
            self.training_loss_[-1],
            float(self.radius),
        )
        return self

    def _fit_threads(self, batch_size: int, device: torch.device) -> int:
        """Intra-op threads for the training steps: one for a small network on the CPU.

        A step of a small MLP is a few hundred microseconds of many tiny ops; with several threads each op
        ends at a barrier, and when a data loader or another job holds a core every barrier waits for a
        descheduled thread (measured: 60x slower than one thread on a busy 2-core machine). Below about
        2**25 multiply-adds a step, one thread is as fast idle and immune to that.
        """
        if device.type != "cpu":
            return torch.get_num_threads()
        parameters = sum(p.numel() for p in self.net.parameters())
        return 1 if 3 * batch_size * parameters < _ONE_THREAD_STEP_WORK else torch.get_num_threads()

    @torch.no_grad()
    def _initial_center(self, x: Tensor, batch_size: int) -> Tensor:
        """Deep SVDD's center: mean initial output, coordinates within ``eps`` of 0 pushed to ±eps."""
        center = torch.cat([self.net(chunk) for chunk in x.split(batch_size)]).mean(dim=0)
        near_zero = center.abs() < self.eps
        return torch.where(near_zero & (center < 0), -self.eps, torch.where(near_zero, self.eps, center))

    def _update_radius(self, x: Tensor, batch_size: int) -> None:
        """R = the (1 - ν)-quantile of the training distances to the center (Deep SVDD's ``get_radius``)."""
        distances = self._all_squared_distances(x, batch_size).sqrt()
        ordered = torch.sort(distances.to(torch.float64)).values
        self.radius.copy_(quantile_sorted(ordered, torch.tensor(1.0 - self.nu, device=ordered.device)))

    def _loss(self, z: Tensor, soft_boundary: bool) -> Tensor:
        squared = self._squared_distances(z)
        if not soft_boundary:
            return squared.mean()
        # R is not a trained parameter: it is the (1 - nu)-quantile (the minimiser of L over R for fixed
        # weights), so only the samples outside the sphere pull on the weights.
        r2 = self.radius.pow(2)
        return r2 + torch.clamp(squared - r2, min=0.0).mean() / self.nu


def _after_load(module: nn.Module, incompatible_keys: object) -> None:
    """Loading a fitted ``state_dict`` makes the module fitted, and frozen like after ``fit``."""
    if isinstance(module, OneClassEmbedding):
        module._is_fitted = bool(module.fitted)
        if module._is_fitted:
            module._freeze()
