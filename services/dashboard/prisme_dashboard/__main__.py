"""``python -m prisme_dashboard``: serve the dashboard (port 8000 by default)."""

from __future__ import annotations

from prisme_chassis.app import run

from .app import build_app


def main() -> None:
    run(build_app)


if __name__ == "__main__":
    main()
