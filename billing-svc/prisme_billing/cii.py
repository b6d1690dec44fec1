"""B7: the CII XML (UN/CEFACT Cross Industry Invoice D16B) of a document, EN 16931 profile.

Element order follows the CII schema; the values are the document's, so the XML, the page and
the API say the same quantity, unit price and line total.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from prisme_chassis.money import money_str

from .documents import Document, Seller
from .domain import RECOVERY_INDEMNITY, VAT_RATE

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
EN16931 = "urn:cen.eu:en16931:2017"
#: UNTDID 1001: commercial invoice, credit note.
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
#: UNTDID 4461: SEPA credit transfer, the means printed with the seller's IBAN.
SEPA_CREDIT_TRANSFER = "58"
#: ISO 6523 ICD 0002: SIREN.
SIREN_SCHEME = "0002"


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", **attrs)
    if text is not None:
        node.text = text
    return node


def _date(parent: Any, tag: str, value: date, prefix: str = "udt") -> None:
    holder = _el(parent, tag)
    _el(holder, f"{prefix}:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _quantity(value: Decimal) -> str:
    return f"{value:.2f}"


def _address(party: Any, line1: str, postcode: str, city: str) -> None:
    addr = _el(party, "ram:PostalTradeAddress")
    _el(addr, "ram:PostcodeCode", postcode)
    _el(addr, "ram:LineOne", line1)
    _el(addr, "ram:CityName", city)
    # La Réunion is a French department: ISO country FR (EN 16931 uses FR for the DROM too).
    _el(addr, "ram:CountryID", "FR")


def _seller(agreement: Any, seller: Seller) -> None:
    party = _el(agreement, "ram:SellerTradeParty")
    _el(party, "ram:Name", seller.legal_name)
    org = _el(party, "ram:SpecifiedLegalOrganization")
    _el(org, "ram:ID", seller.siren, schemeID=SIREN_SCHEME)
    _el(org, "ram:TradingBusinessName", seller.trade_name)
    _address(party, seller.address, seller.postal_code, seller.city)
    _el(_el(party, "ram:URIUniversalCommunication"), "ram:URIID", seller.email, schemeID="EM")
    _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", seller.vat_id, schemeID="VA")


def _buyer(agreement: Any, buyer: dict[str, str]) -> None:
    party = _el(agreement, "ram:BuyerTradeParty")
    _el(party, "ram:Name", buyer["name"])
    org = _el(party, "ram:SpecifiedLegalOrganization")
    _el(org, "ram:ID", buyer["siren"], schemeID=SIREN_SCHEME)
    _address(party, buyer["line1"], buyer["postal_code"], buyer["city"])
    if buyer.get("email"):
        _el(_el(party, "ram:URIUniversalCommunication"), "ram:URIID", buyer["email"], schemeID="EM")


def _notes(doc: Document, seller: Seller) -> list[tuple[str, str]]:
    notes = [
        (
            "REG",
            f"{seller.legal_name} ({seller.trade_name}), {seller.legal_form}, "
            f"SIREN {seller.siren}, TVA {seller.vat_id}",
        ),
        ("PMD", f"Pénalités de retard : {seller.late_penalty}."),
        (
            "PMT",
            "Indemnité forfaitaire pour frais de recouvrement : "
            f"{money_str(RECOVERY_INDEMNITY)} EUR (art. D441-5 du Code de commerce).",
        ),
        ("AAB", "Pas d'escompte pour paiement anticipé."),
    ]
    if doc.reason:
        notes.append(("ACB", f"Motif de l'avoir : {doc.reason}"))
    return notes


def _line(trade: Any, position: int, ln: Any) -> None:
    item = _el(trade, "ram:IncludedSupplyChainTradeLineItem")
    head = _el(item, "ram:AssociatedDocumentLineDocument")
    _el(head, "ram:LineID", str(position))
    if ln.prorata:
        _el(_el(head, "ram:IncludedNote"), "ram:Content", f"Prorata : {ln.prorata}")
    product = _el(item, "ram:SpecifiedTradeProduct")
    _el(product, "ram:Name", ln.description)
    if ln.yearly_ttc is not None:
        _el(product, "ram:Description", f"Prix annuel TTC {money_str(ln.yearly_ttc)} EUR")
    agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
    _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", money_str(ln.unit_ht))
    delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
    _el(delivery, "ram:BilledQuantity", _quantity(ln.quantity), unitCode=ln.unit_code)
    settle = _el(item, "ram:SpecifiedLineTradeSettlement")
    tax = _el(settle, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", "S")
    _el(tax, "ram:RateApplicablePercent", f"{VAT_RATE:.2f}")
    period = _el(settle, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", ln.period_start)
    _date(period, "ram:EndDateTime", ln.period_end)
    summ = _el(settle, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _el(summ, "ram:LineTotalAmount", money_str(ln.total_ht))


def cii_xml(doc: Document, seller: Seller) -> bytes:
    """The CII XML of ``doc`` at the EN 16931 (Factur-X "EN 16931") profile."""
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    ctx = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931)

    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", doc.number)
    _el(head, "ram:TypeCode", TYPE_CODES[doc.kind])
    _date(head, "ram:IssueDateTime", doc.issue_date)
    for subject, text in _notes(doc, seller):
        note = _el(head, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", subject)

    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for position, ln in enumerate(doc.lines, start=1):
        _line(trade, position, ln)

    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    _seller(agreement, seller)
    _buyer(agreement, doc.buyer)
    _el(trade, "ram:ApplicableHeaderTradeDelivery")

    settlement = _el(trade, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:PaymentReference", doc.number)
    _el(settlement, "ram:InvoiceCurrencyCode", "EUR")
    means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _el(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)
    _el(means, "ram:Information", "Virement SEPA (ou carte, prélèvement SEPA, chèque)")
    _el(_el(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", seller.iban)
    _el(_el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", seller.bic)
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:CalculatedAmount", money_str(doc.total_vat))
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:BasisAmount", money_str(doc.total_ht))
    _el(tax, "ram:CategoryCode", "S")
    _el(tax, "ram:RateApplicablePercent", f"{VAT_RATE:.2f}")
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", doc.payment_terms)
    _date(terms, "ram:DueDateDateTime", doc.due_date)
    summ = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summ, "ram:LineTotalAmount", money_str(doc.total_ht))
    _el(summ, "ram:TaxBasisTotalAmount", money_str(doc.total_ht))
    _el(summ, "ram:TaxTotalAmount", money_str(doc.total_vat), currencyID="EUR")
    _el(summ, "ram:GrandTotalAmount", money_str(doc.total_ttc))
    _el(summ, "ram:DuePayableAmount", money_str(doc.total_ttc))
    if doc.invoice_number:
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.invoice_number)
        if doc.invoice_issue_date is not None:
            _date(ref, "ram:FormattedIssueDateTime", doc.invoice_issue_date, prefix="qdt")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
