"""Production refuses http and non-public addresses, at creation and at connection time."""

from __future__ import annotations

import base64
import secrets

import pytest
from prisme_webhooks.ssrf import UnsafeUrlError, check_url, delivery_client, is_public


def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "http://example.com/hook",
    ],
)
async def test_production_refuses_at_creation(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        await check_url(url, enforce=True)


async def test_public_https_is_accepted_and_development_accepts_loopback() -> None:
    await check_url("https://93.184.215.14/hook", enforce=True)
    await check_url("http://127.0.0.1:9000/hook", enforce=False)
    with pytest.raises(UnsafeUrlError):
        await check_url("ftp://example.com/", enforce=False)
    assert is_public("8.8.8.8")
    assert not is_public("100.64.0.1")
    assert not is_public("fe80::1")


async def test_the_guard_refuses_at_connection_time_and_follows_no_redirect(receiver) -> None:
    # a name that resolves to loopback is refused when connecting, whatever was checked before
    async with delivery_client(timeout=5, enforce=True, connections=2) as client:
        for url in (
            f"https://localhost:{receiver.port}/hook",
            f"http://127.0.0.1:{receiver.port}/hook",
            f"http://[::ffff:127.0.0.1]:{receiver.port}/hook",
        ):
            answer = await client.post(url, b"{}", {})
            assert answer.status is None
            assert "non-public" in (answer.error or ""), answer
    assert receiver.got == []
    receiver.answers = [307]
    receiver.headers_for[307] = {"location": "http://127.0.0.1:1/elsewhere"}
    async with delivery_client(timeout=5, enforce=False, connections=2) as client:
        answer = await client.post(receiver.url, b"{}", {})
    assert answer.status == 307  # the redirect is an answer to record, never followed
    assert len(receiver.got) == 1


async def test_production_api_answers_a_problem(webhooks, receiver) -> None:
    async with webhooks(
        env="production",
        master_key=master_key(),
        smtp_password="s3cr3t-relay",
        smtp_starttls=True,  # production refuses a relay password sent in clear
    ) as client:
        for url in ("https://127.0.0.1/hook", "https://10.0.0.1/hook", "http://example.com/hook"):
            r = await client.post("/v1/endpoints", json={"url": url, "event_types": ["contract.*"]})
            assert r.status_code == 422, r.text
            assert r.json()["type"].endswith("unsafe_url")
        assert (await client.get("/v1/endpoints")).json()["items"] == []
        r = await client.post(
            "/v1/endpoints", json={"url": "https://example.com/h", "event_types": ["nope.*"]}
        )
        assert r.status_code == 422
        assert r.json()["type"].endswith("unknown_event_type")
