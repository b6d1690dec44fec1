"""R4 on the bus: each service's real NATS credentials against a real nats-server.

The users and permissions are the platform's own (prisme_localinfra.nats_auth, the same rules as
the embedded runner and deploy/nats). billing-svc's user does its normal work through the chassis
(provisioning check, outbox relay, consumer with inbox and dead letters, replay), and is refused
everything that touches another service: streams, consumers, deliveries, acks, inboxes and dead
letters. The provisioner may create but never delete or purge.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, cast

import asyncpg
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from prisme_chassis.app import connect_nats
from prisme_chassis.bus import (
    Consumer,
    OutboxRelay,
    ProvisioningError,
    Subscription,
    enqueue,
    list_dead_letters,
    provision_service,
)
from prisme_chassis.db import CHASSIS_MIGRATIONS, create_pool, migrate
from prisme_events import (
    ContractEnded,
    InvoiceIssued,
    cloudevent_headers,
    dead_letter_stream,
    encode,
    stream_of,
)
from prisme_testing.polling import eventually
from prisme_testing.secured_nats import SecuredNats

REFUSED = (nats.errors.TimeoutError, nats.errors.NoRespondersError, TimeoutError)


def ended(version: int = 2) -> ContractEnded:
    return ContractEnded(
        contract_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        version=version,
        offer="prisme",
        includes=[],
        year=2026,
        reason="year_end",
        effective_date=date(2026, 12, 31),
        ended_at=datetime(2026, 12, 31, 20, tzinfo=UTC),
        postes=3,
    )


class Conn:
    """A service's connection as the chassis opens it, recording the server's refusals."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: NATS | None = None

    async def open(self, url: str, user: str) -> NATS:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        self.nc = await nats.connect(
            url, inbox_prefix=f"_INBOX_{user}", error_cb=on_error, allow_reconnect=False
        )
        return self.nc

    async def refused(self, what: str) -> None:
        assert self.nc is not None
        await self.nc.flush()
        # the server's -ERR reaches error_cb on a task of its own: wait for it
        await eventually(
            lambda: any("permissions violation" in e.lower() for e in self.errors),
            timeout=10.0,
            what=f"nats-server refusing: {what}",
        )
        self.errors.clear()


async def noop(conn: asyncpg.Connection, event: Any) -> None:
    return None


def sub_of(durable: str, handler: Any = noop) -> Subscription:
    return Subscription(
        durable=durable, stream="CONTRACTS", handlers={ContractEnded: handler}, max_deliver=2,
        backoff=(0.1,),
    )  # fmt: skip


@pytest.fixture
async def platform(secured_nats: SecuredNats) -> SecuredNats:
    """Streams, dead-letter streams and consumers of three services, by the provisioner."""
    prov = await connect_nats(
        secured_nats.url("provisioner"), "provisioner", inbox_prefix="_INBOX_provisioner"
    )
    js = prov.jetstream(timeout=2.0)
    await provision_service(js, "contracts-svc", stream_of("contracts-svc"), [])
    for svc, durable in (
        ("billing-svc", "billing-contracts"),
        ("licence-svc", "licence-contracts"),
    ):
        await provision_service(js, svc, stream_of(svc), [sub_of(durable)])
    await js.create_key_value(bucket="PRISME_CLOCK", history=1)
    await prov.close()
    return secured_nats


