"""Tables as small self-contained HTML pages, the form the Snakemake report shows inline."""

from __future__ import annotations

import html

import pandas as pd


def html_page(title: str, table: pd.DataFrame) -> str:
    """A self-contained HTML page holding one table (what the report's viewer opens)."""
    body = table.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:.4g}",
                         border=0, classes="distillery-table")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "th{background:#f0f0f0}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
