"""All SQL of licence-svc, one module per aggregate, re-exported here (callers write
``repo.get_account``). Functions take the caller's connection."""

from .accounts import (
    account_by_user,
    account_counts,
    accounts_by_ids,
    accounts_of_contract,
    attach_account,
    get_account,
    insert_account,
    list_accounts,
    list_alerts,
    live_accounts_of_contracts,
    mark_revoked,
    move_accounts,
    set_account_state,
    update_accounts,
    upns_like,
)
from .contracts import (
    get_contract,
    locked_contract,
    locked_contracts,
    record_removal,
    removed_after,
    save_contract,
    save_contracts,
)
from .credentials import (
    credentials_of,
    destroy_credential,
    get_credential,
    insert_credentials,
    purge_expired_credentials,
    start_credential_clocks,
    take_credential,
)
from .db import Conn
from .tenants import get_tenant, list_tenants, upsert_tenant
from .year_end import year_end_effects

__all__ = [
    "Conn",
    "account_by_user",
    "account_counts",
    "accounts_by_ids",
    "accounts_of_contract",
    "attach_account",
    "credentials_of",
    "destroy_credential",
    "get_account",
    "get_contract",
    "get_credential",
    "get_tenant",
    "insert_account",
    "insert_credentials",
    "list_accounts",
    "list_alerts",
    "list_tenants",
    "live_accounts_of_contracts",
    "locked_contract",
    "locked_contracts",
    "mark_revoked",
    "move_accounts",
    "purge_expired_credentials",
    "record_removal",
    "removed_after",
    "save_contract",
    "save_contracts",
    "set_account_state",
    "start_credential_clocks",
    "take_credential",
    "update_accounts",
    "upns_like",
    "upsert_tenant",
    "year_end_effects",
]
