"""Helpers of the end-to-end tests. The whole platform runs in one test's event loop:
contracts, licence, video, billing and backup services on one NATS JetStream and one PostgreSQL (a fresh database each), with the Microsoft
Graph sandbox and the Stripe sandbox standing in for the SaaS. Tests drive it over HTTP only."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import av
import httpx
from prisme_chassis.clock import Clock
from prisme_testing import polling
from prisme_testing.vectors import vectors_path

TENANT = "provider-tenant"
VECTORS = vectors_path()  # ../shared/vectors/billing.csv beside the checkout
SIRENS = ["732829320", "552100554", "443061841", "542065479", "775672272"]


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """prisme_testing's ``eventually`` with the argument order these tests read best."""
    return await polling.eventually(check, timeout, what, interval=0.1)


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


# --- billing's reference figures (vectors/billing.csv, not a copy of the numbers) -------------


def yearly_ttc_from_vectors(postes: int) -> Decimal:
    """The yearly TTC price of ``postes`` postes, as an activation invoice row of the vectors."""
    with VECTORS.open(newline="") as f:
        for row in csv.DictReader(f):
            if (
                row["kind"] == "invoice"
                and int(row["postes"]) == postes
                and int(row["days"]) == int(row["days_in_year"])
            ):
                return Decimal(row["yearly_ttc"])
    raise LookupError(f"no invoice vector for {postes} postes")


def prorated(yearly: Decimal, days: int, year: int) -> Decimal:
    """B2, written out independently of billing-svc."""
    diy = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return (yearly * days / diy).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


# --- small real media ---------------------------------------------------------------------------


def make_video(seconds: float = 1.0, fps: int = 10, width: int = 96, height: int = 64) -> bytes:
    """A small real H.264/MP4 recording encoded with PyAV (moving gradient)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for n, plane in enumerate(frame.planes):
                w = width if n == 0 else width // 2
                h = height if n == 0 else height // 2
                row = bytes((x * 3 + i * 11 + n * 50) % 256 for x in range(w))
                plane.update((row + bytes(plane.line_size - w)) * h)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def make_pdf(text: str) -> bytes:
    """A real one-page PDF (reportlab), standing in for the official cessation document."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawString(72, 760, text)
    c.showPage()
    c.save()
    return out.getvalue()


# --- the platform -------------------------------------------------------------------------------


@dataclass
class Platform:
    contracts: httpx.AsyncClient  # as op-alice
    bob: dict[str, str]  # a second operator's bearer header (C6 approval)
    licence: httpx.AsyncClient
    video: httpx.AsyncClient
    billing: httpx.AsyncClient
    backup: httpx.AsyncClient
    graph: httpx.AsyncClient  # the Graph sandbox's control routes
    stripe: httpx.AsyncClient  # the Stripe sandbox's API (test key) and controls
    clock: Clock
    nats_url: str
    _n: list[int] = field(default_factory=lambda: [0])

    def viewer(self) -> httpx.AsyncClient:
        """A browser without any operator token, on the public viewer."""
        return httpx.AsyncClient(base_url=str(self.video.base_url), timeout=30)

    async def graph_state(self) -> dict[str, Any]:
        body: dict[str, Any] = ok(
            await self.graph.get("/_sandbox/state", params={"tenant": TENANT})
        )
        tenant = body["tenants"].get(TENANT, {"users": [], "deleted": []})
        return {"users": tenant["users"], "deleted": tenant["deleted"], "oplog": body["oplog"]}

    async def practice(
        self, *, tag: str, users: int, workstations: int, servers: int = 0
    ) -> dict[str, Any]:
        """A PRISME-eligible practice created through contracts-svc's API."""
        self._n[0] += 1
        client = ok(
            await self.contracts.post(
                "/v1/clients",
                json={
                    "name": f"Cabinet médical {tag}",
                    "siren": SIRENS[self._n[0] % len(SIRENS)],
                    "manager": {
                        "name": f"Dr {tag}",
                        "email": f"gerant.{tag.lower()}@cabinet.re",
                        "phone": "0262 12 34 56",
                    },
                    "address": {
                        "line1": "1 rue de Paris",
                        "postal_code": "97490",
                        "city": "Sainte-Clotilde",
                    },
                },
            ),
            201,
        )
        cid = client["id"]
        ok(
            await self.contracts.put(
                f"/v1/clients/{cid}/network",
                json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 700},
            )
        )
        assets = [("workstation", f"PC{i + 1}", "Windows 11 Pro") for i in range(workstations)]
        assets += [("server", f"SRV{i + 1}", "Windows Server 2022") for i in range(servers)]
        for kind, name, os_name in assets:
            ok(
                await self.contracts.post(
                    f"/v1/clients/{cid}/assets",
                    json={
                        "name": name,
                        "function": "poste de consultation" if kind != "server" else "serveur",
                        "kind": kind,
                        "form": "physical",
                        "os": os_name,
                        "supplied_by": "provider",
                    },
                ),
                201,
            )
        ok(
            await self.contracts.post(
                f"/v1/clients/{cid}/assets",
                json={
                    "name": "IMP1",
                    "function": "imprimante",
                    "kind": "peripheral",
                    "form": "physical",
                    "os": "firmware",
                    "supplied_by": "provider",
                },
            ),
            201,
        )
        roles = ["practitioner", "assistant", "secretary", "employee"]
        client["users"] = [
            ok(
                await self.contracts.post(
                    f"/v1/clients/{cid}/users",
                    json={
                        "first_name": f"Prénom{i}",
                        "last_name": f"{tag}",
                        "email": f"u{i}.{tag.lower()}@cabinet.re",
                        "role": roles[i % len(roles)],
                    },
                ),
                201,
            )
            for i in range(users)
        ]
        return dict(client)

    async def accounts(self, **params: str) -> list[dict[str, Any]]:
        """Every licence account the filters keep, page after page (licence-svc API 2.0)."""
        rows: list[dict[str, Any]] = []
        cursor: dict[str, str] = {}
        while True:
            asked = params | {"limit": "200"} | cursor
            page = ok(await self.licence.get("/v1/accounts", params=asked))
            rows += page["items"]
            if page["next_cursor"] is None:
                return rows
            cursor = {"cursor": page["next_cursor"]}

    async def share(self, client_id: str, contract_id: str, data: bytes) -> dict[str, Any]:
        """Upload ``data`` as an intervention recording and share it (once video-svc knows
        the contract: the link's expiry is the contract's end)."""
        video = ok(
            await self.video.post(
                "/v1/videos",
                data={
                    "client_id": client_id,
                    "contract_id": contract_id,
                    "title": "Intervention à distance — poste PC1",
                },
                files={"file": ("intervention.mp4", data, "video/mp4")},
            ),
            201,
        )

        async def link() -> dict[str, Any] | None:
            r = await self.video.post(f"/v1/videos/{video['id']}/links")
            return dict(r.json()) if r.status_code == 201 else None

        shared = await eventually(link, "video-svc to share a link of the contract's video")
        shared["video_id"] = video["id"]
        shared["path"] = "/v/" + shared["url"].split("/v/", 1)[1]
        return dict(shared)


async def _healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False
