"""Use cases of recordings (V1): upload, probe, comments, poster, retention. No SQL, no HTTP."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import asyncpg
from prisme_chassis import audit, clock

from . import repository as repo
from .context import VideoContext
from .crypto import new_data_key, unwrap_key, wrap_key
from .errors import (
    CommentBeyondEnd,
    ContractOfAnotherClient,
    MalformedUpload,
    NotAVideo,
    VideoNotFound,
)
from .probe import NotAVideoError, ProbeResult, probe
from .repository import DB, VideoRow
from .sealed_objects import DecryptingFile, SealedRef, SealedWriter, put_object, read_object

log = logging.getLogger(__name__)


def video_object(video_id: uuid.UUID) -> str:
    return f"{video_id}/video"


def poster_object(video_id: uuid.UUID) -> str:
    return f"{video_id}/poster"


class RecordingUpload:
    """One upload in progress: bytes are encrypted to the store as they arrive."""

    def __init__(self, ctx: VideoContext) -> None:
        self.ctx = ctx
        self.video_id = uuid.uuid4()
        self.data_key = new_data_key()
        self._writer: SealedWriter | None = None

    async def write(self, data: bytes) -> None:
        if self._writer is None:
            self._writer = await asyncio.to_thread(
                SealedWriter,
                self.ctx.store,
                video_object(self.video_id),
                self.data_key,
                self.ctx.settings.chunk_size,
            )
        await asyncio.to_thread(self._writer.write, data)

    async def discard(self) -> None:
        """Forget everything written so far (bad form, refused file, failed insert)."""
        if self._writer is not None:
            await asyncio.to_thread(self._writer.abort)
        await asyncio.to_thread(self.ctx.store.delete, video_object(self.video_id))
        await asyncio.to_thread(self.ctx.store.delete, poster_object(self.video_id))

    async def seal(self) -> ProbedRecording:
        """Finish the object, check that it is a video and store its encrypted poster."""
        if self._writer is None or self._writer.size == 0:
            raise MalformedUpload("le champ « file » est vide")
        ref = await asyncio.to_thread(self._writer.commit)
        try:
            facts = await asyncio.to_thread(self._probe, ref)
        except NotAVideoError as exc:
            raise NotAVideo(f"Ce fichier n'est pas une vidéo : {exc.reason}.") from exc
        poster = await asyncio.to_thread(
            put_object,
            self.ctx.store,
            poster_object(self.video_id),
            self.data_key,
            facts.poster_jpeg,
        )
        return ProbedRecording(self.video_id, ref, poster, facts, self.data_key)

    def _probe(self, ref: SealedRef) -> ProbeResult:
        with DecryptingFile(self.ctx.store, ref, self.data_key) as file:
            return probe(file)  # type: ignore[arg-type]  # a RawIOBase is a binary file


@dataclass(frozen=True)
class ProbedRecording:
    video_id: uuid.UUID
    video: SealedRef
    poster: SealedRef
    facts: ProbeResult
    data_key: bytes


@dataclass(frozen=True)
class UploadForm:
    client_id: uuid.UUID
    contract_id: uuid.UUID
    title: str


def parse_upload_form(fields: dict[str, str], has_file: bool) -> UploadForm:
    """Validate the text fields of ``POST /v1/videos``; a 422 lists every problem at once."""
    errors: list[dict[str, str]] = []
    ids: dict[str, uuid.UUID] = {}
    for name in ("client_id", "contract_id"):
        try:
            ids[name] = uuid.UUID(fields.get(name, "").strip())
        except ValueError:
            errors.append({"field": name, "detail": "UUID attendu"})
    title = fields.get("title", "").strip()
    if not title or len(title) > 200:
        errors.append({"field": "title", "detail": "titre obligatoire, 200 caractères au plus"})
    if not has_file:
        errors.append({"field": "file", "detail": "fichier vidéo manquant"})
    if errors:
        raise MalformedUpload("formulaire d'envoi invalide", errors=errors)
    return UploadForm(ids["client_id"], ids["contract_id"], title)


async def record_video(
    conn: DB,
    ctx: VideoContext,
    form: UploadForm,
    recording: ProbedRecording,
    actor: str,
) -> VideoRow:
    contract = await repo.get_contract(conn, form.contract_id)
    if contract is not None and contract.client_id != form.client_id:
        raise ContractOfAnotherClient("le contrat n'appartient pas à ce client")
    facts = recording.facts
    video = VideoRow(
        id=recording.video_id,
        client_id=form.client_id,
        contract_id=form.contract_id,
        title=form.title,
        uploaded_by=actor,
        uploaded_at=clock.now(),
        container=facts.container,
        video_codec=facts.video_codec,
        width=facts.width,
        height=facts.height,
        duration_seconds=Decimal(str(facts.duration_seconds)),
        size_bytes=recording.video.size,
        chunk_size=recording.video.chunk_size,
        object_name=recording.video.name,
        nonce_prefix=recording.video.nonce_prefix,
        poster_object=recording.poster.name,
        poster_size=recording.poster.size,
        poster_nonce_prefix=recording.poster.nonce_prefix,
        wrapped_key=wrap_key(ctx.keyring, recording.data_key, str(recording.video_id)),
        deleted_at=None,
    )
    await repo.insert_video(conn, video)
    return video


async def live_video(conn: DB, video_id: uuid.UUID) -> VideoRow:
    video = await repo.get_video(conn, video_id)
    if video is None or video.deleted_at is not None:
        raise VideoNotFound(f"vidéo {video_id} introuvable")
    return video


def data_key(ctx: VideoContext, video: VideoRow) -> bytes:
    return unwrap_key(ctx.keyring, video.wrapped_key, str(video.id))


async def poster(ctx: VideoContext, video: VideoRow) -> bytes:
    return await asyncio.to_thread(read_object, ctx.store, video.poster_ref, data_key(ctx, video))


async def add_comment(
    conn: DB, video_id: uuid.UUID, at_seconds: Decimal, text: str, actor: str
) -> asyncpg.Record:
    video = await live_video(conn, video_id)
    if at_seconds > video.duration_seconds:
        raise CommentBeyondEnd(
            f"le commentaire est à {at_seconds} s, la vidéo dure {video.duration_seconds} s"
        )
    return await repo.insert_comment(conn, uuid.uuid4(), video_id, at_seconds, text, actor)


async def purge_expired(conn: asyncpg.Connection, ctx: VideoContext) -> list[uuid.UUID]:
    """V1: delete the recordings of contracts ended more than ``retention_days`` ago.

    Objects go first, then the row is marked; a crash in between only repeats an idempotent
    delete on the next run.
    """
    now = clock.now()
    purged: list[uuid.UUID] = []
    for video in await repo.videos_due_for_purge(conn, ctx.settings.retention_days, now):
        await asyncio.to_thread(ctx.store.delete, video.object_name)
        await asyncio.to_thread(ctx.store.delete, video.poster_object)
        await repo.mark_video_deleted(conn, video.id, now)
        await audit.record(
            conn,
            audit.Actor.system("video-retention"),
            "video.purged",
            target_type="video",
            target_id=video.id,
            client_id=video.client_id,
            detail={
                "contract_id": video.contract_id,
                "retention_days": ctx.settings.retention_days,
            },
        )
        purged.append(video.id)
    return purged


def _video_id_of(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name.split("/", 1)[0])
    except ValueError:
        return None


async def sweep_orphans(conn: DB, ctx: VideoContext) -> int:
    """Delete objects no video row points to (an upload killed between storing and recording).

    Only objects older than the grace period: a younger one may be an upload in progress.
    """
    cutoff = clock.now() - timedelta(hours=ctx.settings.orphan_grace_hours)
    stale: dict[uuid.UUID, list[str]] = {}
    for name, modified in await asyncio.to_thread(lambda: list(ctx.store.list())):
        video_id = _video_id_of(name)
        if video_id is not None and modified < cutoff:
            stale.setdefault(video_id, []).append(name)
    if not stale:
        return 0
    known = await repo.known_video_ids(conn, list(stale))
    deleted = 0
    for video_id, names in stale.items():
        if video_id in known:
            continue
        for name in names:
            await asyncio.to_thread(ctx.store.delete, name)
            deleted += 1
    return deleted
