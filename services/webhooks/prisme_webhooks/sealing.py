"""The keyring that seals the endpoints' signing secrets (chassis sealing, DESIGN.md §7).

The service must sign with a secret, so it is sealed (AES-256-GCM envelope naming its key,
the endpoint id as context), never stored in clear and never hashed.
"""

from __future__ import annotations

from prisme_chassis.sealing import KEY_BYTES, Keyring, decode_key, decode_keys
from prisme_chassis.settings import secret_from_data_dir

from .settings import WebhooksSettings


def load_keyring(settings: WebhooksSettings) -> Keyring:
    if settings.master_key is not None:
        current = decode_key(settings.master_key.get_secret_value(), name="master_key")
    else:
        # development and test only (raises in production): generated once in data_dir
        current = secret_from_data_dir(settings, "webhooks-master", KEY_BYTES)
    previous = (
        decode_keys(settings.previous_master_keys.get_secret_value(), name="previous_master_keys")
        if settings.previous_master_keys is not None
        else []
    )
    return Keyring(current, previous)
