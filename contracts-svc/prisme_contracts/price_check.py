"""B1: before a contract is activated, billing-svc says whether its offer, at the contract's
maintenance level, has a price (billing's price book is keyed by offer and level).

An offer with no price in billing's price book cannot be invoiced, so its activation is
refused with a problem naming the missing price, and nothing is published. The answer comes
synchronously from billing's ``GET /v1/price-book/check`` (billing-svc/README.md says why
this is a call and not an event): billing owns the price book, and a copy kept here would
let an activation through in the window before a price change arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .errors import BillingUnavailable, OfferUnpriced


@dataclass(frozen=True)
class PriceCheck:
    """billing-svc's pre-activation check, called with contracts' own bearer token."""

    base_url: str
    token: str
    timeout_s: float = 5.0

    async def ensure_priced(self, offer: str, level: str) -> None:
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s) as http:
                r = await http.get(
                    "/v1/price-book/check",
                    params={"offer": offer, "level": level},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
        except httpx.HTTPError as exc:
            raise BillingUnavailable(
                f"billing-svc did not answer the price check ({type(exc).__name__}); "
                "nothing was activated, try again"
            ) from exc
        if r.status_code != 200:
            raise BillingUnavailable(
                f"billing-svc answered {r.status_code} to the price check; nothing was activated"
            )
        answer = r.json()
        if not answer.get("priced"):
            raise OfferUnpriced(
                f"l'offre « {offer} » au niveau « {level} » n'a pas de prix dans la grille "
                f"tarifaire de la facturation (version {answer.get('price_book_version')}) : "
                "fixez ce prix avant d'activer",
                offer=offer,
                level=level,
                missing_price=answer.get("missing_price"),
                price_book_version=answer.get("price_book_version"),
            )
