"""The public ledger on the web: published rounds, each figure as a plot with CSV and JSON downloads; no token.

The pages read the same :class:`~scheduler.ledger.LedgerEntry` the ledger's gRPC API publishes (through
``Service.ledger_entries`` and ``Service.ledger_entry``), so a round that is not published is, here too,
not found.  A CSV cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) gets a
leading ``'``; the JSON keeps every value as it is.
"""

from __future__ import annotations

import csv
import io
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler.errors import NotFound
from scheduler.web.context import console
from scheduler.web.gate import caller
from scheduler.web.ledger_figures import FIGURES, Cell, Figure, figures
from scheduler.web.pages import page_request, render

FORMULA = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 500  # rows of a figure's table on the page; the downloads hold every row
ROUNDS_PER_PAGE = 25  # each listed round's entry is computed whole


def csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value
    return value


def as_csv(figure: Figure) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(figure.columns)
    writer.writerows([csv_cell(c) for c in row] for row in figure.rows)
    return out.getvalue()


async def ledger_list(request: Request) -> Response:
    await caller(request, "LedgerService/ListPublishedRounds")
    entries, cursor = await console(request).service.ledger_entries(page_request(request, ROUNDS_PER_PAGE))
    return render(request, "ledger.html", title="Public ledger", entries=entries, next_cursor=cursor)


async def ledger_round(request: Request) -> Response:
    await caller(request, "LedgerService/GetLedgerEntry")
    entry = await console(request).service.ledger_entry(request.path_params["round_id"])
    return render(request, "ledger_round.html", title=f"Ledger: round {entry.round_id}", entry=entry,
                  figures=figures(entry), gpu_hours=sum(s.gpu_hours for s in entry.by_category.values()),
                  max_rows=MAX_ROWS)


async def download(request: Request) -> Response:
    await caller(request, "LedgerService/GetLedgerEntry")
    name, kind = request.path_params["name"], request.path_params["kind"]
    round_id = request.path_params["round_id"]
    if name not in FIGURES or kind not in ("csv", "json"):
        raise NotFound("ledger figure", f"{name}.{kind}")
    figure = FIGURES[name](await console(request).service.ledger_entry(round_id))
    filename = f"{round_id}-{name}.{kind}"
    disposition = {"content-disposition": f'attachment; filename="{filename}"'}
    if kind == "csv":
        return Response(as_csv(figure), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(json.dumps({"round_id": round_id, name: figure.records()}, indent=1),
                    media_type="application/json", headers=disposition)


ROUTES = [
    Route("/ledger", ledger_list),
    Route("/ledger/{round_id}", ledger_round),
    Route("/ledger/{round_id}/{name}.{kind}", download),
]
