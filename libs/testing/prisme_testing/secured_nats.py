"""A real nats-server with the platform's least-privilege users (prisme_localinfra.nats_auth).

``SecuredNats.url(user)`` is a URL with that user's credentials: a service's own user
(``"billing-svc"``…), ``"provisioner"`` or ``"admin"``. The ``secured_nats`` fixture of the
plugin starts one per test.
"""

from __future__ import annotations

from pathlib import Path

from prisme_localinfra import NatsServer
from prisme_localinfra.nats_auth import (
    generate_passwords,
    platform_users,
    render_config,
    url_with_credentials,
)


class SecuredNats:
    def __init__(self, root: Path) -> None:
        self.passwords = generate_passwords(platform_users())
        config = root / "nats-auth.conf"
        config.write_text(render_config(self.passwords))
        self.server = NatsServer(root / "nats-secured", config_file=config)

    def url(self, user: str) -> str:
        return url_with_credentials(self.server.url, user, self.passwords[user])

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
