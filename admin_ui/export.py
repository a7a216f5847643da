"""CSV downloads. UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
from __future__ import annotations

import csv
import io

from flask import Response


def csv_response(filename: str, header: list[str], rows) -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it so it stays text.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row])
    return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
