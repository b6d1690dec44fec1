"""P4's baseline (bench/api.py): bare FastAPI serving a constant JSON body, no chassis.

Same framework and server settings as a service (``prisme_chassis.app.run``: uvicorn,
no access log), one process. Usage: python bench/_bare.py PORT BODY_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

BODY = Path(sys.argv[2]).read_bytes()
app = FastAPI()


@app.get("/v1/clients")
async def clients(limit: int = 100) -> Response:
    return Response(BODY, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
