"""Use cases of share links (V2, V3) and of the contracts they die with. No SQL, no HTTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from prisme_chassis import audit, clock
from prisme_chassis.bus import enqueue, enqueue_many
from prisme_chassis.year_end import YearEndEffects
from prisme_events import (
    ContractActivated,
    ContractAmended,
    ContractEnded,
    VideoLinkCreated,
    VideoLinkRevoked,
)
from prisme_events.projection import ContractProjection, project

from . import errors
from . import repository as repo
from .context import VideoContext
from .credentials import hash_token, new_password, new_token
from .domain import ContractState, LinkStatus, can_share, link_status
from .recordings import live_video
from .repository import LinkRow, VideoRow


@dataclass(frozen=True)
class NewLink:
    """A link as created: the only time its token and password exist in clear (V2)."""

    link: LinkRow
    url: str
    password: str


async def create_link(
    conn: asyncpg.Connection, ctx: VideoContext, video_id: uuid.UUID, actor: str
) -> NewLink:
    video = await live_video(conn, video_id)
    await _shareable(conn, ctx, video)  # fail fast, before the costly hash
    token, password = new_token(), new_password()
    password_hash = await asyncio.to_thread(ctx.hashing.hash, password)
    # Same lock as the contract.ended handler: a link cannot slip in after the revocation.
    await repo.lock_contract(conn, video.contract_id)
    ends_at = await _shareable(conn, ctx, video)
    link = await repo.insert_link(
        conn,
        link_id=uuid.uuid4(),
        video=video,
        token_hash=hash_token(token),
        password_hash=password_hash,
        expires_at=ends_at,  # V3: the end of the contract's engagement (C2)
        created_by=actor,
    )
    await enqueue(
        conn,
        VideoLinkCreated(
            link_id=link.id,
            version=LINK_CREATED_VERSION,
            video_id=video.id,
            client_id=video.client_id,
            contract_id=video.contract_id,
            expires_at=link.expires_at,
        ),
    )
    url = f"{ctx.settings.public_base_url.rstrip('/')}/v/{token}"
    return NewLink(link, url, password)


async def _shareable(conn: asyncpg.Connection, ctx: VideoContext, video: VideoRow) -> datetime:
    """The link expiry if the video's contract allows sharing now, else a 409 saying why."""
    contract = await repo.get_contract(conn, video.contract_id)
    refusal = can_share(contract, video.client_id, clock.now())
    if refusal is not None or contract is None or contract.ends_at is None:
        raise errors.SharingRefused(
            f"Impossible de partager cette vidéo : {refusal}.", contract_id=video.contract_id
        )
    return contract.ends_at


def status_of(link: LinkRow, now: datetime) -> LinkStatus:
    return link_status(revoked_at=link.revoked_at, expires_at=link.expires_at, now=now)


async def revoke_link(
    conn: asyncpg.Connection, ctx: VideoContext, link_id: uuid.UUID, actor: str
) -> LinkRow:
    link = await repo.get_link(conn, link_id)
    if link is None:
        raise errors.LinkNotFound(f"lien {link_id} introuvable")
    revoked = await repo.revoke_link(conn, link_id, f"revoked_by:{actor}", clock.now())
    if revoked is None:
        return link  # already revoked: idempotent
    await enqueue(conn, _revoked_event(revoked))
    return revoked


# A link's whole life is two events (revoking is idempotent and final): its versions (DESIGN §3).
LINK_CREATED_VERSION = 1
LINK_REVOKED_VERSION = 2


def _revoked_event(link: LinkRow) -> VideoLinkRevoked:
    return VideoLinkRevoked(
        link_id=link.id,
        version=LINK_REVOKED_VERSION,
        video_id=link.video_id,
        client_id=link.client_id,
        contract_id=link.contract_id,
        reason=link.revoked_reason or "revoked",
    )


# --- contract.* (V3) ---------------------------------------------------------------------------


def _projection(stored: ContractState | None) -> ContractProjection | None:
    if stored is None:
        return None
    return ContractProjection.from_stored(
        stored.contract_id,
        stored.client_id,
        stored.version,
        stored.status,
        activated=stored.ends_at is not None,
        ends_at=stored.ends_at,
        ended_at=stored.ended_at,
        year=stored.year,
    )


def _kept(p: ContractProjection) -> ContractState:
    """What video-svc stores of the projection (a cancelled contract shares nothing: ended)."""
    return ContractState(
        contract_id=p.contract_id,
        client_id=p.client_id,
        version=p.version,
        status="active" if p.status == "active" else "ended",
        ends_at=p.ends_at,
        ended_at=p.ended_at,
        year=p.year,
    )


async def apply_contract_event(
    conn: asyncpg.Connection, event: ContractActivated | ContractAmended
) -> None:
    """Keep the contract's state (its engagement's end bounds the links, V3)."""
    await repo.lock_contract(conn, event.contract_id)
    projected = project(_projection(await repo.get_contract(conn, event.contract_id)), event)
    if projected is not None:
        await repo.save_contract(conn, _kept(projected))


async def contracts_ended(conn: asyncpg.Connection, events: Sequence[ContractEnded]) -> None:
    """V3: ``contract.ended`` kills every link of the contract, in its transaction.

    Set-based (P2: 10,000 at year-end come in batches of a hundred): the contracts are locked,
    projected and saved together and their links revoked, announced and audited in one
    statement each. A contract's first end in the batch revokes its links; a replay finds
    none left.
    """
    ids = sorted({e.contract_id for e in events})
    await repo.lock_contracts(conn, ids)
    states = {cid: _projection(s) for cid, s in (await repo.get_contracts(conn, ids)).items()}
    changed: dict[uuid.UUID, ContractProjection] = {}
    for e in sorted(events, key=lambda ev: ev.version):
        projected = project(states.get(e.contract_id), e)
        if projected is not None:
            states[e.contract_id] = changed[e.contract_id] = projected
    await repo.save_contracts(conn, [_kept(p) for p in changed.values()])
    first: dict[uuid.UUID, ContractEnded] = {}
    for e in events:
        first.setdefault(e.contract_id, e)
    revoked = await repo.revoke_links_of_contracts(
        conn, {cid: f"contract_ended:{e.reason}" for cid, e in first.items()}, clock.now()
    )
    await enqueue_many(conn, [_revoked_event(link) for link in revoked])
    # O3: one row per link killed, by the event that killed it, in one statement
    await audit.record_many(
        conn,
        [
            audit.row(
                audit.Actor.event(first[link.contract_id]),
                "video.link_revoked",
                target_type="link",
                target_id=link.id,
                client_id=link.client_id,
                reason=link.revoked_reason,
                detail={"video_id": link.video_id, "contract_id": link.contract_id},
            )
            for link in revoked
        ],
    )


async def year_end_effects(conn: asyncpg.Connection, year: int) -> YearEndEffects:
    """V3 at the year-end (issue 12): the links of the year's ended contracts, revoked by
    that end, and any still live (none once the contract.ended is committed: the revocation
    rides in its transaction)."""
    row = await repo.year_end_effects(conn, year)
    return YearEndEffects(year=year, unit="links", failed=0, **dict(row))
