"""The row type every repository module returns."""

from __future__ import annotations

import asyncpg

Row = asyncpg.Record
