"""Downloads: CSV (UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly) and Excel workbooks.

Amounts travel as integer fen inside `Yuan` cells and become yuan only when written: a Decimal with two
places (exact), never a float. A spreadsheet gets real numbers with a number format, so it can sum them.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from flask import Response
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from engine.money import fen_to_yuan

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YUAN_FORMAT = "#,##0.00"
SHARE_FORMAT = "0.00%"
FLAG_FILL = PatternFill("solid", fgColor="FFF4CE")  # the pale yellow the pages use for assumptions


@dataclass(frozen=True)
class Yuan:
    """An amount in integer fen, written as yuan with two decimals."""
    fen: int

    def __str__(self) -> str:
        return str(fen_to_yuan(self.fen))


@dataclass(frozen=True)
class Share:
    """A ratio such as Decimal('0.6293'), written as a percentage."""
    value: Decimal

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Flagged:
    """Text a reader must notice (an assumed value): highlighted, with the reason as a cell comment."""
    text: str
    note: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass
class Sheet:
    title: str
    header: list[str]
    rows: list[list]
    widths: dict[int, int] = field(default_factory=dict)  # column number (1-based) → width in characters
    scatter: dict | None = None  # {"title", "x_title", "y_title"}: plot every column against the first


def _safe(cell):
    cell = cell.text if isinstance(cell, Flagged) else cell
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it so it stays text.
    return "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@") else cell


def csv_response(filename: str, header: list[str], rows) -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(c) for c in row])  # Yuan, Share, Flagged: csv writes their str()
    return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def workbook(sheets: list[Sheet]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        _write_sheet(book.create_sheet(sheet.title), sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: list[Sheet]) -> Response:
    return Response(workbook(sheets), mimetype=XLSX_MIME,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _write_sheet(ws, sheet: Sheet) -> None:
    ws.append(sheet.header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in sheet.rows:
        ws.append([_plain(value) for value in row])
        for cell, value in zip(ws[ws.max_row], row):
            _format(cell, value)
    ws.freeze_panes = "B2"
    for column in range(1, len(sheet.header) + 1):
        ws.column_dimensions[get_column_letter(column)].width = sheet.widths.get(column, 16)
    if sheet.scatter and sheet.rows:
        _scatter(ws, sheet)


def _plain(value):
    if isinstance(value, Yuan):
        return fen_to_yuan(value.fen)  # Decimal: openpyxl writes it as an exact number
    if isinstance(value, Share):
        return value.value
    return _safe(value)


def _format(cell, value) -> None:
    if isinstance(value, Yuan):
        cell.number_format = YUAN_FORMAT
    elif isinstance(value, Share):
        cell.number_format = SHARE_FORMAT
    else:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(value, Flagged):
            cell.fill = FLAG_FILL
            if value.note:
                cell.comment = Comment(value.note, "hmb")


def _scatter(ws, sheet: Sheet) -> None:
    """A line chart of every column against the first (e.g. payout against bill size), beside the table."""
    chart = ScatterChart()
    chart.title, chart.x_axis.title, chart.y_axis.title = (sheet.scatter[k] for k in ("title", "x_title", "y_title"))
    chart.style, chart.height, chart.width = 13, 10, 20
    last = len(sheet.rows) + 1
    xs = Reference(ws, min_col=1, min_row=2, max_row=last)
    for column in range(2, len(sheet.header) + 1):
        series = Series(Reference(ws, min_col=column, min_row=1, max_row=last), xs, title_from_data=True)
        series.marker.symbol = "none"
        chart.series.append(series)
    ws.add_chart(chart, f"{get_column_letter(len(sheet.header) + 2)}2")
