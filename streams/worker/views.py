"""HTTP views of a worker: profile, on-demand list, health, Prometheus metrics, OpenAPI.

User views are routed by Faust to the worker that owns the user's partition, so any worker's port
answers for every user. Every 4xx answer is JSON ``{"error": ...}``: the views' own, and through
:func:`json_errors` aiohttp's 404 (no such path) and 405 (method not allowed) too. The document
at ``/openapi.json`` is :func:`streams.worker.openapi.openapi_document` (checked in as
``schemas/openapi.json``).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web as aioweb
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from profiles.errors import ProfileError
from profiles.profile import UserProfile
from streams.worker.factory import Worker
from streams.worker.openapi import MAX_K, openapi_document

#: Served as is; built once (it only changes with driftrec's version).
OPENAPI = openapi_document()


@aioweb.middleware
async def json_errors(request: aioweb.Request, handler: Any) -> aioweb.StreamResponse:
    """aiohttp's own 4xx answers (unknown path, wrong method) as JSON, like the views' errors."""
    try:
        response: aioweb.StreamResponse = await handler(request)
    except aioweb.HTTPException as exc:
        if not 400 <= exc.status < 500:
            raise
        body = {"error": f"{exc.reason}: {request.method} {request.path}", "status": exc.status}
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return aioweb.json_response(body, status=exc.status, headers=headers)
    return response


def _k(request: Request) -> int | None:
    """``?k=`` as an int in 1..MAX_K, None when absent; ValueError with the reason otherwise."""
    raw = request.query.get("k")
    if raw is None:
        return None
    if not (len(raw) <= 4 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_K):
        raise ValueError(f"k must be an integer from 1 to {MAX_K}, got {raw[:40]!r}")
    return int(raw)


def _no_profile(view: View, user_id: str) -> Response:
    return view.json({"error": f"no profile for user {user_id!r}", "user_id": user_id}, status=404)


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
    # Before the server starts (aiohttp freezes its middlewares then).
    app.web.web_app.middlewares.append(json_errors)  # type: ignore[attr-defined]

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
                return _no_profile(self, user_id)
            return self.json(profile.to_json())

    @app.page("/users/{user_id}/recommendations")
    class RecommendationsView(View):
        """GET: a list computed now from the user's current interest (trigger ``request``);
        ``?k=`` sets its length (1..MAX_K, default DRIFTREC_TOP_K)."""

        # Faust types the handler as taking a plain View; ours is a subclass of it.
        @app.table_route(table=profiles, match_info="user_id")  # type: ignore[arg-type]
        async def get(self, request: Request, user_id: str) -> Response:
            try:
                k = _k(request)
            except ValueError as exc:
                return self.json({"error": str(exc), "parameter": "k"}, status=400)
            profile = _profile(user_id)
            if profile is None:
                return _no_profile(self, user_id)
            rec = await runtime.run(lambda engine: engine.recommend(profile, k))
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

    @app.page("/openapi.json")
    class OpenAPIView(View):
        """GET: the OpenAPI 3.1 document of these views (schemas/openapi.json)."""

        async def get(self, request: Request) -> Response:
            return self.json(OPENAPI)

    return {
        "OpenAPIView": OpenAPIView,
        "ProfileView": ProfileView,
        "RecommendationsView": RecommendationsView,
        "HealthView": HealthView,
        "MetricsView": MetricsView,
    }