async def test_a_service_does_its_own_work_with_its_own_credentials(
    platform: SecuredNats, new_database: Callable[[], Awaitable[str]]
) -> None:
    dsn = await new_database()
    pool = await create_pool(dsn)
    async with pool.acquire() as c:
        await migrate(cast(asyncpg.Connection, c), "chassis", CHASSIS_MIGRATIONS)
        await c.execute("CREATE TABLE seen (event_id uuid PRIMARY KEY)")
    contracts = await connect_nats(platform.url("contracts-svc"), "contracts-svc")
    billing = await connect_nats(platform.url("billing-svc"), "billing-svc")
    try:
        js = billing.jetstream(timeout=5.0)
        # everything is in place: the check with its own credentials creates nothing
        await provision_service(
            js, "billing-svc", stream_of("billing-svc"), [sub_of("billing-contracts")]
        )
        # the relay publishes its own subjects; a row of another's subject is set aside
        issued = InvoiceIssued(
            client_id=uuid.uuid4(),
            invoice_id=uuid.uuid4(),
            version=1,
            number="F-1",
            total_ttc="1.00",
        )
        forged = ended()
        async with pool.acquire() as c, c.transaction():
            await enqueue(cast(asyncpg.Connection, c), forged)  # not billing's subject
            await enqueue(cast(asyncpg.Connection, c), issued)
        relay = OutboxRelay(pool, js, dsn)
        assert await relay.publish_batch() == 2
        assert (await js.stream_info("BILLING")).state.messages == 1
        async with pool.acquire() as c:
            row = await c.fetchrow(
                "SELECT attempts, last_error FROM outbox WHERE event_id = $1", forged.event_id
            )
        assert row["attempts"] == 1
        assert "permissions violation" in row["last_error"]
        assert (await js.stream_info("CONTRACTS")).state.messages == 0

        # the consumer fetches and acks its own durable; a failure ends in its own dead letters
        async def handle(conn: asyncpg.Connection, event: ContractEnded) -> None:
            if event.postes == 13:
                raise ValueError("unlucky")
            await conn.execute("INSERT INTO seen VALUES ($1)", event.event_id)

        cjs = contracts.jetstream()
        good, bad = ended(), ended().model_copy(update={"postes": 13})
        for event in (good, bad):
            await cjs.publish(event.subject, encode(event), headers=cloudevent_headers(event))
        consumer = Consumer(sub_of("billing-contracts", handle), pool, js, "billing-svc")
        task = asyncio.create_task(consumer.run())
        letters = await eventually(
            lambda: list_dead_letters(js, "billing-svc"), what="the failure dead-lettered"
        )
        consumer.stop()
        await task
        [letter] = letters
        assert letter.durable == "billing-contracts"
        assert letter.subject == "contract.ended"
        assert "unlucky" in letter.error
        async with pool.acquire() as c:
            assert await c.fetchval("SELECT count(*) FROM seen") == 1
        info = await js.consumer_info("CONTRACTS", "billing-contracts")
        assert info.num_ack_pending == 0
        assert info.num_pending == 0
        # replay (after the cause is fixed) deletes the letter from its own stream
        consumer = Consumer(sub_of("billing-contracts", noop), pool, js, "billing-svc")
        await consumer.replay(letter.seq)
        assert await list_dead_letters(js, "billing-svc") == []
        # it watches the platform's key-value buckets
        kv = await js.key_value("PRISME_CLOCK")
        watcher = await kv.watch("offset")
        admin = await nats.connect(platform.url("admin"))
        await (await admin.jetstream().key_value("PRISME_CLOCK")).put("offset", b"42")
        await admin.close()

        async def update() -> bool:
            entry = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
            return entry is not None and entry.value == b"42"

        await eventually(update, what="the clock entry seen by billing's watch")
        await watcher.stop()  # type: ignore[no-untyped-call]
    finally:
        await billing.close()
        await contracts.close()
        await pool.close()


