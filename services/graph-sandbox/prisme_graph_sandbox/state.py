"""In-memory Microsoft Graph directory: tenants, users, licences, deleted items, fault switches.

Every Graph operation is a plain method returning ``(status, headers, body)`` so the HTTP
routes and the ``$batch`` endpoint run exactly the same code.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Result = tuple[int, dict[str, str], dict[str, Any] | None]

DEFAULT_SKUS: dict[str, int] = {"O365_BUSINESS": 25, "O365_BUSINESS_PREMIUM": 10}
# Fixed ids so a sku part number maps to the same id in every tenant, as on the real service.
_SKU_NAMESPACE = uuid.UUID("6b9f3c1e-8b1f-4a0e-9a55-1f0c7e2d9a10")

USER_FIELDS = (
    "id",
    "accountEnabled",
    "displayName",
    "givenName",
    "surname",
    "mailNickname",
    "userPrincipalName",
    "usageLocation",
    "employeeId",
    "mail",
    "assignedLicenses",
    "deletedDateTime",
)


def graph_error(
    status: int, code: str, message: str, extra: dict[str, str] | None = None
) -> Result:
    headers = {"request-id": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": headers["request-id"],
                "client-request-id": headers["request-id"],
            },
        }
    }
    return status, headers, body


@dataclass
class Sku:
    sku_id: str
    part_number: str
    enabled: int
    consumed: int = 0  # kept up to date on assign/remove/delete (O(1) at any tenant size)


@dataclass
class Tenant:
    name: str
    skus: dict[str, Sku] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # user id -> sha256 of the password
    sessions_revoked: dict[str, int] = field(default_factory=dict)
    by_upn: dict[str, str] = field(default_factory=dict)  # lower-case UPN -> user id


@dataclass
class Faults:
    latency_ms: float = 0.0
    throttle_fraction: float = 0.0
    retry_after_seconds: int = 1
    error_fraction: float = 0.0  # 503 Service Unavailable
    seed: int | None = None


class Directory:
    """The whole sandbox: every tenant, tokens, the operation log and the fault switches."""

    def __init__(self, default_seats: dict[str, int] | None = None, token_ttl: int = 3599) -> None:
        self.default_seats = dict(default_seats or DEFAULT_SKUS)
        self.token_ttl = token_ttl
        self.tenants: dict[str, Tenant] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.faults = Faults()
        self.rng = random.Random()
        self.oplog: list[dict[str, Any]] = []
        # $batch calls in flight per tenant, and the most seen at once (concurrency limits)
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.counters: dict[str, int] = {
            "requests": 0,
            "batches": 0,
            "throttled": 0,
            "errors": 0,
            "tokens": 0,
        }

    # -- tenants and tokens --------------------------------------------------------------
    def tenant(self, name: str) -> Tenant:
        key = name.lower()
        if key not in self.tenants:
            t = Tenant(name=key)
            for part, seats in self.default_seats.items():
                sku_id = str(uuid.uuid5(_SKU_NAMESPACE, part))
                t.skus[sku_id] = Sku(sku_id=sku_id, part_number=part, enabled=seats)
            self.tenants[key] = t
        return self.tenants[key]

    def issue_token(self, tenant: str) -> tuple[str, int]:
        self.tenant(tenant)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (tenant.lower(), time.monotonic() + self.token_ttl)
        self.counters["tokens"] += 1
        return token, self.token_ttl

    def tenant_for_token(self, token: str) -> str | None:
        entry = self.tokens.get(token)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def set_seats(self, tenant: str, part_number: str, enabled: int) -> Sku:
        t = self.tenant(tenant)
        for sku in t.skus.values():
            if sku.part_number == part_number:
                sku.enabled = enabled
                return sku
        sku_id = str(uuid.uuid5(_SKU_NAMESPACE, part_number))
        t.skus[sku_id] = Sku(sku_id=sku_id, part_number=part_number, enabled=enabled)
        return t.skus[sku_id]

    # -- faults ---------------------------------------------------------------------------
    def injected_fault(self) -> Result | None:
        """A 429 or 503 decided by the configured fractions, or ``None``."""
        f = self.faults
        if f.throttle_fraction and self.rng.random() < f.throttle_fraction:
            self.counters["throttled"] += 1
            return graph_error(
                429,
                "TooManyRequests",
                "Too many requests.",
                {"Retry-After": str(f.retry_after_seconds)},
            )
        if f.error_fraction and self.rng.random() < f.error_fraction:
            self.counters["errors"] += 1
            return graph_error(503, "serviceNotAvailable", "Service unavailable.")
        return None

    def _log(self, tenant: Tenant, op: str, user: dict[str, Any], **extra: Any) -> None:
        self.oplog.append(
            {
                "seq": len(self.oplog) + 1,
                "tenant": tenant.name,
                "op": op,
                "user_id": user["id"],
                "upn": user["userPrincipalName"],
                "at": datetime.now(UTC).isoformat(),
                **extra,
            }
        )

    # -- Graph operations ---------------------------------------------------------------
    def dispatch(
        self, tenant_name: str, method: str, path: str, query: dict[str, str], body: Any
    ) -> Result:
        """Route one Graph request (path relative to ``/v1.0``)."""
        self.counters["requests"] += 1
        tenant = self.tenant(tenant_name)
        parts = [p for p in path.split("?")[0].strip("/").split("/") if p]
        method = method.upper()
        if parts == ["users"]:
            if method == "POST":
                return self.create_user(tenant, body)
            if method == "GET":
                return self.list_users(tenant, query)
        if len(parts) == 2 and parts[0] == "users":
            if method == "GET":
                return self.get_user(tenant, parts[1])
            if method == "PATCH":
                return self.patch_user(tenant, parts[1], body)
            if method == "DELETE":
                return self.delete_user(tenant, parts[1])
        if len(parts) == 3 and parts[0] == "users" and method == "POST":
            if parts[2] == "assignLicense":
                return self.assign_license(tenant, parts[1], body)
            if parts[2] == "revokeSignInSessions":
                return self.revoke_sessions(tenant, parts[1])
        if parts == ["subscribedSkus"] and method == "GET":
            return self.subscribed_skus(tenant)
        if parts[:3] == ["directory", "deletedItems", "microsoft.graph.user"] and method == "GET":
            return 200, {}, {"value": [self._public(u) for u in tenant.deleted.values()]}
        if len(parts) == 3 and parts[:2] == ["directory", "deletedItems"] and method == "GET":
            user = tenant.deleted.get(parts[2])
            if user is None:
                return graph_error(
                    404, "Request_ResourceNotFound", f"Resource '{parts[2]}' does not exist."
                )
            return 200, {}, self._public(user)
        return graph_error(400, "BadRequest", f"Unsupported request: {method} /{'/'.join(parts)}")

    @staticmethod
    def _public(user: dict[str, Any]) -> dict[str, Any]:
        return {k: user.get(k) for k in USER_FIELDS}

    def _find(self, tenant: Tenant, ref: str) -> dict[str, Any] | None:
        if ref in tenant.users:
            return tenant.users[ref]
        uid = tenant.by_upn.get(ref.lower())
        return tenant.users.get(uid) if uid else None

    def _not_found(self, ref: str) -> Result:
        return graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property objects "
            "are not present.",
        )

    def create_user(self, tenant: Tenant, body: Any) -> Result:
        if not isinstance(body, dict):
            return graph_error(400, "Request_BadRequest", "A request body is required.")
        required = (
            "accountEnabled",
            "displayName",
            "mailNickname",
            "userPrincipalName",
            "passwordProfile",
        )
        missing = [k for k in required if body.get(k) in (None, "")]
        if missing:
            return graph_error(
                400,
                "Request_BadRequest",
                f"Invalid value specified for property '{missing[0]}' of resource 'User'.",
            )
        profile = body["passwordProfile"]
        password = profile.get("password") if isinstance(profile, dict) else None
        if not isinstance(password, str) or len(password) < 8:
            return graph_error(
                400,
                "Request_BadRequest",
                "The specified password does not comply with password complexity requirements.",
            )
        upn = str(body["userPrincipalName"])
        if "@" not in upn:
            return graph_error(400, "Request_BadRequest", "Property userPrincipalName is invalid.")
        if self._find(tenant, upn) is not None:
            return graph_error(
                400,
                "Request_BadRequest",
                "Another object with the same value for property userPrincipalName already exists.",
            )
        user: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "accountEnabled": bool(body["accountEnabled"]),
            "displayName": body["displayName"],
            "givenName": body.get("givenName"),
            "surname": body.get("surname"),
            "mailNickname": body["mailNickname"],
            "userPrincipalName": upn,
            "usageLocation": body.get("usageLocation"),
            "employeeId": body.get("employeeId"),
            "mail": None,
            "assignedLicenses": [],
            "deletedDateTime": None,
            "forceChangePasswordNextSignIn": bool(
                profile.get("forceChangePasswordNextSignIn", True)
            ),
        }
        tenant.users[user["id"]] = user
        tenant.by_upn[upn.lower()] = user["id"]
        tenant.passwords[user["id"]] = hashlib.sha256(password.encode()).hexdigest()
        self._log(tenant, "create", user, accountEnabled=user["accountEnabled"])
        return 201, {"Location": f"/v1.0/users/{user['id']}"}, self._public(user)

    def list_users(self, tenant: Tenant, query: dict[str, str]) -> Result:
        flt = query.get("$filter")
        users: list[dict[str, Any]] = list(tenant.users.values()) if not flt else []
        if flt:
            prefix = "userPrincipalName eq "
            if not flt.startswith(prefix):
                return graph_error(400, "Request_UnsupportedQuery", "Unsupported query.")
            value = flt[len(prefix) :].strip()
            if not (value.startswith("'") and value.endswith("'")):
                return graph_error(400, "BadRequest", "Invalid filter clause.")
            found = self._find(tenant, value[1:-1].replace("''", "'"))
            users = [found] if found else []
        return 200, {}, {"value": [self._public(u) for u in users]}

    def get_user(self, tenant: Tenant, ref: str) -> Result:
        user = self._find(tenant, ref)
        if user is None:
            return self._not_found(ref)
        return 200, {}, self._public(user)

    def patch_user(self, tenant: Tenant, ref: str, body: Any) -> Result:
        user = self._find(tenant, ref)
        if user is None:
            return self._not_found(ref)
        if not isinstance(body, dict):
            return graph_error(400, "Request_BadRequest", "A request body is required.")
        allowed = {
            "accountEnabled",
            "displayName",
            "givenName",
            "surname",
            "usageLocation",
            "employeeId",
            "passwordProfile",
        }
        unknown = set(body) - allowed
        if unknown:
            return graph_error(
                400,
                "Request_BadRequest",
                f"Property '{sorted(unknown)[0]}' is read-only or unknown.",
            )
        for key, value in body.items():
            if key == "passwordProfile":
                continue
            user[key] = value
        if "accountEnabled" in body:
            self._log(tenant, "disable" if not body["accountEnabled"] else "enable", user)
        else:
            self._log(tenant, "update", user, fields=sorted(body))
        return 204, {}, None

    def delete_user(self, tenant: Tenant, ref: str) -> Result:
        user = self._find(tenant, ref)
        if user is None:
            return self._not_found(ref)
        del tenant.users[user["id"]]
        del tenant.by_upn[user["userPrincipalName"].lower()]
        for lic in user["assignedLicenses"]:
            if lic["skuId"] in tenant.skus:
                tenant.skus[lic["skuId"]].consumed -= 1
        user["deletedDateTime"] = datetime.now(UTC).isoformat()
        tenant.deleted[user["id"]] = user
        self._log(tenant, "delete", user)
        return 204, {}, None

    def revoke_sessions(self, tenant: Tenant, ref: str) -> Result:
        user = self._find(tenant, ref)
        if user is None:
            return self._not_found(ref)
        tenant.sessions_revoked[user["id"]] = tenant.sessions_revoked.get(user["id"], 0) + 1
        self._log(tenant, "revoke_sessions", user)
        return (
            200,
            {},
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                "value": True,
            },
        )

    def assign_license(self, tenant: Tenant, ref: str, body: Any) -> Result:
        user = self._find(tenant, ref)
        if user is None:
            return self._not_found(ref)
        if not isinstance(body, dict) or "addLicenses" not in body or "removeLicenses" not in body:
            return graph_error(
                400, "Request_BadRequest", "addLicenses and removeLicenses are required."
            )
        add = body["addLicenses"] or []
        remove = body["removeLicenses"] or []
        current = {lic["skuId"] for lic in user["assignedLicenses"]}
        for sku_id in remove:
            if sku_id not in current:
                return graph_error(
                    400, "Request_BadRequest", "User does not have a corresponding license."
                )
        adding = [lic.get("skuId") for lic in add if lic.get("skuId") not in current]
        if adding and not user.get("usageLocation"):
            return graph_error(
                400,
                "Request_BadRequest",
                "License assignment cannot be done for user with invalid usage location.",
            )
        for sku_id in adding:
            sku = tenant.skus.get(str(sku_id))
            if sku is None:
                return graph_error(
                    400,
                    "Request_BadRequest",
                    f"License {sku_id} does not correspond to a valid company License.",
                )
            if sku.consumed >= sku.enabled:
                return graph_error(
                    400,
                    "Request_BadRequest",
                    f"Subscription {sku.sku_id} does not have any available licenses.",
                )
        for sku_id in adding:
            tenant.skus[str(sku_id)].consumed += 1
        for sku_id in remove:
            if sku_id in tenant.skus:
                tenant.skus[sku_id].consumed -= 1
        user["assignedLicenses"] = [
            lic for lic in user["assignedLicenses"] if lic["skuId"] not in set(remove)
        ] + [{"skuId": s, "disabledPlans": []} for s in adding]
        if adding:
            self._log(tenant, "assign_license", user, skus=adding)
        if remove:
            self._log(tenant, "remove_license", user, skus=list(remove))
        return 200, {}, self._public(user)

    def subscribed_skus(self, tenant: Tenant) -> Result:
        value = [
            {
                "id": f"{tenant.name}_{sku.sku_id}",
                "skuId": sku.sku_id,
                "skuPartNumber": sku.part_number,
                "capabilityStatus": "Enabled",
                "appliesTo": "User",
                "consumedUnits": sku.consumed,
                "prepaidUnits": {
                    "enabled": sku.enabled,
                    "suspended": 0,
                    "warning": 0,
                    "lockedOut": 0,
                },
            }
            for sku in tenant.skus.values()
        ]
        return 200, {}, {"value": value}

    # -- control -----------------------------------------------------------------------
    def dump(self, tenant_name: str | None = None) -> dict[str, Any]:
        tenants = (
            [self.tenants[tenant_name.lower()]]
            if tenant_name and tenant_name.lower() in self.tenants
            else ([] if tenant_name else list(self.tenants.values()))
        )
        return {
            "tenants": {
                t.name: {
                    "users": [
                        {
                            **self._public(u),
                            "sessionsRevoked": t.sessions_revoked.get(u["id"], 0),
                            "passwordSha256": t.passwords.get(u["id"]),
                            "forceChangePasswordNextSignIn": u["forceChangePasswordNextSignIn"],
                        }
                        for u in t.users.values()
                    ],
                    "deleted": [
                        {**self._public(u), "sessionsRevoked": t.sessions_revoked.get(u["id"], 0)}
                        for u in t.deleted.values()
                    ],
                    "skus": self.subscribed_skus(t)[2],
                }
                for t in tenants
            },
            "max_concurrent_batches": dict(self.max_in_flight),
            "oplog": [
                e for e in self.oplog if tenant_name is None or e["tenant"] == tenant_name.lower()
            ],
            "counters": dict(self.counters),
        }
