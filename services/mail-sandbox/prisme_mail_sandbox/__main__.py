"""``python -m prisme_mail_sandbox --port 8012 --smtp-port 2525``: SMTP in, inbox over HTTP."""

from __future__ import annotations

import argparse
import os

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="prisme_mail_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8012, help="HTTP inbox (default 8012)")
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=int(os.environ.get("PRISME_MAIL_SANDBOX_SMTP_PORT", "2525")),
        help="SMTP (default 2525)",
    )
    args = parser.parse_args(argv)
    app = create_app(smtp_host=args.host, smtp_port=args.smtp_port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
