"""B7: every generated Factur-X passes the library's XML validation, its XML totals are the
document's, and the PDF text carries the French mandatory mentions."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import facturx
import pypdf
from lxml import etree
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import publish_event, start_service

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
SUM = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"


def _check(pdf: bytes, doc: dict[str, Any], settings: BillingSettings, type_code: str) -> str:
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises when invalid
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    tree = etree.fromstring(xml)

    def one(path: str) -> str:
        (value,) = tree.xpath(path, namespaces=NS)
        return str(value.text)

    assert one("//rsm:ExchangedDocument/ram:ID") == doc["number"]
    assert one("//rsm:ExchangedDocument/ram:TypeCode") == type_code
    assert one(SUM + "TaxBasisTotalAmount") == doc["total_ht"]
    assert one(SUM + "TaxTotalAmount") == doc["total_vat"]
    assert one(SUM + "GrandTotalAmount") == doc["total_ttc"]
    assert one(SUM + "DuePayableAmount") == doc["total_ttc"]
    assert (
        one(
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent"
        )
        == "8.50"
    )
    line_totals = tree.xpath(
        "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", namespaces=NS
    )
    assert [x.text for x in line_totals] == [ln["total_ht"] for ln in doc["lines"]]
    assert sum(Decimal(x.text) for x in line_totals) == Decimal(doc["total_ht"])
    seller_ids = tree.xpath(
        "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS
    )
    assert seller_ids[0].text == settings.seller_siren

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")
    assert "/EmbeddedFiles" in str(reader.trailer["/Root"]["/Names"])
    assert reader.trailer["/Root"].get("/Metadata") is not None  # XMP for PDF/A-3
    return text


def _euros(amount: str) -> str:
    whole, cents = amount.split(".")
    return f"{int(whole):,}".replace(",", " ") + f",{cents} €"


async def test_invoice_and_credit_note_factur_x(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    s = billing_settings
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=12, start=date(2026, 7, 1))
        await publish_event(s.nats_url, act)

        async def invoices() -> list[Any]:
            return list((await api.get("/v1/invoices")).json())

        (inv,) = await wait_for(invoices)
        r = await api.get(f"/v1/invoices/{inv['id']}/pdf")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        text = _check(r.content, inv, s, "380")
        for mention in [
            f"Facture n° {inv['number']}",
            s.seller_name,
            f"SIREN {s.seller_siren}",
            s.seller_vat_id,
            s.seller_city,
            act.client.name,
            f"SIREN {act.client.siren}",
            act.client.address.city,
            "Date d'émission",
            "Date d'échéance",
            "Total HT",
            "Total TTC",
            "TVA au taux de 8,5 %",
            "Pénalités de retard",
            "Indemnité forfaitaire pour frais de recouvrement : 40 €",
            _euros(inv["total_ttc"]),
            _euros(inv["total_ht"]),
            _euros(inv["total_vat"]),
            "Période du 01/07/2026 au 31/12/2026",
        ]:
            assert mention in text, mention
        # The finalised file never changes.
        assert (await api.get(f"/v1/invoices/{inv['id']}/pdf")).content == r.content

        await publish_event(s.nats_url, ended(act, date(2026, 9, 30), version=3))

        async def notes() -> list[Any]:
            return list((await api.get("/v1/credit-notes")).json())

        (cn,) = await wait_for(notes)
        r = await api.get(f"/v1/credit-notes/{cn['id']}/pdf")
        assert r.status_code == 200
        text = _check(r.content, cn, s, "381")
        assert f"Avoir n° {cn['number']}" in text
        assert f"Avoir sur la facture n° {inv['number']}" in text
        assert (await api.get(f"/v1/invoices/{cn['id']}/pdf")).status_code == 404
