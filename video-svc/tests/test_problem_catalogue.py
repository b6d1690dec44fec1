"""Every problem video-svc raises is its own rule's class, declared in the OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import prisme_video
from prisme_testing.problems import assert_problem_catalogue
from prisme_video.app import build_app
from prisme_video.errors import CATALOGUE
from prisme_video.settings import VideoSettings


def test_problems_are_declared_and_unique(base_settings: dict[str, Any]) -> None:
    app = build_app(VideoSettings(**base_settings, database_url="postgresql://unused/x"))
    assert_problem_catalogue(app.openapi(), Path(prisme_video.__file__).parent, CATALOGUE)
