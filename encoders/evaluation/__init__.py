"""Evaluation: offline leave-last-out ranking and streaming replay, one code path for every model.

Every model, baseline or driftrec, is a :class:`~encoders.evaluation.base.StreamModel`: a per-user
state advanced one event at a time and an interest vector scored against an item matrix. Offline
evaluation replays each user's history through that same step and ranks the target; the streaming
replay feeds the whole log in time order. Metrics come from :mod:`encoders.evaluation.ranking` only.
"""

from encoders.evaluation.base import EvaluationError, ItemIndex, StreamModel

__all__ = ["EvaluationError", "ItemIndex", "StreamModel"]
