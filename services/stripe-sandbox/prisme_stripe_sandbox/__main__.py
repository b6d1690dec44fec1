"""``python -m prisme_stripe_sandbox --port 8011 [--webhook-url URL --webhook-secret whsec_...]``."""

from __future__ import annotations

import argparse
import os

import uvicorn

from .app import create_app
from .webhooks import DEFAULT_RETRY_DELAYS


def _delays(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="prisme_stripe_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument(
        "--webhook-url", default=os.environ.get("PRISME_STRIPE_SANDBOX_WEBHOOK_URL")
    )
    parser.add_argument(
        "--webhook-secret", default=os.environ.get("PRISME_STRIPE_SANDBOX_WEBHOOK_SECRET")
    )
    parser.add_argument(
        "--webhook-retry-delays",
        type=_delays,
        default=list(DEFAULT_RETRY_DELAYS),
        help="comma-separated seconds between delivery attempts (default 1,2,5,10,30)",
    )
    args = parser.parse_args(argv)
    # Without --webhook-secret a secret is generated; it is never logged (read it from
    # GET /_sandbox/webhook).
    app = create_app(
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        retry_delays=args.webhook_retry_delays,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
