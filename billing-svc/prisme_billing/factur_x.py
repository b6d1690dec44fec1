"""B7: the Factur-X file, PDF/A-3b with the CII XML attached (EN 16931 profile)."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
from facturx import generate_from_binary, xml_check_xsd

from . import cii, rendering
from .documents import Document, Seller

#: sRGB profile of Debian's icc-profiles-free (ICC v2.3), the PDF/A output intent.
SRGB_ICC = Path("/usr/share/color/icc/sRGB.icc")


def _output_intent(pdf: bytes) -> bytes:
    """PDF/A: an sRGB output intent for the device colours the page uses."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        icc = doc.make_stream(SRGB_ICC.read_bytes())
        icc.N = 3
        doc.Root.OutputIntents = pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.OutputIntent,
                    S=pikepdf.Name.GTS_PDFA1,
                    OutputConditionIdentifier="sRGB IEC61966-2.1",
                    Info="sRGB IEC61966-2.1",
                    RegistryName="http://www.color.org",
                    DestOutputProfile=icc,
                )
            ]
        )
        out = io.BytesIO()
        # A fixed /ID from the content: the same document renders to the same bytes.
        doc.save(out, deterministic_id=True, min_version="1.7")
        return out.getvalue()


def factur_x(doc: Document, seller: Seller) -> bytes:
    """The Factur-X PDF/A-3b: the French page with its CII XML attached as ``factur-x.xml``
    (AFRelationship Data), XMP with ``pdfaid:part=3``/``B`` and the Factur-X extension schema
    (written by the ``factur-x`` package), embedded DejaVu fonts and an sRGB output intent."""
    xml = cii.cii_xml(doc, seller)
    xml_check_xsd(xml, flavor="factur-x", level="en16931")
    pdf = rendering.render_pdf(doc, seller)
    attached: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        afrelationship="data",
        lang="fr-FR",
        pdf_metadata={
            "author": seller.legal_name,
            "keywords": "Factur-X, facture",
            "title": f"{doc.title} {doc.number}",
            "subject": f"{doc.title} {doc.number} — {doc.buyer['name']}",
        },
    )
    return _output_intent(attached)
