"""Fixtures: the sandbox and a webhook receiver, both real HTTP servers on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe
import uvicorn
from prisme_stripe_sandbox import SandboxServer
from prisme_testing.polling import eventually as eventually
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WEBHOOK_SECRET = "whsec_sandbox_test_secret"


class Receiver:
    """Our side of the webhooks: verifies every delivery with ``stripe.Webhook.construct_event``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[stripe.Event] = []
        self.rejected: list[str] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.rejected.clear()
            self.fail_next = 0

    async def handle(self, request: Request) -> Response:
        payload = (await request.body()).decode()
        header = request.headers.get("stripe-signature")
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=503)
        if header is None:
            with self.lock:
                self.rejected.append("unsigned")
            return Response(status_code=400)
        try:
            event = stripe.Webhook.construct_event(payload, header, self.secret)
        except stripe.SignatureVerificationError as exc:
            with self.lock:
                self.rejected.append(str(exc))
            return Response(status_code=400)
        with self.lock:
            self.events.append(event)
        return Response(status_code=200)

    def of_type(self, event_type: str) -> list[stripe.Event]:
        with self.lock:
            return [e for e in self.events if e.type == event_type]


class ThreadServer:
    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def receiver_session() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(WEBHOOK_SECRET)
    app = Starlette(routes=[Route("/webhooks/stripe", receiver.handle, methods=["POST"])])
    with ThreadServer(app) as url:
        yield receiver, f"{url}/webhooks/stripe"


@pytest.fixture(scope="session")
def sandbox_server(receiver_session: tuple[Receiver, str]) -> Iterator[SandboxServer]:
    _, url = receiver_session
    with SandboxServer(
        webhook_url=url, webhook_secret=WEBHOOK_SECRET, retry_delays=(0.05, 0.1, 0.2)
    ) as server:
        yield server


@pytest.fixture
async def control(sandbox_server: SandboxServer) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client on the sandbox's ``/_sandbox`` controls; the sandbox is reset per test."""
    async with httpx.AsyncClient(base_url=sandbox_server.url, timeout=10) as c:
        r = await c.post("/_sandbox/reset")
        assert r.status_code == 200
        yield c


@pytest.fixture
def receiver(receiver_session: tuple[Receiver, str], control: httpx.AsyncClient) -> Receiver:
    receiver_session[0].clear()
    return receiver_session[0]


@pytest.fixture
def make_client(sandbox_server: SandboxServer) -> Callable[..., stripe.StripeClient]:
    def make(api_key: str = "sk_test_prisme", retries: int = 2) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": sandbox_server.url},
            http_client=stripe.HTTPXClient(),
            max_network_retries=retries,
        )

    return make


@pytest.fixture
def client(
    make_client: Callable[..., stripe.StripeClient], control: httpx.AsyncClient
) -> stripe.StripeClient:
    return make_client()


class Factory:
    """Small factories over the official SDK."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def customer(self, **params: Any) -> stripe.Customer:
        return await self.client.v1.customers.create_async(
            params={"email": "cabinet@example.re", "name": "Cabinet Hoarau", **params}
        )

    async def draft_invoice(
        self,
        customer_id: str,
        amounts: tuple[int, ...] = (348000, 34800),
        types: tuple[str, ...] = ("card", "sepa_debit"),
        **params: Any,
    ) -> stripe.Invoice:
        inv = await self.client.v1.invoices.create_async(
            params={
                "customer": customer_id,
                "collection_method": "charge_automatically",
                "payment_settings": {"payment_method_types": list(types)},
                "metadata": {"prisme_invoice_id": "inv-1"},
                **params,
            }
        )
        for amount in amounts:
            await self.client.v1.invoice_items.create_async(
                params={
                    "customer": customer_id,
                    "invoice": inv.id,
                    "amount": amount,
                    "currency": "eur",
                    "description": "PRISME",
                }
            )
        return inv

    async def open_invoice(self, customer_id: str, **kw: Any) -> stripe.Invoice:
        """A finalised invoice with one item per amount."""
        inv = await self.draft_invoice(customer_id, **kw)
        return await self.client.v1.invoices.finalize_invoice_async(inv.id)


@pytest.fixture
def factory(client: stripe.StripeClient) -> Factory:
    return Factory(client)
