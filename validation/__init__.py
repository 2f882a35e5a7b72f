"""Validation of `faithful` against the experiments of Alaa et al. (ICML 2022); see docs/validation.md."""
