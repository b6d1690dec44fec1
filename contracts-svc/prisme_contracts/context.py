"""What contracts-svc's use cases need besides a connection, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from prisme_chassis.app import Runtime, runtime_dependency
from prisme_chassis.sealing import Keyring

from .price_check import PriceCheck
from .settings import ContractsSettings


@dataclass(frozen=True)
class ContractsContext:
    documents: Keyring  # seals cessation documents (sealed_documents)
    #: B1: billing's pre-activation price check (None: not configured, development only).
    price_check: PriceCheck | None = None


ContractsRuntime = Runtime[ContractsSettings, ContractsContext]
contracts_runtime = runtime_dependency(ContractsSettings, ContractsContext)
#: What contracts-svc's routes declare to receive the typed runtime.
ContractsRuntimeDep = Annotated[ContractsRuntime, Depends(contracts_runtime)]
