"""The OpenAPI 3.1 document of a worker's HTTP views (served at ``/openapi.json``).

Checked in as ``schemas/openapi.json`` (``driftrec schemas`` writes it); the unit tests keep the
file equal to :func:`openapi_document` and its paths equal to the routes the worker registers,
Faust's own built-in views included. No Faust import here: the CLI writes it without a worker.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Final

from streams.messages.schemas import recommendation_list_schema

#: Largest ``?k=`` of the recommendations view (the same bound as DRIFTREC_TOP_K).
MAX_K: Final = 1000

_ERROR: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What was wrong, in words."}},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, {"$ref": "#/components/schemas/Error"})


def _user() -> dict[str, Any]:
    return {
        "name": "user_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }


def _faust(summary: str, *params: str) -> dict[str, Any]:
    """One of Faust's built-in views (key routing and table introspection)."""
    operation: dict[str, Any] = {
        "tags": ["faust"],
        "summary": summary,
        "description": "A view of Faust itself (faust-streaming), not part of driftrec's contract.",
        "responses": {"200": {"description": "JSON from Faust."}},
    }
    if params:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    return {"get": operation}


def _list_schema() -> dict[str, Any]:
    schema = recommendation_list_schema()
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def openapi_document() -> dict[str, Any]:
    """The document; equal on every worker of one driftrec version."""
    recs = {
        "tags": ["driftrec"],
        "summary": "A list computed now from the user's current interest (trigger `request`).",
        "description": "Routed to the worker that owns the user's partition: any worker answers.",
        "parameters": [
            _user(),
            {
                "name": "k",
                "in": "query",
                "required": False,
                "description": f"List length, 1..{MAX_K}; default DRIFTREC_TOP_K.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K},
            },
        ],
        "responses": {
            "200": _json("The list.", {"$ref": "#/components/schemas/RecommendationList"}),
            "400": _error("A bad query parameter (`k` not an integer in range)."),
            "404": _error("The user has no profile (no event seen, or forgotten)."),
        },
    }
    profile = {
        "tags": ["driftrec"],
        "summary": "The user's profile.",
        "parameters": [_user()],
        "responses": {
            "200": _json("The profile.", {"$ref": "#/components/schemas/Profile"}),
            "404": _error("The user has no profile."),
        },
    }
    health = {
        "tags": ["driftrec"],
        "summary": "Ready when the model is loaded and the worker consumes.",
        "responses": {
            "200": _json("Serving.", {"$ref": "#/components/schemas/Health"}),
            "503": _json(
                "Loading, or stalled (then `reason` says why).",
                {"$ref": "#/components/schemas/Health"},
            ),
        },
    }
    metrics = {
        "tags": ["driftrec"],
        "summary": "Prometheus exposition of every driftrec_ metric.",
        "responses": {"200": {"description": "Text format 0.0.4.", "content": {"text/plain": {}}}},
    }
    spec = {
        "tags": ["driftrec"],
        "summary": "This document.",
        "responses": {"200": _json("OpenAPI 3.1.", {"type": "object"})},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "driftrec worker",
            "version": version("driftrec"),
            "description": (
                "HTTP views of a driftrec worker. Every 4xx body is JSON with an `error` "
                "string, also for an unknown path (404) and a method a path does not "
                "allow (405)."
            ),
        },
        "paths": {
            "/users/{user_id}/profile": {"get": profile},
            "/users/{user_id}/recommendations": {"get": recs},
            "/health": {"get": health},
            "/metrics": {"get": metrics},
            "/openapi.json": {"get": spec},
            "/": _faust("Faust's index of this worker."),
            "/router/": _faust("Which worker owns which partitions."),
            "/router/topics": _faust("Partition owners of every topic."),
            "/router/{name}/": _faust("Partition owners of one table.", "name"),
            "/router/{name}/{key}/": _faust("The worker owning one key.", "name", "key"),
            "/table/": _faust("Faust's list of tables."),
            "/table/{name}/": _faust("Faust's view of one table.", "name"),
            "/table/{name}/{key}/": _faust("One key of a table, from Faust.", "name", "key"),
        },
        "components": {
            "schemas": {
                "Error": {**_ERROR, "additionalProperties": True},
                "RecommendationList": _list_schema(),
                "Profile": {
                    "type": "object",
                    "required": ["user_id", "model_version", "events_applied", "interest"],
                    "properties": {
                        "user_id": {"type": "string"},
                        "model_version": {"type": "string"},
                        "events_applied": {"type": "integer"},
                        "last_event_id": {"type": ["string", "null"]},
                        "last_ts": {"type": ["number", "null"]},
                        "lists_published": {"type": "integer"},
                        "last_list_ts": {"type": ["number", "null"]},
                        "events_since_list": {"type": "integer"},
                        "drift_threshold": {"type": "number"},
                        "interest": {"type": "array", "items": {"type": "number"}},
                        "offsets": {"type": "object"},
                        "recent": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "app_id", "assigned_partitions"],
                    "properties": {
                        "status": {"enum": ["ok", "loading", "stalled"]},
                        "app_id": {"type": "string"},
                        "model_version": {"type": ["string", "null"]},
                        "catalog_items": {"type": ["integer", "null"]},
                        "assigned_partitions": {"type": "array", "items": {"type": "integer"}},
                        "reason": {"type": "string"},
                    },
                },
            }
        },
    }
