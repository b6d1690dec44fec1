"""video-svc's catalogue of domain errors: one class per rule, a stable problem ``type``."""

from __future__ import annotations

from prisme_chassis.errors import (
    Conflict,
    DomainError,
    Gone,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)


class VideoNotFound(NotFound):
    code = "video-not-found"
    title = "Vidéo introuvable"


class LinkNotFound(NotFound):
    code = "link-not-found"
    title = "Lien inconnu"


class LinkGone(Gone):
    """V2: a link past its expiry, or revoked, shows nothing any more."""

    code = "link-gone"
    title = "Ce lien a expiré ou a été révoqué"


class SharingRefused(Conflict):
    """V2/V3: no link for a video whose contract is over or belongs to another client."""

    code = "sharing-refused"
    title = "Impossible de partager cette vidéo"


class MalformedUpload(Unprocessable):
    code = "malformed-upload"
    title = "Formulaire d'envoi invalide"


class ContractOfAnotherClient(Unprocessable):
    code = "contract-of-another-client"
    title = "Le contrat n'appartient pas à ce client"


class CommentBeyondEnd(Unprocessable):
    code = "comment-beyond-end"
    title = "Le commentaire est placé après la fin de la vidéo"


class UploadTooLarge(PayloadTooLarge):
    code = "upload-too-large"
    title = "Fichier trop volumineux"


class NotAVideo(UnsupportedMediaType):
    code = "not-a-video"
    title = "Ce fichier n'est pas une vidéo"


class SessionRequired(DomainError):
    """V2: the link's password opens a session first."""

    status = 401
    code = "viewer-session-required"
    title = "Mot de passe requis"


class RangeNotSatisfiable(DomainError):
    status = 416
    code = "range-not-satisfiable"
    title = "Plage d'octets hors de la vidéo"

    def __init__(self, size: int) -> None:
        super().__init__(f"la vidéo fait {size} octets")
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


CATALOGUE: tuple[type[DomainError], ...] = (
    VideoNotFound,
    LinkNotFound,
    LinkGone,
    SharingRefused,
    MalformedUpload,
    ContractOfAnotherClient,
    CommentBeyondEnd,
    UploadTooLarge,
    NotAVideo,
    SessionRequired,
    RangeNotSatisfiable,
)
