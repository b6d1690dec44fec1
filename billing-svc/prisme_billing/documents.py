"""B7: French invoice / credit-note PDF (reportlab) as Factur-X EN 16931 (CII XML embedded).

Pure rendering: takes the finalised document's values, returns bytes. No database access.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import reportlab
from facturx import generate_from_binary, xml_check_xsd
from lxml import etree  # type: ignore[import-untyped]
from prisme_chassis.money import eur_fr, money_str
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .domain import VAT_RATE

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
EN16931 = "urn:cen.eu:en16931:2017"

RECOVERY_INDEMNITY = "40 €"


@dataclass(frozen=True, slots=True)
class Seller:
    name: str
    siren: str
    vat_id: str
    address: str
    postal_code: str
    city: str
    email: str
    legal_form: str
    late_penalty_rate: str


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    quantity: int
    period_start: date
    period_end: date
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal


@dataclass(frozen=True, slots=True)
class Document:
    kind: str  # invoice | credit_note
    number: str
    issue_date: date
    due_date: date | None
    buyer: dict[str, str]
    lines: list[Line]
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    invoice_number: str | None = None  # the credited invoice, for credit notes


# --- CII XML ---------------------------------------------------------------------------------


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", **attrs)
    if text is not None:
        node.text = text
    return node


def _date(parent: Any, tag: str, value: date) -> None:
    holder = _el(parent, tag)
    _el(holder, "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(
    parent: Any,
    tag: str,
    name: str,
    siren: str,
    line1: str,
    postcode: str,
    city: str,
    vat_id: str | None = None,
) -> None:
    party = _el(parent, tag)
    _el(party, "ram:Name", name)
    org = _el(party, "ram:SpecifiedLegalOrganization")
    _el(org, "ram:ID", siren, schemeID="0002")  # 0002 = SIREN (ISO 6523)
    addr = _el(party, "ram:PostalTradeAddress")
    _el(addr, "ram:PostcodeCode", postcode)
    _el(addr, "ram:LineOne", line1)
    _el(addr, "ram:CityName", city)
    # La Réunion is a French department: ISO country FR (EN 16931 uses FR for the DROM too).
    _el(addr, "ram:CountryID", "FR")
    if vat_id:
        reg = _el(party, "ram:SpecifiedTaxRegistration")
        _el(reg, "ram:ID", vat_id, schemeID="VA")


def _amount(value: Decimal) -> str:
    return money_str(value)


def cii_xml(doc: Document, seller: Seller) -> bytes:
    """The CII XML of ``doc`` at the EN 16931 (Factur-X "EN 16931") profile."""
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    ctx = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931)

    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", doc.number)
    _el(head, "ram:TypeCode", "380" if doc.kind == "invoice" else "381")
    _date(head, "ram:IssueDateTime", doc.issue_date)
    for subject, text in _notes(doc, seller):
        note = _el(head, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", subject)

    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for i, ln in enumerate(doc.lines, start=1):
        item = _el(trade, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(i))
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", ln.description)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        _el(
            _el(agreement, "ram:NetPriceProductTradePrice"),
            "ram:ChargeAmount",
            _amount(ln.total_ht),
        )
        _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", "1", unitCode="C62")
        settle = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settle, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", "S")
        _el(tax, "ram:RateApplicablePercent", f"{VAT_RATE:.2f}")
        period = _el(settle, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", ln.period_start)
        _date(period, "ram:EndDateTime", ln.period_end)
        summ = _el(settle, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summ, "ram:LineTotalAmount", _amount(ln.total_ht))

    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    _party(
        agreement,
        "ram:SellerTradeParty",
        seller.name,
        seller.siren,
        seller.address,
        seller.postal_code,
        seller.city,
        seller.vat_id,
    )
    b = doc.buyer
    _party(
        agreement,
        "ram:BuyerTradeParty",
        b["name"],
        b["siren"],
        b["line1"],
        b["postal_code"],
        b["city"],
    )
    _el(trade, "ram:ApplicableHeaderTradeDelivery")

    settlement = _el(trade, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", "EUR")
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:CalculatedAmount", _amount(doc.total_vat))
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:BasisAmount", _amount(doc.total_ht))
    _el(tax, "ram:CategoryCode", "S")
    _el(tax, "ram:RateApplicablePercent", f"{VAT_RATE:.2f}")
    if doc.due_date is not None:
        terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
        _el(terms, "ram:Description", "Paiement par carte ou prélèvement SEPA, ou virement")
        _date(terms, "ram:DueDateDateTime", doc.due_date)
    summ = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summ, "ram:LineTotalAmount", _amount(doc.total_ht))
    _el(summ, "ram:TaxBasisTotalAmount", _amount(doc.total_ht))
    _el(summ, "ram:TaxTotalAmount", _amount(doc.total_vat), currencyID="EUR")
    _el(summ, "ram:GrandTotalAmount", _amount(doc.total_ttc))
    _el(summ, "ram:DuePayableAmount", _amount(doc.total_ttc))
    if doc.invoice_number:
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.invoice_number)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _notes(doc: Document, seller: Seller) -> list[tuple[str, str]]:
    return [
        ("REG", f"{seller.name}, {seller.legal_form}, SIREN {seller.siren}"),
        (
            "PMT",
            f"Pénalités de retard : {seller.late_penalty_rate}. Indemnité forfaitaire pour frais "
            f"de recouvrement : {RECOVERY_INDEMNITY}. Pas d'escompte pour paiement anticipé.",
        ),
    ]


# --- PDF ------------------------------------------------------------------------------------

_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
_FONTS_READY = False


def _fonts() -> None:
    # PDF/A wants every font embedded: use a TrueType font shipped with reportlab.
    global _FONTS_READY
    if not _FONTS_READY:
        pdfmetrics.registerFont(TTFont("PrismeSans", str(_FONT_DIR / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont("PrismeSans-Bold", str(_FONT_DIR / "VeraBd.ttf")))
        _FONTS_READY = True


def _fr_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def render_pdf(doc: Document, seller: Seller) -> bytes:
    """The human-readable document, in French, with every mandatory mention (B7)."""
    _fonts()
    buf = io.BytesIO()
    title = "Facture" if doc.kind == "invoice" else "Avoir"
    c = canvas.Canvas(buf, pagesize=A4, invariant=True, pageCompression=1)
    c.setTitle(f"{title} {doc.number}")
    c.setAuthor(seller.name)
    c.setSubject(f"{title} {doc.number}")
    width, height = A4
    left, y = 18 * mm, height - 20 * mm

    def text(x: float, y_: float, value: str, size: float = 9, bold: bool = False) -> None:
        c.setFont("PrismeSans-Bold" if bold else "PrismeSans", size)
        c.drawString(x, y_, value)

    text(left, y, seller.name, 13, bold=True)
    for i, value in enumerate(
        [
            seller.address,
            f"{seller.postal_code} {seller.city}",
            f"{seller.legal_form} — SIREN {seller.siren}",
            f"N° TVA intracommunautaire : {seller.vat_id}",
            seller.email,
        ],
        start=1,
    ):
        text(left, y - i * 4.5 * mm, value)
    bx = width / 2 + 10 * mm
    b = doc.buyer
    text(bx, y, "Client", 10, bold=True)
    for i, value in enumerate(
        [
            b["name"],
            f"SIREN {b['siren']}",
            b["line1"],
            f"{b['postal_code']} {b['city']}",
            f"À l'attention de {b['manager_name']}",
        ],
        start=1,
    ):
        text(bx, y - i * 4.5 * mm, value)

    y -= 36 * mm
    text(left, y, f"{title} n° {doc.number}", 14, bold=True)
    y -= 6 * mm
    text(left, y, f"Date d'émission : {_fr_date(doc.issue_date)}")
    if doc.due_date is not None:
        text(left + 70 * mm, y, f"Date d'échéance : {_fr_date(doc.due_date)}")
    if doc.invoice_number:
        y -= 5 * mm
        text(left, y, f"Avoir sur la facture n° {doc.invoice_number}")

    y -= 10 * mm
    cols = [left, left + 95 * mm, left + 120 * mm, left + 143 * mm, left + 160 * mm]
    for x, head in zip(
        cols, ["Désignation", "Total HT", "TVA 8,5 %", "Total TTC", ""], strict=True
    ):
        text(x, y, head, 9, bold=True)
    c.line(left, y - 1.5 * mm, width - left, y - 1.5 * mm)
    for ln in doc.lines:
        y -= 6 * mm
        text(left, y, ln.description[:70], 8)
        text(cols[1], y, eur_fr(ln.total_ht), 8)
        text(cols[2], y, eur_fr(ln.total_vat), 8)
        text(cols[3], y, eur_fr(ln.total_ttc), 8)
        y -= 4 * mm
        text(
            left,
            y,
            f"Période du {_fr_date(ln.period_start)} au {_fr_date(ln.period_end)}"
            f" — quantité {ln.quantity}",
            7,
        )
    y -= 4 * mm
    c.line(left, y, width - left, y)
    for label, amount in [
        ("Total HT", doc.total_ht),
        (f"TVA au taux de {str(VAT_RATE).replace('.', ',')} %", doc.total_vat),
        ("Total TTC", doc.total_ttc),
    ]:
        y -= 6 * mm
        text(cols[1] - 25 * mm, y, label, 10, bold=label == "Total TTC")
        text(cols[3], y, eur_fr(amount), 10, bold=label == "Total TTC")

    y -= 14 * mm
    mentions = [
        "TVA : taux normal applicable dans les DROM (La Réunion), 8,5 %.",
        f"Pénalités de retard : {seller.late_penalty_rate}, exigibles dès le lendemain de l'échéance.",
        f"Indemnité forfaitaire pour frais de recouvrement : {RECOVERY_INDEMNITY} (art. L441-10 et "
        "D441-5 du Code de commerce).",
        "Pas d'escompte pour paiement anticipé.",
        "Paiement par carte bancaire ou prélèvement SEPA (lien envoyé par e-mail), virement ou chèque.",
    ]
    if doc.kind == "credit_note":
        mentions = [
            "Avoir émis pour cessation d'activité : remboursement des jours non utilisés.",
            "TVA : taux normal applicable dans les DROM (La Réunion), 8,5 %.",
        ]
    for value in mentions:
        text(left, y, value, 8)
        y -= 4.5 * mm
    c.showPage()
    c.save()
    return buf.getvalue()


def factur_x(doc: Document, seller: Seller) -> bytes:
    """The Factur-X PDF/A-3: the PDF with its CII XML embedded (XSD checked on the way)."""
    xml = cii_xml(doc, seller)
    xml_check_xsd(xml, flavor="factur-x", level="en16931")
    pdf = render_pdf(doc, seller)
    out: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        lang="fr-FR",
        pdf_metadata={
            "author": seller.name,
            "keywords": "Factur-X, facture",
            "title": f"{'Facture' if doc.kind == 'invoice' else 'Avoir'} {doc.number}",
            "subject": f"{doc.number} — {doc.buyer['name']}",
        },
    )
    return out
