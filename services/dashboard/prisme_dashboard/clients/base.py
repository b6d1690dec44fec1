"""The HTTP edge towards the platform's services: one typed client per service.

Every call carries the signed-in operator's own short-lived token (``Issuer.for_operator``),
so the service authorises the operator's scopes and writes the operator's name in its audit
trail.  A refusal (RFC 9457 problem) becomes :class:`ServiceProblem`, which keeps the
problem's ``type``, ``title``, ``detail``, its ``errors`` (validation errors, each with the
field it concerns) and every other extension member (``failures`` of an eligibility check…),
so a page can show each message beside the field that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import IO, Any

import httpx

#: a JSON object as a service answers it
Json = dict[str, Any]
Params = Mapping[str, str | int | bool | None]

PROBLEM_BASE = "https://prisme.example/problems/"

#: French names of the services, for messages shown to operators
SERVICE_LABELS = {
    "contracts": "contrats",
    "billing": "facturation",
    "licence": "licences",
    "video": "vidéos",
    "backup": "sauvegardes",
    "webhooks": "webhooks",
}


#: the dead letters the dashboard shows per service (one page of the chassis route)
DEAD_LETTERS_SHOWN = 200


class ServiceProblem(Exception):
    """A service refused the call: its RFC 9457 problem, kept whole."""

    def __init__(
        self,
        *,
        service: str,
        status: int,
        type: str,
        title: str,
        detail: str | None = None,
        errors: list[Json] | None = None,
        extensions: Json | None = None,
    ) -> None:
        super().__init__(f"{service}: {status} {title}: {detail or ''}".rstrip(": "))
        self.service = service
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors: list[Json] = errors or []
        self.extensions: Json = extensions or {}

    @property
    def code(self) -> str:
        """The stable code of the problem type (``not-eligible``, ``validation_error``…)."""
        if self.type.startswith(PROBLEM_BASE):
            return self.type[len(PROBLEM_BASE) :]
        return self.type.rsplit("/", 1)[-1]

    @property
    def message(self) -> str:
        """One readable sentence: the detail when the service gave one, else the title; a
        request validation problem (the chassis' English summary) in French."""
        if self.code == "validation_error":
            count = len(self.errors)
            if count <= 1:
                return "Un champ est à corriger : voyez le message à côté de lui."
            return f"{count} champs sont à corriger : voyez le message à côté de chacun."
        return self.detail or self.title

    def field_errors(self) -> dict[str, list[str]]:
        """Messages by the field they concern, to show beside it.

        Validation errors name their field by ``loc`` (``["body", "address", "postal_code"]``
        → ``address.postal_code``) or ``field``; an eligibility refusal lists ``failures``
        by ``criterion``.  Messages naming no field are left to :meth:`general_errors`.
        """
        fields: dict[str, list[str]] = {}
        for error in self.errors:
            name = _field_of(error)
            if name:
                fields.setdefault(name, []).append(_text_of(error))
        for failure in self.extensions.get("failures") or []:
            if isinstance(failure, dict) and failure.get("criterion"):
                fields.setdefault(str(failure["criterion"]), []).append(
                    str(failure.get("detail") or failure["criterion"])
                )
        return fields

    def general_errors(self) -> list[str]:
        """What to show at the top of the form: the message, and errors naming no field."""
        out = [self.message]
        out += [_text_of(e) for e in self.errors if not _field_of(e)]
        return out

    @classmethod
    def from_response(cls, service: str, response: httpx.Response) -> ServiceProblem:
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(
                service=service,
                status=response.status_code,
                type="about:blank",
                title=response.reason_phrase or "Erreur",
                detail=f"Le service {SERVICE_LABELS.get(service, service)} a répondu "
                f"{response.status_code}.",
            )
        reserved = {"type", "title", "status", "detail", "instance", "errors"}
        errors = body.get("errors")
        return cls(
            service=service,
            status=response.status_code,
            type=str(body.get("type") or "about:blank"),
            title=str(body.get("title") or response.reason_phrase or "Erreur"),
            detail=str(body["detail"]) if body.get("detail") is not None else None,
            errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else [],
            extensions={k: v for k, v in body.items() if k not in reserved},
        )


class ServiceUnavailable(ServiceProblem):
    """The service did not answer (down, timeout): nothing was done, as far as we know."""

    def __init__(self, service: str, cause: Exception) -> None:
        label = SERVICE_LABELS.get(service, service)
        super().__init__(
            service=service,
            status=503,
            type=PROBLEM_BASE + "service-unavailable",
            title="Service indisponible",
            detail=f"Le service {label} ne répond pas ({type(cause).__name__}). "
            "Réessayez dans un instant.",
        )


def _field_of(error: Json) -> str | None:
    if error.get("field"):
        return str(error["field"])
    loc = error.get("loc")
    if isinstance(loc, list) and loc:
        parts = [str(p) for p in loc]
        if parts[0] in {"body", "query", "path", "form"}:
            parts = parts[1:]
        return ".".join(parts) or None
    return None


#: pydantic's error types (what the chassis' validation problems carry), in French; a number
#: of the English message (a length, a bound) is put in place of ``{n}``
_VALIDATION_TEXTS = {
    "missing": "Champ obligatoire.",
    "string_too_short": "Au moins {n} caractère(s).",
    "string_too_long": "Au plus {n} caractère(s).",
    "too_short": "Au moins {n} élément(s).",
    "too_long": "Au plus {n} élément(s).",
    "string_pattern_mismatch": "Format invalide.",
    "string_type": "Texte attendu.",
    "int_parsing": "Nombre entier attendu.",
    "int_type": "Nombre entier attendu.",
    "int_from_float": "Nombre entier attendu.",
    "float_parsing": "Nombre attendu.",
    "decimal_parsing": "Montant invalide.",
    "greater_than": "Doit être supérieur à {n}.",
    "greater_than_equal": "Doit être au moins {n}.",
    "less_than": "Doit être inférieur à {n}.",
    "less_than_equal": "Doit être au plus {n}.",
    "literal_error": "Valeur non proposée.",
    "enum": "Valeur non proposée.",
    "date_parsing": "Date invalide.",
    "date_from_datetime_parsing": "Date invalide.",
    "datetime_parsing": "Date et heure invalides.",
    "datetime_from_date_parsing": "Date et heure invalides.",
    "uuid_parsing": "Identifiant invalide.",
    "bool_parsing": "Oui ou non attendu.",
    "extra_forbidden": "Champ inattendu.",
}


def _text_of(error: Json) -> str:
    if error.get("detail") or error.get("message"):
        return str(error.get("detail") or error.get("message"))
    text = _VALIDATION_TEXTS.get(str(error.get("type", "")))
    if text is not None:
        number = re.search(r"-?\d+(?:\.\d+)?", str(error.get("msg", "")))
        return text.replace("{n}", number.group(0) if number else "la limite")
    if error.get("msg"):
        return f"Valeur refusée ({error['msg']})."
    return str(error)


class ServiceClient:
    """Calls one service as one operator (the bearer token is minted per page)."""

    name = "service"

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._token = token

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | list[tuple[str, str]] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes | IO[bytes], str]] | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
        timeout: float | None = None,
    ) -> httpx.Response:
        """One call; a problem (or any status outside ``expect``) raises ServiceProblem."""
        query: list[tuple[str, str | int | float | bool | None]] = (
            list(params)
            if isinstance(params, list)
            else [(k, v) for k, v in (params or {}).items() if v is not None]
        )
        # httpx spells booleans "true"/"false", as FastAPI reads them
        try:
            response = await self._http.request(
                method,
                self.base_url + path,
                params=query,
                json=json,
                data=data,
                files=files,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=httpx.Timeout(timeout, connect=3.0)
                if timeout
                else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise ServiceUnavailable(self.name, exc) from exc
        if response.status_code not in expect:
            raise ServiceProblem.from_response(self.name, response)
        return response

    async def get(self, path: str, params: Params | None = None) -> Any:
        return (await self.request("GET", path, params=params)).json()

    async def get_object(self, path: str, params: Params | None = None) -> Json:
        body = await self.get(path, params)
        if not isinstance(body, dict):
            raise TypeError(f"{self.name} {path}: expected an object")
        return body

    async def get_page(
        self, path: str, params: Params | list[tuple[str, str]] | None = None
    ) -> Json:
        """One page of a paged list (DESIGN §4): ``items`` and ``next_cursor``."""
        body = (await self.request("GET", path, params=params)).json()
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise TypeError(f"{self.name} {path}: expected a page {{items, next_cursor}}")
        return body

    async def get_page_of(
        self, path: str, *, limit: int, cursor: str | None, **filters: object
    ) -> Json:
        """One page of ``limit`` rows after ``cursor``, with the filters that are given
        (None leaves a filter out; ids are sent as text)."""
        given = [(k, str(v)) for k, v in filters.items() if v is not None]
        return await self.get_page(
            path, [*given, ("limit", str(limit)), *([("cursor", cursor)] if cursor else [])]
        )

    async def get_every(
        self, path: str, params: Params | list[tuple[str, str]] | None = None
    ) -> list[Json]:
        """Every row of a paged list, 200 a page, following ``next_cursor`` to the end (for a
        list bounded by its filter: one practice's, some ids, a queue)."""
        base = (
            list(params)
            if isinstance(params, list)
            else [
                (k, str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in (params or {}).items()
                if v is not None
            ]
        )
        rows: list[Json] = []
        cursor: str | None = None
        while True:
            page = await self.get_page(
                path, [*base, ("limit", "200"), *([("cursor", cursor)] if cursor else [])]
            )
            rows += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return rows

    async def send(
        self, method: str, path: str, body: Any = None, params: Params | None = None
    ) -> Json:
        """POST/PUT/PATCH/DELETE with a JSON body; the answer's object (empty on 204)."""
        response = await self.request(method, path, json=body, params=params)
        if response.status_code == 204 or not response.content:
            return {}
        answer = response.json()
        return answer if isinstance(answer, dict) else {"items": answer}

    async def open_stream(self, path: str, headers: Mapping[str, str]) -> httpx.Response:
        """A streamed answer (a video and its Range): the caller relays the body and closes it."""
        request = self._http.build_request(
            "GET",
            self.base_url + path,
            headers={"Authorization": f"Bearer {self._token}", **headers},
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(self.name, exc) from exc
        if response.status_code not in (200, 206):
            await response.aread()
            await response.aclose()
            raise ServiceProblem.from_response(self.name, response)
        return response

    async def get_bytes(self, path: str) -> tuple[bytes, str]:
        """A document (PDF…): its bytes and media type."""
        response = await self.request("GET", path)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    # --- the chassis' operational routes, the same on every service (DESIGN §4) ------------
    async def dead_letters(self) -> list[Json]:
        """The service's oldest :data:`DEAD_LETTERS_SHOWN` dead letters (``admin``):
        consumer, subject, error, payload. A replayed letter leaves the list, so the operator
        works from the oldest; the page says when more wait."""
        page = await self.get_page_of("/v1/dead-letters", limit=DEAD_LETTERS_SHOWN, cursor=None)
        items: list[Json] = page["items"]
        return items

    async def replay_dead_letter(self, seq: int) -> None:
        """Run a dead letter through its consumer again (it leaves the list on success)."""
        await self.request("POST", f"/v1/dead-letters/{seq}/replay", expect=(204,))

    async def jobs(self, *, state: str | None = None, cursor: str | None = None) -> Json:
        """A page of the durable job queue: ``items`` and ``next_cursor``."""
        return await self.get_object("/v1/jobs", {"state": state, "cursor": cursor})

    async def retry_job(self, job_id: int) -> Json:
        """Put a dead job back in the queue with fresh attempts."""
        return await self.send("POST", f"/v1/jobs/{job_id}/retry")

    async def audit_trail(self, params: Params | None = None) -> Json:
        """A page of the service's audit trail (O3): ``items`` and the next ``cursor``."""
        return await self.get_object("/v1/audit", params)
