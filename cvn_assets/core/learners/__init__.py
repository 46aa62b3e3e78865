"""Learners: one protocol, one registry, one module per model."""

from cvn_assets.core.learners.base import Learner
from cvn_assets.core.learners.registry import learner_names, make_learner, register_learner

__all__ = ["Learner", "learner_names", "make_learner", "register_learner"]
