"""A JSON answer from data that is JSON-native already (the shapes of tracker.store.shapes
and tracker.core.shapes: strings, numbers, booleans, lists, dicts): encoded once, compact
and UTF-8, as Starlette's JSONResponse does, without FastAPI's jsonable_encoder walking it
again first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/json"


def encode(data: Any) -> bytes:
    return json.dumps(
        data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def json_response(
    data: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(encode(data), status_code=status_code, headers=headers, media_type=MEDIA_TYPE)
