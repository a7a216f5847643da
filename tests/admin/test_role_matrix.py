"""Every route and API endpoint × every role: allowed or refused, as the table below says.

The table is written out role by role, not derived from services.PERMISSIONS, so a permission widened in
the code by mistake fails here. Routes come from `app.url_map`: a route added later without a line in the
table fails `test_the_table_covers_every_route`.

Allowed means the request reached the view: any answer but 401, 403, 429, a redirect to log in first or
a server error (the requests carry no real payload, so a 400 or a 404 is a view's answer). Refused means
403 for a logged-in role; for nobody logged in, the login page (pages) or 401 (JSON).
"""
from __future__ import annotations

import base64

import pytest

from .conftest import PASSWORDS, TOKEN, login

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "pm", "reviewer", "regulator", "admin")
PUBLIC = frozenset(ROLES)
LOGGED_IN = frozenset({"pm", "reviewer", "regulator", "admin"})
AUTHORS = frozenset({"pm", "admin"})
REVIEWERS = frozenset({"reviewer", "admin"})
AUDITORS = frozenset({"reviewer", "regulator", "admin"})
ADMIN = frozenset({"admin"})
SIGNERS = frozenset({"reviewer", "regulator"})

# (endpoint, method) → the roles allowed
EXPECTED = {
    ("static", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): LOGGED_IN,
    ("auth.set_language", "GET"): PUBLIC,
    ("catalogue.index", "GET"): LOGGED_IN,
    ("catalogue.version", "GET"): LOGGED_IN,
    ("catalogue.version_yaml", "GET"): LOGGED_IN,
    ("catalogue.next_draft", "POST"): AUTHORS,
    ("catalogue.rules", "GET"): LOGGED_IN,
    ("editor.edit", "GET"): AUTHORS,
    ("editor.edit", "POST"): AUTHORS,
    ("editor.validate", "POST"): LOGGED_IN,
    ("workflow.submit", "POST"): AUTHORS,
    ("workflow.approve_version", "POST"): REVIEWERS,
    ("workflow.send_back_version", "POST"): REVIEWERS,
    ("workflow.retire_version", "POST"): ADMIN,
    ("simulator.simulate", "GET"): LOGGED_IN,
    ("simulator.simulate", "POST"): LOGGED_IN,
    ("changes.page", "GET"): LOGGED_IN,
    ("changes.impact_json", "GET"): LOGGED_IN,
    ("backtests.page", "GET"): LOGGED_IN,
    ("backtests.backtest_json", "GET"): LOGGED_IN,
    ("review.page", "GET"): LOGGED_IN,
    ("review.pdf", "GET"): LOGGED_IN,
    ("review.record_finding", "POST"): SIGNERS,
    ("review.record_override", "POST"): ADMIN,
    ("whatif.page", "GET"): LOGGED_IN,
    ("whatif.start", "POST"): LOGGED_IN,
    ("whatif.job_status", "GET"): LOGGED_IN,
    ("compare.index", "GET"): LOGGED_IN,
    ("compare.start", "POST"): LOGGED_IN,
    ("compare.job_status", "GET"): LOGGED_IN,
    ("compare.csv_file", "GET"): LOGGED_IN,
    ("compare.xlsx_file", "GET"): LOGGED_IN,
    ("files.upload", "GET"): AUTHORS,
    ("files.upload", "POST"): AUTHORS,
    ("files.start", "POST"): AUTHORS,
    ("files.job_status", "GET"): AUTHORS,
    ("files.report", "GET"): AUTHORS,
    ("files.export", "GET"): LOGGED_IN,
    ("audit_log.index", "GET"): AUDITORS,
    ("audit_log.download", "GET"): AUDITORS,
    ("tokens.index", "GET"): ADMIN,
    ("tokens.index", "POST"): ADMIN,
    ("tokens.revoke_page", "POST"): ADMIN,
    ("api.openapi", "GET"): PUBLIC,
    ("api.products", "GET"): LOGGED_IN,
    ("api.version", "GET"): LOGGED_IN,
    ("api.version_yaml", "GET"): LOGGED_IN,
    ("api.validate", "POST"): LOGGED_IN,
    ("api.quote_person", "POST"): LOGGED_IN,
    ("api.adjudicate_claim", "POST"): LOGGED_IN,
    ("api.rules_in_force", "GET"): LOGGED_IN,
    ("api.compare_versions", "GET"): LOGGED_IN,
    ("api.api_review", "GET"): LOGGED_IN,
    ("api.api_record_finding", "POST"): SIGNERS,
    ("api.api_record_override", "POST"): ADMIN,
    ("api.create_draft", "POST"): AUTHORS,
    ("api.save_yaml", "PUT"): AUTHORS,
    ("api.submit", "POST"): AUTHORS,
    ("api.approve", "POST"): REVIEWERS,
    ("api.send_back", "POST"): REVIEWERS,
    ("api.retire", "POST"): ADMIN,
}
LAST = ("auth.logout", "POST")  # ends the role's session: asked last