async def test_a_service_cannot_touch_what_is_not_its_own(platform: SecuredNats) -> None:
    billing, licence = Conn(), Conn()
    bnc = await billing.open(platform.url("billing-svc"), "billing-svc")
    lnc = await licence.open(platform.url("licence-svc"), "licence-svc")
    admin = await nats.connect(platform.url("admin"))
    ajs = admin.jetstream()
    contracts = await nats.connect(
        platform.url("contracts-svc"), inbox_prefix="_INBOX_contracts-svc"
    )
    try:
        event = ended()
        await contracts.jetstream().publish(
            event.subject, encode(event), headers=cloudevent_headers(event)
        )
        bjs = bnc.jetstream(timeout=1.0)

        # streams: no delete, no purge, no create, no update of anyone's
        with pytest.raises(REFUSED):
            await bjs.delete_stream("CONTRACTS")
        await billing.refused("delete another's stream")
        with pytest.raises(REFUSED):
            await bjs.purge_stream("CONTRACTS")
        await billing.refused("purge another's stream")
        with pytest.raises(REFUSED):
            await bjs.purge_stream("BILLING")
        await billing.refused("purge its own stream")
        with pytest.raises(REFUSED):
            await bjs.add_stream(StreamConfig(name="EVIL", subjects=["invoice.evil"]))
        await billing.refused("create a stream")
        with pytest.raises(ProvisioningError):
            await provision_service(
                bjs, "billing-svc", stream_of("billing-svc"), [sub_of("billing-other")]
            )
        assert (await ajs.stream_info("CONTRACTS")).state.messages == 1

        # consumers: neither create nor delete another's, nor fetch from it
        with pytest.raises(REFUSED):
            await bjs.delete_consumer("CONTRACTS", "licence-contracts")
        await billing.refused("delete another's consumer")
        with pytest.raises(REFUSED):
            await bjs.delete_consumer("CONTRACTS", "billing-contracts")
        await billing.refused("delete its own consumer")
        stolen = await bjs.pull_subscribe_bind(durable="licence-contracts", stream="CONTRACTS")
        with pytest.raises(REFUSED):
            await stolen.fetch(1, timeout=1.0)
        await billing.refused("fetch from another's consumer")
        assert (await ajs.consumer_info("CONTRACTS", "licence-contracts")).num_pending == 1

        # inboxes: billing subscribes to licence's, licence fetches: billing sees nothing
        spy = await bnc.subscribe("_INBOX_licence-svc.>")
        spy_all = await bnc.subscribe("_INBOX.>")
        await billing.refused("subscribe to another's inbox")
        ljs = lnc.jetstream(timeout=5.0)
        psub = await ljs.pull_subscribe_bind(durable="licence-contracts", stream="CONTRACTS")
        [msg] = await psub.fetch(1, timeout=5.0)
        await bnc.flush()
        assert spy.pending_msgs == 0
        assert spy_all.pending_msgs == 0

        # acks: billing cannot ack licence's message; licence can
        await bnc.publish(msg.reply, b"+ACK")
        await billing.refused("ack another's message")
        assert (await ajs.consumer_info("CONTRACTS", "licence-contracts")).num_ack_pending == 1
        await msg.ack_sync()
        assert (await ajs.consumer_info("CONTRACTS", "licence-contracts")).num_ack_pending == 0

        # dead letters: none for another service, none read or deleted in another's stream
        await bnc.publish("deadletter.licence-svc.licence-contracts.contract.ended", b"{}")
        await billing.refused("publish a dead letter for another service")
        with pytest.raises(REFUSED):
            await bjs.publish("deadletter.licence-svc.licence-contracts.contract.ended", b"{}")
        await billing.refused("publish a dead letter for another service (JetStream)")
        assert (await ajs.stream_info(dead_letter_stream("licence-svc").name)).state.messages == 0
        await ljs.publish("deadletter.licence-svc.licence-contracts.contract.ended", b"{}")
        with pytest.raises(REFUSED):
            await bjs.get_msg(dead_letter_stream("licence-svc").name, 1)
        await billing.refused("read another's dead letters")
        with pytest.raises(REFUSED):
            await bjs.delete_msg(dead_letter_stream("licence-svc").name, 1)
        await billing.refused("delete another's dead letter")
        assert (await ajs.stream_info(dead_letter_stream("licence-svc").name)).state.messages == 1

        # the provisioner creates, but never deletes or purges
        prov = Conn()
        pnc = await prov.open(platform.url("provisioner"), "provisioner")
        with pytest.raises(REFUSED):
            await pnc.jetstream(timeout=1.0).delete_stream("CONTRACTS")
        await prov.refused("provisioner deletes a stream")
        with pytest.raises(REFUSED):
            await pnc.jetstream(timeout=1.0).purge_stream("CONTRACTS")
        await prov.refused("provisioner purges a stream")
        await pnc.close()
        assert (await ajs.stream_info("CONTRACTS")).state.messages == 1
    finally:
        for nc in (bnc, lnc, admin, contracts):
            await nc.close()


