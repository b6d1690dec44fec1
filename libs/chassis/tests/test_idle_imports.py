"""P5: an idle service loads only what it serves with. The PDF stack (reportlab, pikepdf,
factur-x: ~45 MB), boto3 (~16 MB) and the OTLP exporter load when first needed (the first
document rendered, S3 storage configured, an OTLP endpoint set), not in every process."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("pikepdf", "facturx", "reportlab", "boto3", "opentelemetry.exporter.otlp")


APPS = ("prisme_billing.app", "prisme_video.app", "prisme_contracts.app", "prisme_webhooks.app")


def test_the_service_apps_load_no_optional_heavy_module() -> None:
    probe = (
        f"import sys, {', '.join(APPS)}; "
        f"print(' '.join(sorted(m for m in sys.modules if m.startswith({LAZY!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == []
