"""Stripe's API conventions: auth, form encoding, errors, lists, Idempotency-Key."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import httpx
import pytest
import stripe
from prisme_stripe_sandbox.params import Params, as_list, decode

from .conftest import Factory

KEY = {"Authorization": "Bearer sk_test_raw"}


def test_decode_nested_brackets_and_lists() -> None:
    data = decode(
        [
            ("metadata[foo]", "bar"),
            ("payment_settings[payment_method_types][0]", "card"),
            ("payment_settings[payment_method_types][1]", "sepa_debit"),
            ("expand[]", "customer"),
            ("expand[]", "charge"),
            ("amount", "12"),
        ]
    )
    assert data["metadata"] == {"foo": "bar"}
    types = data["payment_settings"]["payment_method_types"]
    assert as_list(types, "t") == ["card", "sepa_debit"]
    assert Params(data).expand() == ["customer", "charge"]
    assert Params(data).integer("amount") == 12


async def test_api_keys(
    make_client: Callable[..., stripe.StripeClient], control: httpx.AsyncClient
) -> None:
    for bad in ("sk_live_0123456789abcdef", "pk_test_123"):
        with pytest.raises(stripe.AuthenticationError) as caught:
            await make_client(bad).v1.customers.list_async()
        assert caught.value.http_status == 401
        assert caught.value.json_body is not None
        assert caught.value.json_body["error"]["code"] == "api_key_invalid"
    r = await control.get("/v1/customers")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_request_error"
    basic = base64.b64encode(b"sk_test_basic:").decode()
    r = await control.get("/v1/customers", headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200
    assert r.json()["object"] == "list"


async def test_raw_form_encoding_metadata_and_curl_style_expand(control: httpx.AsyncClient) -> None:
    r = await control.post(
        "/v1/customers",
        headers=KEY,
        content="email=a%40b.re&metadata[foo]=bar&metadata[gone]=x&preferred_locales[]=fr-FR",
    )
    assert r.status_code == 200, r.text
    cus = r.json()
    assert cus["metadata"] == {"foo": "bar", "gone": "x"}
    assert cus["preferred_locales"] == ["fr-FR"]
    assert r.headers["request-id"].startswith("req_")
    r = await control.post(f"/v1/customers/{cus['id']}", headers=KEY, data={"metadata[gone]": ""})
    assert r.json()["metadata"] == {"foo": "bar"}
    r = await control.post(
        "/v1/invoices",
        headers=KEY,
        data={"customer": cus["id"], "expand[]": "customer"},
    )
    assert r.json()["customer"]["email"] == "a@b.re"


async def test_errors_are_stripe_shaped(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.customers.retrieve_async("cus_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.customers.create_async(params={"emial": "x@y.z"})  # type: ignore[typeddict-unknown-key]
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "emial")
    cus = await factory.customer()
    with pytest.raises(stripe.InvalidRequestError) as not_int:
        await client.v1.invoice_items.create_async(
            params={"customer": cus.id, "amount": "12.5", "currency": "eur"}  # type: ignore[typeddict-item]
        )
    assert not_int.value.code == "parameter_invalid_integer"
    r = await control.get("/v1/nothing_here", headers=KEY)
    assert r.status_code == 404
    assert set(r.json()["error"]) >= {"type", "code", "message"}


async def test_lists_paginate_newest_first(client: stripe.StripeClient, factory: Factory) -> None:
    ids = [(await factory.customer(email=f"c{i}@example.re")).id for i in range(3)]
    first = await client.v1.customers.list_async(params={"limit": 2})
    assert [c.id for c in first.data] == [ids[2], ids[1]]
    assert first.has_more is True
    rest = await client.v1.customers.list_async(params={"limit": 2, "starting_after": ids[1]})
    assert ([c.id for c in rest.data], rest.has_more) == ([ids[0]], False)
    back = await client.v1.customers.list_async(params={"limit": 5, "ending_before": ids[0]})
    assert [c.id for c in back.data] == [ids[2], ids[1]]
    by_email = await client.v1.customers.list_async(params={"email": "c1@example.re"})
    assert [c.id for c in by_email.data] == [ids[1]]


async def test_idempotency_replay_and_mismatch(
    client: stripe.StripeClient, control: httpx.AsyncClient
) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "customer:c-42:create"}
    params: stripe.CustomerCreateParams = {"email": "a@example.re", "metadata": {"c": "42"}}
    first = await client.v1.customers.create_async(params=params, options=opts)
    again = await client.v1.customers.create_async(params=params, options=opts)
    assert again.id == first.id
    listed = await client.v1.customers.list_async()
    assert [c.id for c in listed.data] == [first.id]
    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.customers.create_async(params={"email": "b@example.re"}, options=opts)
    assert caught.value.http_status == 400
    raw = await control.post(
        "/v1/customers",
        headers={**KEY, "Idempotency-Key": "raw-key"},
        data={"email": "r@example.re"},
    )
    replay = await control.post(
        "/v1/customers",
        headers={**KEY, "Idempotency-Key": "raw-key"},
        data={"email": "r@example.re"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == raw.json()
    log = (await control.get("/_sandbox/requests")).json()["data"]
    assert [e["replayed"] for e in log if e["idempotency_key"] == "raw-key"] == [False, True]


async def test_declines_are_replayed_but_validation_errors_are_not(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    opts: stripe.RequestOptions = {"idempotency_key": f"invoice:{inv.id}:pay"}
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            await client.v1.invoices.pay_async(
                inv.id, params={"payment_method": "pm_card_chargeDeclined"}, options=opts
            )
    assert (await client.v1.invoices.retrieve_async(inv.id)).attempt_count == 1

    bad_opts: stripe.RequestOptions = {"idempotency_key": "refund:bad"}
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async(params={"charge": "ch_missing"}, options=bad_opts)
    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    # the same key with a valid body now runs: the 404 above was not stored
    refund = await client.v1.refunds.create_async(params={"charge": paid.charge}, options=bad_opts)
    assert refund.status == "succeeded"


async def test_module_level_sdk_style(
    sandbox_server: object, control: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "api_key", "sk_test_module")
    monkeypatch.setattr(stripe, "api_base", str(sandbox_server.url))  # type: ignore[attr-defined]
    monkeypatch.setattr(stripe, "default_http_client", stripe.HTTPXClient())
    monkeypatch.setattr(stripe, "max_network_retries", 2)
    cus = await stripe.Customer.create_async(email="m@example.re")
    inv = await stripe.Invoice.create_async(
        customer=cus.id, collection_method="charge_automatically"
    )
    await stripe.InvoiceItem.create_async(
        customer=cus.id, invoice=inv.id, amount=700, currency="eur"
    )
    inv = await stripe.Invoice.finalize_invoice_async(inv.id)
    paid = await stripe.Invoice.pay_async(inv.id, payment_method="pm_card_mastercard")
    assert (paid.status, paid.amount_paid) == ("paid", 700)


async def test_a_request_cut_mid_body_is_neither_run_nor_remembered(
    control: httpx.AsyncClient,
) -> None:
    """A client killed while sending (kill -9 of billing-svc mid-call): the half request
    creates nothing and does not bind its idempotency key, so the retry goes through."""
    body = b"email=cut%40example.re&metadata[c]=77&name=Cabinet"
    host, port = control.base_url.host, control.base_url.port
    assert port is not None
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /v1/customers HTTP/1.1\r\nHost: sandbox\r\n"
        b"Authorization: Bearer sk_test_raw\r\nIdempotency-Key: cut-key\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.3)  # the sandbox sees the disconnect
    listed = (await control.get("/v1/customers", headers=KEY)).json()["data"]
    assert [c for c in listed if c["email"] in (None, "cut@example.re")] == []
    retry = await control.post(
        "/v1/customers",
        headers={**KEY, "Idempotency-Key": "cut-key"},
        content=body,
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["email"] == "cut@example.re"
