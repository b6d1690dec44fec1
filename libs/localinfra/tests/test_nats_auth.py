"""R4 at the configuration level: the rendered users on a real nats-server.

The whole least-privilege matrix, with the chassis, is libs/chassis/tests/test_nats_least_privilege.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.js.api import StreamConfig
from prisme_chassis import revocations
from prisme_localinfra import NatsServer
from prisme_localinfra.nats_auth import (
    generate_passwords,
    inbox_prefix,
    render_config,
    url_with_credentials,
)


async def test_services_publish_only_their_own_subjects_and_create_no_stream(
    tmp_path: Path,
) -> None:
    passwords = generate_passwords(["contracts-svc", "billing-svc"])
    config = tmp_path / "nats.conf"
    config.write_text(render_config(passwords))
    server = NatsServer(tmp_path / "nats", config_file=config)
    server.start()

    def url(user: str) -> str:
        return url_with_credentials(server.url, user, passwords[user])

    try:
        provisioner = await nats.connect(
            url("provisioner"), inbox_prefix=inbox_prefix("provisioner")
        )
        await provisioner.jetstream().add_stream(name="CONTRACTS", subjects=["contract.>"])

        contracts = await nats.connect(
            url("contracts-svc"), inbox_prefix=inbox_prefix("contracts-svc")
        )
        ack = await contracts.jetstream().publish(
            "contract.ended", b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex}
        )
        assert ack.stream == "CONTRACTS"

        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        billing = await nats.connect(
            url("billing-svc"), error_cb=on_error, inbox_prefix=inbox_prefix("billing-svc")
        )
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await billing.jetstream().publish("contract.ended", b"{}", timeout=1.0)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await billing.jetstream(timeout=1.0).add_stream(
                StreamConfig(name="BILLING", subjects=["invoice.>"])
            )
        assert sum("permissions violation" in str(e).lower() for e in errors) == 2
        info = await provisioner.jetstream().stream_info("CONTRACTS")
        assert info.state.messages == 1

        with pytest.raises(nats.errors.Error):
            await nats.connect(
                url_with_credentials(server.url, "billing-svc", "wrong"),
                max_reconnect_attempts=0,
                allow_reconnect=False,
            )
        for nc in (provisioner, contracts, billing):
            await nc.close()
    finally:
        server.stop()


async def test_only_the_dashboard_revokes_tokens_and_every_service_reports_use(
    tmp_path: Path,
) -> None:
    passwords = generate_passwords(["dashboard", "billing-svc"])
    config = tmp_path / "nats.conf"
    config.write_text(render_config(passwords))
    server = NatsServer(tmp_path / "nats", config_file=config)
    server.start()
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    try:
        dashboard = await nats.connect(
            url_with_credentials(server.url, "dashboard", passwords["dashboard"]),
            inbox_prefix=inbox_prefix("dashboard"),
        )
        billing = await nats.connect(
            url_with_credentials(server.url, "billing-svc", passwords["billing-svc"]),
            error_cb=on_error,
            inbox_prefix=inbox_prefix("billing-svc"),
        )
        await revocations.ensure_bucket(dashboard.jetstream())
        await revocations.revoke(dashboard.jetstream(), "token-1", 2e9)
        # a service may watch the revocations but not write one (nor lift one)
        forged = await billing.jetstream().key_value(revocations.BUCKET)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await forged.put("token-2", b"{}")
        assert any("permissions violation" in str(e).lower() for e in errors)
        keys = await (await dashboard.jetstream().key_value(revocations.BUCKET)).keys()
        assert keys == ["token-1"]
        # …and it reports the last use of integration tokens
        usage = await revocations.ensure_bucket(
            billing.jetstream(), bucket=revocations.USAGE_BUCKET
        )
        await usage.put("token-1", b'{"at": 1}')
        for nc in (dashboard, billing):
            await nc.close()
    finally:
        server.stop()
