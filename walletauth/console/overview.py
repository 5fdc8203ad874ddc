"""Overview: what the store holds and what is due, in counts and charts. No address is
shown, and a count under 5 is shown as "<5" (tables and charts alike)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter
from fastapi.responses import Response

from walletauth.console.guard import HostDep, OperatorDep
from walletauth.console.html import SHOWN, count, page, table, text
from walletauth.console.svg import bars, columns
from walletauth.store import console_counts

router = APIRouter(prefix="/console", include_in_schema=False)
SHOWN.add("overview")


@router.get("/overview")
async def overview_page(host: HostDep, operator: OperatorDep) -> Response:
    figures = await host.run(console_counts.overview, host.store, now=host.now())
    by_purpose: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    for (category, purpose), n in figures.records.items():
        by_purpose[purpose] += n
        by_category[category] += n
    records_table = table(
        ("Category", "Purpose", "Live records"),
        ((text(c), text(p), count(n)) for (c, p), n in sorted(figures.records.items())),
        empty="No live record.", table_id="records-table")
    weeks = [start.strftime("%m-%d") for start, _g, _w in figures.consents]
    cards = [
        ("Subjects", f"<p class=\"big\" id=\"subjects\">{count(figures.subjects)}</p>"),
        ("Records by purpose", bars("Records by purpose", sorted(by_purpose.items()))),
        ("Records by category", bars("Records by category", sorted(by_category.items()))),
        ("Consents per week (granted, withdrawn)", columns(
            "Consents per week", weeks,
            [("granted", [g for _s, g, _w in figures.consents]),
             ("withdrawn", [w for _s, _g, w in figures.consents])])),
        ("Records expiring", bars("Records expiring", [
            (f"within {days} days", n) for days, n in figures.expiring.items()], kind="alt")),
        ("Rights requests by status", bars("Rights requests by status",
                                          sorted(figures.requests.items()))),
        ("Days to close (last year)", bars("Days to close",
                                           list(figures.days_to_close.items()))),
        ("Notices in the outbox", bars("Notices", [
            ("pending", figures.notices_pending), ("failed, retrying", figures.notices_failed)],
            kind="bad")),
    ]
    body = ("<p>As of " + text(figures.at.strftime("%Y-%m-%d %H:%M UTC"))
            + ". Counts under 5 are shown as &lt;5.</p><div class=\"grid\">"
            + "".join(f"<section class=\"card\"><h3>{text(title)}</h3>{inner}</section>"
                      for title, inner in cards)
            + "</div><h3>Live records by category and purpose</h3>" + records_table)
    return page("Overview", body, operator=operator, current="overview")
