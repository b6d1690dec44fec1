"""``python -m prisme_graph_sandbox --port 8010``."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app
from .state import Directory


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Microsoft Graph sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--seats", type=int, default=25, help="O365_BUSINESS seats per new tenant")
    parser.add_argument("--token-ttl", type=int, default=3599)
    args = parser.parse_args()
    directory = Directory(
        {"O365_BUSINESS": args.seats, "O365_BUSINESS_PREMIUM": 10}, args.token_ttl
    )
    uvicorn.run(create_app(directory), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
