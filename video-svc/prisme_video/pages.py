"""The viewer's HTML, in French (V3): a password page and a page with an HTML5 player."""

from __future__ import annotations

import math
from html import escape

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}
main{max-width:960px;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.1)}
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:1rem 0 .3rem}
input[type=password]{font-size:1.1rem;padding:.5rem;width:100%;max-width:22rem}
button{margin-top:1rem;font-size:1rem;padding:.5rem 1.2rem}
.erreur{color:#a4161a;font-weight:600}video{width:100%;background:#000;margin-top:1rem}
small{color:#55606e}
"""

# Never leak the token through a Referer, never cache, never frame, no third-party content.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; img-src 'self';"
    " style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def password_page(message: str | None = None) -> str:
    error = f'<p class="erreur" role="alert">{escape(message)}</p>' if message else ""
    return _page(
        "Enregistrement d'intervention",
        "<h1>Enregistrement d'intervention</h1>"
        "<p>Cette vidéo est protégée. Saisissez le mot de passe qui vous a été transmis "
        "avec le lien.</p>"
        f"{error}"
        '<form method="post" autocomplete="off">'
        '<label for="password">Mot de passe</label>'
        '<input id="password" name="password" type="password" required autofocus>'
        '<br><button type="submit">Voir la vidéo</button></form>',
    )


def player_page(title: str, duration_seconds: float, stream_url: str, poster_url: str) -> str:
    minutes, seconds = divmod(round(duration_seconds), 60)
    return _page(
        title,
        f"<h1>{escape(title)}</h1>"
        f"<p><small>Durée : {minutes} min {seconds:02d} s. Cette vidéo peut contenir des données "
        "de santé : ne la partagez pas.</small></p>"
        f'<video controls preload="metadata" src="{escape(stream_url)}" '
        f'poster="{escape(poster_url)}">'
        "Votre navigateur ne sait pas lire cette vidéo.</video>",
    )


def gone_page() -> str:
    return _page(
        "Lien expiré",
        "<h1>Ce lien n'est plus valable</h1>"
        "<p>Le lien a expiré ou a été révoqué (fin du contrat). Contactez votre prestataire "
        "si vous avez encore besoin de cet enregistrement.</p>",
    )


def not_found_page() -> str:
    return _page("Lien inconnu", "<h1>Lien inconnu</h1><p>Vérifiez l'adresse reçue.</p>")


def throttled_page(seconds: int) -> str:
    wait = f"{math.ceil(seconds / 60)} minute(s)" if seconds >= 120 else f"{seconds} seconde(s)"
    return password_page(f"Trop d'essais infructueux. Patientez {wait} avant de réessayer.")
