"""Fixture of the end-to-end tests: the whole platform in this test's event loop (see
e2e_platform.py)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prisme_backup.app import build_app as build_backup
from prisme_backup.settings import BackupSettings
from prisme_billing.app import build_app as build_billing
from prisme_billing.settings import BillingSettings
from prisme_chassis.clock import CLOCK, REUNION
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_graph_sandbox import Directory
from prisme_graph_sandbox import create_app as create_graph
from prisme_licence.app import build_app as build_licence
from prisme_licence.settings import LicenceSettings
from prisme_localinfra import free_port
from prisme_stripe_sandbox import SandboxServer
from prisme_testing.runner import start_service
from prisme_video.app import build_app as build_video
from prisme_video.settings import VideoSettings
from pydantic import SecretStr

# The helpers module sits next to this file; importlib import mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from e2e_platform import TENANT, Platform, _healthy, eventually, ok


@pytest.fixture
def licence_overrides() -> dict[str, Any]:
    """Settings of licence-svc a test module changes (override this fixture), e.g. fewer
    Graph attempts before a job is dead."""
    return {}


@pytest.fixture
async def platform(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
    tmp_path: Path,
    licence_overrides: dict[str, Any],
) -> AsyncIterator[Platform]:
    def base(name: str) -> dict[str, Any]:
        data_dir = tmp_path / name
        data_dir.mkdir()
        return {**base_settings, "data_dir": data_dir}

    alice = {"Authorization": f"Bearer {make_token(sub='op-alice')}"}
    bob = {"Authorization": f"Bearer {make_token(sub='op-bob')}"}

    # Microsoft Graph sandbox, served in this event loop.
    graph_port = free_port()
    graph_server = uvicorn.Server(
        uvicorn.Config(
            create_graph(Directory({"O365_BUSINESS": 50})),
            host="127.0.0.1",
            port=graph_port,
            log_config=None,
            timeout_graceful_shutdown=2,
        )
    )
    graph_server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    graph_task = asyncio.create_task(graph_server.serve())
    graph_url = f"http://127.0.0.1:{graph_port}"

    # The platform clock in mid-June of this year, so March starts and "today" cessations hold.
    clock = CLOCK
    clock.travel_to(datetime(clock.today().year, 6, 15, 10, 0, tzinfo=REUNION))
    contracts_app = build_contracts(
        ContractsSettings(
            **base("contracts"),
            database_url=await new_database(),
            year_end_check_seconds=3600,  # the year-end is run by POST /v1/year-end here
            cessation_check_seconds=0.2,
        ),
    )
    licence_app = build_licence(
        LicenceSettings(
            **base("licence"),
            database_url=await new_database(),
            graph_base_url=f"{graph_url}/v1.0",
            graph_token_url=graph_url + "/{tenant}/oauth2/v2.0/token",
            default_tenant=TENANT,
            default_domain="prisme.re",
            credential_purge_seconds=0.5,
            **{"backoff_base_seconds": 0.2, "backoff_cap_seconds": 2.0, **licence_overrides},
        )
    )
    video_app = build_video(
        VideoSettings(
            **base("video"),
            database_url=await new_database(),
            chunk_size=64 * 1024,
            throttle_base_delay_seconds=0,
            argon2_time_cost=1,
            argon2_memory_kib=8 * 1024,
            retention_interval_seconds=3600,
        )
    )
    backup_app = build_backup(
        BackupSettings(**base("backup"), database_url=await new_database(), watch_interval=0.5)
    )

    try:
        async with contextlib.AsyncExitStack() as stack:
            sandbox = stack.enter_context(SandboxServer(retry_delays=(0.2, 0.5, 1.0)))
            billing_settings = BillingSettings(
                **base("billing"),
                database_url=await new_database(),
                stripe_enabled=True,
                stripe_api_base=sandbox.url,
                stripe_webhook_secret=SecretStr("whsec_" + secrets.token_hex(16)),
                stripe_job_backoff_base_s=0.2,
                stripe_job_backoff_cap_s=2.0,
                reconcile_every_s=3600.0,
            )
            graph = await stack.enter_async_context(httpx.AsyncClient(base_url=graph_url))
            await eventually(lambda: _healthy(graph), "the Graph sandbox", 10)
            contracts = await stack.enter_async_context(start_service(contracts_app, headers=alice))
            licence = await stack.enter_async_context(start_service(licence_app, headers=alice))
            video = await stack.enter_async_context(start_service(video_app, headers=alice))
            billing = await stack.enter_async_context(
                start_service(build_billing(billing_settings), headers=alice)
            )
            backup = await stack.enter_async_context(start_service(backup_app, headers=alice))
            stripe_http = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=sandbox.url,
                    headers={"Authorization": "Bearer sk_test_e2e"},
                    timeout=10,
                )
            )
            ok(
                await stripe_http.put(
                    "/_sandbox/webhook",
                    json={
                        "url": f"{str(billing.base_url).rstrip('/')}/v1/webhooks/stripe",
                        "secret": billing_settings.webhook_secret(),
                    },
                )
            )
            yield Platform(
                contracts=contracts,
                bob=bob,
                licence=licence,
                video=video,
                billing=billing,
                backup=backup,
                graph=graph,
                stripe=stripe_http,
                clock=clock,
                nats_url=base_settings["nats_url"],
            )
    finally:
        graph_server.should_exit = True
        try:
            # shield: a slow graceful stop (a kept-alive client, a loaded machine) must not
            # cancel the server mid-shutdown; it is then told to exit at once
            await asyncio.wait_for(asyncio.shield(graph_task), 10)
        except TimeoutError:
            graph_server.force_exit = True
            await asyncio.wait_for(graph_task, 20)
