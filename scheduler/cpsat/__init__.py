"""The CP-SAT model, split by constraint family (variables, constraints, objective)."""

from .model import build_model

__all__ = ["build_model"]
