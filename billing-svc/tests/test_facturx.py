"""B3, B7: every kind of document is a Factur-X that the XSD and the official EN 16931 CII
schematron accept, a PDF/A-3b by structure, and says what the API says, line by line.

The amounts come from ../shared/vectors/billing.csv, read here: every row is issued through
the bus and read back through the API and its PDF.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import facturx
import httpx
import pypdf
from lxml import etree
from prisme_billing.app import build_app
from prisme_billing.domain import round_half_up
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import publish_event, start_service

from .conftest import Schematron, client_snapshot, pdfa_structure

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SUM = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
RATE = Decimal("0.085")


def _one(tree: Any, path: str) -> str:
    (value,) = tree.xpath(path, namespaces=NS)
    return str(value.text)


def _fr(day: str) -> str:
    return date.fromisoformat(day).strftime("%d/%m/%Y")


def _euros(amount: str) -> str:
    whole, cents = amount.split(".")
    return f"{int(whole):,}".replace(",", " ") + f",{cents} €"


async def check_document(
    api: httpx.AsyncClient,
    doc: dict[str, Any],
    schematron: Schematron,
    settings: BillingSettings,
) -> tuple[bytes, str]:
    """Fetch the document's Factur-X and check it whole; returns (XML, page text)."""
    kind = "credit-notes" if "invoice_id" in doc else "invoices"
    r = await api.get(f"/v1/{kind}/{doc['id']}/pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    pdf = r.content
    pdfa_structure(pdf)
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises when invalid
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    assert schematron.fatal(xml) == []
    tree = etree.fromstring(xml)

    assert _one(tree, "//rsm:ExchangedDocument/ram:ID") == doc["number"]
    type_code = "381" if kind == "credit-notes" else "380"
    assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == type_code
    assert _one(tree, SUM + "TaxBasisTotalAmount") == doc["total_ht"]
    assert _one(tree, SUM + "TaxTotalAmount") == doc["total_vat"]
    assert _one(tree, SUM + "GrandTotalAmount") == doc["total_ttc"]
    assert _one(tree, SUM + "DuePayableAmount") == doc["total_ttc"]
    # BR-CO-25: payment terms and a due date on every document.
    assert _one(tree, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString")
    assert _one(tree, "//ram:SpecifiedTradePaymentTerms/ram:Description")
    assert doc["due_date"] is not None
    seller_id = _one(tree, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID")
    assert seller_id == settings.seller_siren

    items = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(items) == len(doc["lines"])
    for item, line in zip(items, doc["lines"], strict=True):
        # The same quantity, unit price and total in the XML as in the API.
        assert Decimal(_one(item, ".//ram:BilledQuantity")) == Decimal(line["quantity"])
        assert _one(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == line["unit_ht"]
        assert _one(item, ".//ram:LineTotalAmount") == line["total_ht"]
        assert Decimal(line["total_ttc"]) == round_half_up(
            Decimal(line["quantity"]) * Decimal(line["unit_ttc"])
        )
        if line["prorata"]:
            note = _one(item, ".//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content")
            assert line["prorata"] in note

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    text = text.replace("\xa0", " ").replace("\u202f", " ")
    for mention in [
        f"{'Avoir' if kind == 'credit-notes' else 'Facture'} n° {doc['number']}",
        settings.seller_trade_name,
        settings.seller_legal_name,
        f"SIREN {settings.seller_siren}",
        settings.seller_vat_id,
        settings.seller_city,
        f"SIREN {client_snapshot().siren}",
        f"Date d'émission : {_fr(doc['issue_date'])}",
        f"Date d'échéance : {_fr(doc['due_date'])}",
        "Conditions de paiement",
        "Total HT",
        "Total TTC",
        "TVA au taux de 8,5 %",
        "Pénalités de retard : " + settings.late_penalty(),
        "Indemnité forfaitaire pour frais de recouvrement : 40,00 €",
        _euros(doc["total_ttc"]),
        _euros(doc["total_ht"]),
        _euros(doc["total_vat"]),
    ]:
        assert mention in text, mention
    for line in doc["lines"]:
        assert _euros(line["unit_ht"]) in text
        assert _euros(line["unit_ttc"]) in text
        if line["prorata"]:
            assert line["prorata"].split(", du")[0] in text  # "292 jours sur 365"
    # The finalised file never changes.
    assert (await api.get(f"/v1/{kind}/{doc['id']}/pdf")).content == pdf
    return xml, text


async def _list(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.get(path, params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body["items"] if isinstance(body, dict) else body)  # a page, or a short list


async def test_every_vector_row_through_the_api_and_its_factur_x(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    amended: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
    vectors: list[dict[str, str]],
    schematron: Schematron,
) -> None:
    s = billing_settings
    seen_cent_rows = 0
    async with start_service(build_app(s), headers=auth_headers) as api:
        for row in vectors:
            on = date.fromisoformat(row["date"])
            postes, before = int(row["postes"]), int(row["postes_before"])
            if row["kind"] == "invoice":
                act = activated(postes=postes, start=on)
                await publish_event(s.nats_url, act)
                (doc,) = await wait_for(
                    lambda a=act: _list(api, "/v1/invoices", contract_id=a.contract_id)
                )
            elif row["kind"] == "additional_invoice":
                act = activated(postes=before, start=date(on.year, 1, 1))
                await publish_event(s.nats_url, act)
                await publish_event(s.nats_url, amended(act, before, postes, on, version=3))

                async def two(a: Any = act) -> list[dict[str, Any]]:
                    docs = await _list(api, "/v1/invoices", contract_id=a.contract_id)
                    return docs if len(docs) == 2 else []

                doc = (await wait_for(two))[1]
            else:
                act = activated(postes=postes, start=date(on.year, 1, 1))
                await publish_event(s.nats_url, act)
                await publish_event(s.nats_url, ended(act, on, version=3))

                async def ended_seen(a: Any = act) -> bool:
                    r = await api.get(f"/v1/contracts/{a.contract_id}/billing")
                    return r.status_code == 200 and r.json()["contract_status"] == "ended"

                await wait_for(ended_seen)
                notes = await _list(api, "/v1/credit-notes", contract_id=act.contract_id)
                if Decimal(row["amount_ttc"]) == 0:
                    assert notes == [], row["case"]  # B5: nothing unused, nothing issued
                    continue
                (doc,) = notes  # issued in the same transaction as the end
            assert (doc["total_ttc"], doc["total_ht"], doc["total_vat"]) == (
                row["amount_ttc"],
                row["amount_ht"],
                row["amount_vat"],
            ), row["case"]
            (line,) = doc["lines"]
            assert line["yearly_ttc"] == row["yearly_ttc"], row["case"]
            assert line["prorata"].startswith(
                f"{row['days']} jours sur {row['days_in_year']}, du "
            ), row["case"]
            assert (line["quantity"], line["unit_ttc"]) == ("1", row["amount_ttc"])
            await check_document(api, doc, schematron, s)
            if round_half_up(Decimal(row["amount_ht"]) * RATE) != Decimal(row["amount_vat"]):
                seen_cent_rows += 1  # B3: VAT = TTC − HT, a cent off HT × 8.5 %, still valid
    assert seen_cent_rows >= 1


async def test_the_schematron_catches_a_vat_total_off_by_one_cent(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
    schematron: Schematron,
) -> None:
    s = billing_settings
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=8, start=date(2026, 3, 15))
        await publish_event(s.nats_url, act)
        (inv,) = await wait_for(lambda: _list(api, "/v1/invoices", contract_id=act.contract_id))
        xml, text = await check_document(api, inv, schematron, s)
        assert "292 jours sur 365, du 15/03/2026 au 31/12/2026" in text.replace("\n", " ")
        tree = etree.fromstring(xml)
        (vat,) = tree.xpath(SUM + "TaxTotalAmount", namespaces=NS)
        vat.text = f"{Decimal(vat.text) + Decimal('0.01'):.2f}"
        broken = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
        facturx.xml_check_xsd(broken, flavor="factur-x", level="en16931")  # the XSD can't tell
        failed = {rule for rule, _flag, _text in schematron.fatal(broken)}
        assert {"BR-CO-14", "BR-CO-15"} <= failed
