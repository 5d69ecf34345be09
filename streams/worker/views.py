"""HTTP views of a worker: profile, on-demand list, health, Prometheus metrics.

User views are routed by Faust to the worker that owns the user's partition, so any worker's port
answers for every user.
"""

from __future__ import annotations

import time
from typing import Any

from faust.web import Request, Response, View
from prometheus_client import generate_latest

from profiles.errors import ProfileError
from profiles.profile import UserProfile
from streams.worker.factory import Worker


def register(w: Worker) -> dict[str, Any]:
    """Add the HTTP views to ``w.app``; return them by name."""
    app, metrics, profiles, progress, runtime, settings = (
        w.app,
        w.metrics,
        w.profiles,
        w.progress,
        w.runtime,
        w.settings,
    )

    def _profile(user_id: str) -> UserProfile | None:
        raw = profiles.get(user_id.encode())
        if raw is None:
            return None
        try:
            return UserProfile.from_bytes(raw, settings.policy_config())
        except ProfileError:
            return None

    def _assigned() -> list[int]:
        try:
            tps = app.consumer.assignment()
        except Exception:  # no consumer (yet): nothing assigned
            return []
        return sorted(tp.partition for tp in tps if tp.topic == settings.events_topic)

    @app.page("/users/{user_id}/profile")
    class ProfileView(View):
        """GET: the user's profile as JSON (404 when the user has none)."""

        # Faust types the handler as taking a plain View; ours is a subclass of it.
        @app.table_route(table=profiles, match_info="user_id")  # type: ignore[arg-type]
        async def get(self, request: Request, user_id: str) -> Response:
            profile = _profile(user_id)
            if profile is None:
                return self.json({"error": f"no profile for user {user_id!r}"}, status=404)
            return self.json(profile.to_json())

    @app.page("/users/{user_id}/recommendations")
    class RecommendationsView(View):
        """GET: a list computed now from the user's current interest (trigger ``request``)."""

        # Faust types the handler as taking a plain View; ours is a subclass of it.
        @app.table_route(table=profiles, match_info="user_id")  # type: ignore[arg-type]
        async def get(self, request: Request, user_id: str) -> Response:
            profile = _profile(user_id)
            if profile is None:
                return self.json({"error": f"no profile for user {user_id!r}"}, status=404)
            rec = await runtime.run(lambda engine: engine.recommend(profile))
            return self.json(rec.to_json(published_ts=time.time()))

    @app.page("/health")
    class HealthView(View):
        """GET: 200 when the model is loaded and the worker consumes; 503 while the model loads, and
        with a ``reason`` when the worker does not consume (:mod:`streams.progress`)."""

        async def get(self, request: Request) -> Response:
            engine = runtime.engine
            problem = progress.problem()
            status = "loading" if engine is None else "stalled" if problem else "ok"
            body: dict[str, Any] = {
                "status": status,
                "app_id": settings.app_id,
                "model_version": None if engine is None else engine.model.version,
                "catalog_items": None if engine is None else len(engine.index),
                "assigned_partitions": _assigned(),
            }
            if problem:
                body["reason"] = problem
            return self.json(body, status=200 if status == "ok" else 503)

    @app.page("/metrics")
    class MetricsView(View):
        """GET: Prometheus exposition of every driftrec_ metric."""

        async def get(self, request: Request) -> Response:
            # Plain text/plain is exposition format 0.0.4 to Prometheus (aiohttp refuses a charset
            # inside content_type, which prometheus_client's CONTENT_TYPE_LATEST carries).
            return self.bytes(generate_latest(metrics.registry), content_type="text/plain")

    return {
        "ProfileView": ProfileView,
        "RecommendationsView": RecommendationsView,
        "HealthView": HealthView,
        "MetricsView": MetricsView,
    }