def routes(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_the_table_covers_every_route(app):
    assert sorted(routes(app) - EXPECTED.keys()) == [], "a route without a line in EXPECTED"
    assert sorted(EXPECTED.keys() - routes(app)) == [], "a line in EXPECTED for a route that is gone"


def _url(app, endpoint: str, method: str, row_id: int) -> str:
    values = {"row_id": row_id, "token_id": 1, "product_id": "xianhuibao", "job_id": "no-such-job", "code": "zh",
              "filename": "app.css"}
    rule = next(r for r in app.url_map.iter_rules(endpoint) if method in r.methods)
    return app.url_map.bind("localhost").build(endpoint, {k: values[k] for k in rule.arguments}, method=method)


class Caller:
    """One role's requests: the page session (with its CSRF token) and, for /api/v1, HTTP Basic."""

    def __init__(self, app, role: str):
        self.role, self.client = role, app.test_client()
        if role != ANONYMOUS:
            login(self.client, role)
        page = self.client.get("/login" if role == ANONYMOUS else "/").get_data(as_text=True)
        self.token = TOKEN.search(page).group(1)

    def call(self, method: str, url: str):
        headers = {"X-CSRFToken": self.token}
        if url.startswith("/api/v1/") and self.role != ANONYMOUS:
            secret = base64.b64encode(f"{self.role}:{PASSWORDS[self.role]}".encode()).decode()
            headers["Authorization"] = f"Basic {secret}"
        data = {"csrf_token": self.token} if method != "GET" else None
        return self.client.open(url, method=method, data=data, headers=headers)


def _sent_to_login(response) -> bool:
    # Flask-Login's answer to nobody logged in; logging out also ends on /login, but without ?next=.
    return response.status_code == 302 and "/login?next=" in response.headers.get("Location", "")


def _refused(role: str, url: str, response) -> bool:
    if role == ANONYMOUS and not url.startswith("/api/"):
        return _sent_to_login(response)
    return response.status_code == (401 if role == ANONYMOUS else 403)


def _allowed(response) -> bool:
    return response.status_code not in (401, 403, 429) and response.status_code < 500 and not _sent_to_login(response)


@pytest.mark.parametrize("role", ROLES)
def test_each_route_allows_or_refuses_the_role(app, draft, role):
    caller = Caller(app, role)
    wrong = []
    for endpoint, method in sorted(routes(app), key=lambda cell: (cell == LAST, cell)):
        url = _url(app, endpoint, method, draft.id)
        response = caller.call(method, url)
        expected_allowed = role in EXPECTED[(endpoint, method)]
        if not (_allowed(response) if expected_allowed else _refused(role, url, response)):
            wrong.append(f"{method} {url}: {response.status_code}, expected {'allowed' if expected_allowed else 'refused'}")
    assert wrong == []
