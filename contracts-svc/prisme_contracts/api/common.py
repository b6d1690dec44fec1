"""What every route module shares: the scopes, the audited actor, paging parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.auth import Principal

READ = "contracts:read"
WRITE = "contracts:write"
#: four eyes (O2): approving or rejecting is its own scope, apart from writing
APPROVE = "contracts:approve"
ADMIN = "admin"


def _actor(who: Principal, request: Request) -> Actor:
    return audit.actor_of(request, who)


Year = Annotated[int, Path(ge=2000, le=2999)]
