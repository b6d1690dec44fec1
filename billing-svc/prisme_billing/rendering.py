"""B7: the French page of an invoice or credit note (reportlab), every mandatory mention on it.

PDF/A wants every font embedded: the page uses DejaVu Sans (Debian's fonts-dejavu-core),
embedded as TrueType subsets; nothing is drawn with the 14 standard PDF fonts.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from prisme_chassis.money import eur_fr as eur
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .documents import Document, Line, Seller
from .domain import RECOVERY_INDEMNITY, UNIT_HOUR, VAT_RATE, fr_date, quantity_str

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FONTS_READY = False


def _fonts() -> None:
    global _FONTS_READY
    if not _FONTS_READY:
        for name in (REGULAR, BOLD):
            path = FONT_DIR / f"{name}.ttf"
            if not path.exists():
                raise RuntimeError(f"{path} is missing: install Debian's fonts-dejavu-core")
            pdfmetrics.registerFont(TTFont(name, str(path)))
        _FONTS_READY = True


def _rate() -> str:
    return f"{VAT_RATE:f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


def _quantity(ln: Line) -> str:
    q = quantity_str(ln.quantity).replace(".", ",")
    return f"{q} h" if ln.unit_code == UNIT_HOUR else q


def _line_details(ln: Line) -> list[str]:
    details = []
    if ln.prorata:
        details.append(f"Prorata : {ln.prorata}")
    if ln.yearly_ttc is not None:
        postes = f" pour {ln.postes} postes" if ln.postes else ""
        details.append(f"Prix annuel TTC : {eur(ln.yearly_ttc)}{postes}")
    if not ln.prorata:
        when = fr_date(ln.period_start)
        if ln.period_end != ln.period_start:
            when = f"du {when} au {fr_date(ln.period_end)}"
        details.append(f"Réalisé le {when}" if ln.period_end == ln.period_start else when)
    return details


class _Page:
    """A4 page with a cursor, drawing in DejaVu Sans."""

    def __init__(self, c: canvas.Canvas) -> None:
        self.c = c
        self.width, self.height = A4
        self.left = 16 * mm
        self.right = self.width - 16 * mm
        self.y = self.height - 18 * mm

    def text(self, x: float, y: float, value: str, size: float = 8.5, bold: bool = False) -> None:
        self.c.setFont(BOLD if bold else REGULAR, size)
        self.c.drawString(x, y, value)

    def rtext(self, x: float, y: float, value: str, size: float = 8.5, bold: bool = False) -> None:
        self.c.setFont(BOLD if bold else REGULAR, size)
        self.c.drawRightString(x, y, value)

    def paragraph(self, value: str, size: float = 7.5, width: float | None = None) -> None:
        for chunk in simpleSplit(value, REGULAR, size, width or self.right - self.left):
            self.text(self.left, self.y, chunk, size)
            self.y -= size * 0.45 * mm + 1.6 * mm

    def need(self, space: float, header: Callable[[], None]) -> None:
        if self.y - space < 22 * mm:
            self.c.showPage()
            self.y = self.height - 18 * mm
            header()


# Right edges (mm from the left margin) of qty, unit HT, unit TTC, total HT, VAT, total TTC;
# the designation is wrapped to _DESC_MM.
_EDGES = (86.0, 106.0, 126.0, 146.0, 161.0, 178.0)
_DESC_MM = 70.0


def render_pdf(doc: Document, seller: Seller) -> bytes:
    """The human-readable document, in French, with every mandatory mention (B7)."""
    _fonts()
    buf = io.BytesIO()
    # initialFontName: otherwise reportlab declares an unembedded Helvetica on the page.
    c = canvas.Canvas(buf, pagesize=A4, invariant=True, pageCompression=1, initialFontName=REGULAR)
    c.setTitle(f"{doc.title} {doc.number}")
    c.setAuthor(seller.legal_name)
    c.setSubject(f"{doc.title} {doc.number}")
    p = _Page(c)
    edges = [p.left + v * mm for v in _EDGES]

    # Seller (left) and buyer (right).
    p.text(p.left, p.y, seller.trade_name, 13, bold=True)
    bx = p.width / 2 + 22 * mm
    for i, value in enumerate(
        [
            *simpleSplit(seller.legal_name, REGULAR, 8, bx - p.left - 6 * mm),
            *simpleSplit(seller.legal_form, REGULAR, 8, bx - p.left - 6 * mm),
            seller.address,
            f"{seller.postal_code} {seller.city}",
            f"SIREN {seller.siren} — TVA intracommunautaire {seller.vat_id}",
            f"{seller.phone} — {seller.email}",
        ],
        start=1,
    ):
        p.text(p.left, p.y - i * 4.3 * mm, value, 8)
    b = doc.buyer
    p.text(bx, p.y, "Client", 10, bold=True)
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
        p.text(bx, p.y - i * 4.3 * mm, value, 8.5)

    p.y -= 38 * mm
    p.text(p.left, p.y, f"{doc.title} n° {doc.number}", 15, bold=True)
    p.y -= 6 * mm
    p.text(p.left, p.y, f"Date d'émission : {fr_date(doc.issue_date)}", 9)
    p.text(p.left + 62 * mm, p.y, f"Date d'échéance : {fr_date(doc.due_date)}", 9)
    if doc.invoice_number:
        p.y -= 5 * mm
        issued = f" du {fr_date(doc.invoice_issue_date)}" if doc.invoice_issue_date else ""
        p.text(p.left, p.y, f"Avoir sur la facture n° {doc.invoice_number}{issued}", 9, bold=True)
    if doc.reason:
        p.y -= 5 * mm
        p.paragraph(f"Motif : {doc.reason}", 9)
        p.y += 1.6 * mm

    def header() -> None:
        p.y -= 8 * mm
        p.text(p.left, p.y, "Désignation", 8, bold=True)
        for edge, head in zip(
            edges,
            ["Qté", "P.U. HT", "P.U. TTC", "Total HT", "TVA", "Total TTC"],
            strict=True,
        ):
            p.rtext(edge, p.y, head, 8, bold=True)
        c.setLineWidth(0.6)
        c.line(p.left, p.y - 1.8 * mm, p.right, p.y - 1.8 * mm)
        p.y -= 1.8 * mm

    header()
    for ln in doc.lines:
        desc = simpleSplit(ln.description, REGULAR, 8, _DESC_MM * mm)
        details = [
            d for text in _line_details(ln) for d in simpleSplit(text, REGULAR, 7, _DESC_MM * mm)
        ]
        p.need((len(desc) + len(details)) * 3.8 * mm + 6 * mm, header)
        p.y -= 5 * mm
        for edge, value in zip(
            edges,
            [
                _quantity(ln),
                eur(ln.unit_ht),
                eur(ln.unit_ttc),
                eur(ln.total_ht),
                eur(ln.total_vat),
                eur(ln.total_ttc),
            ],
            strict=True,
        ):
            p.rtext(edge, p.y, value, 7.5)
        for i, chunk in enumerate(desc):
            p.text(p.left, p.y - i * 3.8 * mm, chunk, 8)
        p.y -= (len(desc) - 1) * 3.8 * mm
        for chunk in details:
            p.y -= 3.4 * mm
            p.text(p.left + 2 * mm, p.y, chunk, 7)
        p.y -= 2 * mm
        c.setLineWidth(0.2)
        c.line(p.left, p.y, p.right, p.y)

    p.need(40 * mm, header)
    for label, amount in [
        ("Total HT", doc.total_ht),
        (f"TVA au taux de {_rate()}", doc.total_vat),
        ("Total TTC", doc.total_ttc),
        ("Net à payer" if doc.kind == "invoice" else "Montant de l'avoir", doc.total_ttc),
    ]:
        p.y -= 5.5 * mm
        strong = label in ("Total TTC", "Net à payer", "Montant de l'avoir")
        p.text(p.right - 75 * mm, p.y, label, 9.5, bold=strong)
        p.rtext(p.right, p.y, eur(amount), 9.5, bold=strong)

    p.y -= 10 * mm
    p.need(45 * mm, lambda: None)
    p.text(p.left, p.y, "Conditions de paiement", 9, bold=True)
    p.y -= 4.5 * mm
    p.paragraph(doc.payment_terms, 8)
    p.y -= 2 * mm
    mentions = [
        f"TVA : taux normal applicable dans les DROM (La Réunion), {_rate()}. "
        "Prix contractuels TTC ; HT = TTC / 1,085 arrondi au centime, TVA = TTC − HT.",
        f"Pénalités de retard : {seller.late_penalty}, exigibles dès le lendemain de la date "
        "d'échéance, sans qu'un rappel soit nécessaire.",
        f"Indemnité forfaitaire pour frais de recouvrement : {eur(RECOVERY_INDEMNITY)} "
        "(art. L441-10 et D441-5 du Code de commerce).",
    ]
    for value in mentions:
        p.paragraph(value, 7.5)
    c.showPage()
    c.save()
    return buf.getvalue()