async def test_the_dashboard_reads_every_stream_and_touches_nothing(
    platform: SecuredNats,
) -> None:
    """The live feed's rights (STREAM_READERS): messages of every domain stream by sequence and
    their subjects heard on core NATS; no consumer of any kind (the ephemeral-create subject
    would let it replace a durable one by naming it), nothing published, nothing acked."""
    dash = Conn()
    dnc = await dash.open(platform.url("dashboard"), "dashboard")
    admin = await nats.connect(platform.url("admin"))
    ajs = admin.jetstream(timeout=10.0)
    contracts = await nats.connect(
        platform.url("contracts-svc"), inbox_prefix="_INBOX_contracts-svc"
    )
    try:
        # what it may do is given time on a loaded machine; what it may not is refused, and
        # refusals that go unanswered (a request the server drops) cost only a short wait
        reads = dnc.jetstream(timeout=10.0)
        djs = dnc.jetstream(timeout=2.0)
        before = await ajs.consumer_info("CONTRACTS", "billing-contracts")
        heard = await dnc.subscribe("contract.>")
        event = ended()
        await contracts.jetstream().publish(
            event.subject, encode(event), headers=cloudevent_headers(event)
        )
        woke = await heard.next_msg(timeout=10.0)
        assert woke.subject == event.subject
        assert (await reads.stream_info("CONTRACTS")).state.last_seq == 1
        raw = await reads.get_msg("CONTRACTS", 1, subject=">", next=True)
        assert raw.headers is not None
        assert raw.headers["ce-id"] == str(event.event_id)
        assert not dash.errors
        # it cannot answer the publisher's acknowledgement in the stream's place
        assert woke.reply
        await dnc.publish(woke.reply, b"{}")
        await dash.refused("answer another's inbox")

        # no consumer: neither ephemeral (which could name and replace billing's), nor durable
        answer_timeout = (*REFUSED, nats.js.errors.Error)
        for config in (
            {"name": "billing-contracts", "max_deliver": 99, "ack_policy": "explicit"},
            {"ack_policy": "none"},
        ):
            with pytest.raises(answer_timeout):
                await dnc.request(
                    "$JS.API.CONSUMER.CREATE.CONTRACTS",
                    json.dumps({"stream_name": "CONTRACTS", "config": config}).encode(),
                    timeout=1.0,
                )
            await dash.refused("create a consumer")
        with pytest.raises(answer_timeout):
            await djs.add_consumer("CONTRACTS", durable_name="dashboard-feed")
        await dash.refused("create a durable consumer")
        with pytest.raises(REFUSED):
            await djs.delete_consumer("CONTRACTS", "billing-contracts")
        await dash.refused("delete another's consumer")
        stolen = await djs.pull_subscribe_bind(durable="billing-contracts", stream="CONTRACTS")
        with pytest.raises(REFUSED):
            await stolen.fetch(1, timeout=1.0)
        await dash.refused("fetch from another's consumer")
        after = await ajs.consumer_info("CONTRACTS", "billing-contracts")
        assert after.config.durable_name == "billing-contracts"
        assert after.config.max_deliver == before.config.max_deliver
        assert after.num_pending == 1
        assert {c.name for c in await ajs.consumers_info("CONTRACTS")} == {
            "billing-contracts",
            "licence-contracts",
        }

        # nor publish anything of the services', nor delete a stream's message
        with pytest.raises(REFUSED):
            await djs.publish("contract.ended", b"{}", timeout=1.0)
        await dash.refused("publish a contract event")
        with pytest.raises(REFUSED):
            await djs.delete_msg("CONTRACTS", 1)
        await dash.refused("delete a stream's message")
        assert (await ajs.stream_info("CONTRACTS")).state.messages == 1
    finally:
        for nc in (dnc, admin, contracts):
            await nc.close()
