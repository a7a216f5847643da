"""JSON API v1: bearer tokens (never the session cookie), requests validated by the models the OpenAPI document is
generated from, one error envelope for every status, and the same workflow rules as the pages."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin_ui import services, tokens
from admin_ui.models import ApiToken, AuditEvent
from engine.inputs import CLAIM_SCHEMA, PERSON_SCHEMA
from engine.review.regimes import load_regimes

from .conftest import XIANHUIBAO, Browser, bearer, version_row

CLAIM = {"claim_id": "a1", "member": {"id": "m", "age": 65, "basic_insurance": "employee"}, "date": "2023-06-01",
         "care": "inpatient", "hospital_level": 3, "in_policy_self_pay_fen": 54509_00, "out_of_policy_self_pay_fen": 309100_00}


def envelope_of(response, status: int) -> dict:
    """The answer, checked to be the error envelope with this status."""
    body = response.get_json()
    assert response.status_code == status, response.get_data(as_text=True)
    assert body["ok"] is False and isinstance(body["error"], str) and body["error"] and isinstance(body["issues"], list)
    return body


# ── tokens ────────────────────────────────────────────────────────────────────────────────────

def test_a_token_is_required_and_the_session_cookie_is_not_enough(app):
    client = app.test_client()
    envelope_of(client.get("/api/v1/products"), 401)
    assert client.get("/api/v1/products").headers["WWW-Authenticate"].startswith("Bearer")
    envelope_of(client.get("/api/v1/products", headers={"Authorization": "Bearer hmb_not-a-token"}), 401)
    envelope_of(client.get("/api/v1/products", headers={"Authorization": "Basic cG06d3Jvbmc="}), 401)  # pm:wrong
    logged_in = Browser(app, "pm")  # a browser session, as a cross-site request would carry it
    envelope_of(logged_in.client.get("/api/v1/products"), 401)
    envelope_of(logged_in.client.post("/api/v1/products/xianhuibao/drafts"), 401)
    assert client.get("/api/v1/products", headers=bearer(app, "regulator")).status_code == 200


def test_a_token_is_stored_hashed_and_every_use_is_recorded(app, session):
    header = bearer(app, "regulator", "insurer-x")
    secret = header["Authorization"].removeprefix("Bearer ")
    token = session.scalar(select(ApiToken))
    assert token.secret_sha256 == tokens.digest(secret) and secret not in (token.secret_sha256, token.prefix)
    assert secret.startswith(token.prefix) and token.last_used_at is None
    assert token.user.username == "api:insurer-x" and token.user.role == "regulator"
    assert not token.user.check_password(secret) and not token.user.check_password("")  # it cannot log in
    app.test_client().get("/api/v1/products", headers=header)
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at is not None
    created = session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.create"))
    assert created.object_id == f"api:insurer-x#{token.id}" and secret not in str(created.after)


def test_a_revoked_or_expired_token_is_refused_and_the_refusal_audited(app, session, monkeypatch):
    header = bearer(app, "regulator")
    token = session.scalar(select(ApiToken))
    client = app.test_client()
    assert client.get("/api/v1/products", headers=header).status_code == 200
    with app.app_context():
        from admin_ui.db import db
        tokens.revoke(db(), None, token.id)
    envelope_of(client.get("/api/v1/products", headers=header), 401)

    later = bearer(app, "regulator")
    monkeypatch.setattr(tokens, "utcnow", lambda: services.utcnow() + timedelta(days=31))  # issued for 30 days
    envelope_of(client.get("/api/v1/products", headers=later), 401)
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.refused")).all()
    assert [e.comment for e in refused] == ["revoked", "expired"]
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.revoke")) is not None


def test_the_command_line_creates_lists_and_revokes_tokens(app, session):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["tokens", "create", "regulator-feed", "--role", "regulator", "--days", "90", "--json"])
    assert created.exit_code == 0, created.output
    record = json.loads(created.output)
    header = {"Authorization": f"Bearer {record['token']}"}
    assert record["role"] == "regulator" and app.test_client().get("/api/v1/products", headers=header).status_code == 200
    listed = runner.invoke(args=["tokens", "list", "--json"])
    assert record["token"] not in listed.output and json.loads(listed.output)["prefix"] == record["prefix"]
    assert runner.invoke(args=["tokens", "revoke", str(record["id"])]).exit_code == 0
    assert app.test_client().get("/api/v1/products", headers=header).status_code == 401
    assert runner.invoke(args=["tokens", "create", "x", "--role", "king"]).exit_code == 2  # usage error
    wrong_role = runner.invoke(args=["tokens", "create", "regulator-feed", "--role", "admin"])
    assert wrong_role.exit_code == 1 and "regulator" in wrong_role.output


def test_the_tokens_page_shows_a_new_secret_once_and_is_for_admins_only(app, browser, session):
    assert browser("reviewer").get("/tokens").status_code == 403
    admin = browser("admin")
    page = admin.post("/tokens", data={"name": "insurer-y", "role": "product_manager", "days": "30"})
    html = page.get_data(as_text=True)
    secret = html.split('<code class="token">')[1].split("</code>")[0]
    assert page.status_code == 200 and secret.startswith(tokens.PREFIX)
    assert app.test_client().get("/api/v1/products", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in admin.get("/tokens").get_data(as_text=True)  # shown once
    token = session.scalar(select(ApiToken))
    assert admin.post(f"/tokens/{token.id}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/products", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


# ── reading and evaluating ────────────────────────────────────────────────────────────────────

def test_products_and_a_version(app, session):
    client, auth = app.test_client(), bearer(app, "regulator")
    body = client.get("/api/v1/products", headers=auth).get_json()
    product = next(p for p in body["products"] if p["id"] == "xianhuibao")
    summary = product["versions"][0]
    assert (summary["key"], summary["status"], summary["effective"]) == ("xianhuibao@2023", "published",
                                                                         ["2023-01-01", "2023-12-31"])
    detail = client.get(f"/api/v1/versions/{summary['id']}", headers=auth).get_json()
    assert detail["valid"] and detail["explained"]["bands"][0]["premium_fen"] == 69_00
    text = client.get(f"/api/v1/versions/{summary['id']}/yaml", headers=auth)
    assert text.get_data(as_text=True) == version_row(session, "xianhuibao", "2023").yaml_text


def test_adjudicate_takes_and_gives_integer_fen(app, session):
    row = version_row(session, "xianhuibao", "2023")
    response = app.test_client().post(f"/api/v1/versions/{row.id}/adjudicate", json=CLAIM, headers=bearer(app, "regulator"))
    body = response.get_json()
    # 5,450,900 fen = 54,509.00 yuan: (54,509 − 18,000) × 80 % = 29,207.20 and (309,100 − 24,000) × 70 % = 199,570.00
    # under 咸惠保 2023 (products/xianhuibao.yaml)
    assert response.status_code == 200 and body["paid_fen"] == 228_777_20
    assert body["by_liability"] == {"in_policy": 29_207_20, "out_of_policy": 199_570_00}
    in_yuan = {**CLAIM, "in_policy_self_pay": 54509.00}  # the engine's yuan field is not the API's
    assert envelope_of(app.test_client().post(f"/api/v1/versions/{row.id}/adjudicate", json=in_yuan,
                                              headers=bearer(app, "regulator")), 422)["issues"]


def test_a_claim_the_version_does_not_cover_is_409_with_the_engines_issue(app, session):
    row = version_row(session, "xianhuibao", "2023")
    late = app.test_client().post(f"/api/v1/versions/{row.id}/adjudicate", json={**CLAIM, "date": "2029-06-01"},
                                  headers=bearer(app, "regulator"))
    assert [i["code"] for i in envelope_of(late, 409)["issues"]] == ["claim.date"]


def test_quote(app, session):
    row = version_row(session, "xianhuibao", "2023")
    body = app.test_client().post(f"/api/v1/versions/{row.id}/quote", json={"age": 30}, headers=bearer(app, "product_manager")).get_json()
    assert body["premium_fen"] == 69_00 and body["band"] == "everyone"


def test_validate_gives_lines(app):
    text = XIANHUIBAO.read_text(encoding="utf-8").replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    body = app.test_client().post("/api/v1/validate", json={"yaml": text}, headers=bearer(app, "product_manager")).get_json()
    line = text[:text.index("ratio: {value: 8,")].count("\n") + 1
    assert body["ok"] is False and [i["line"] for i in body["issues"]] == [line]


@pytest.mark.parametrize("character", ["\x15", "\x00"])
def test_a_control_character_in_yaml_is_422_with_an_issue(app, character):
    response = app.test_client().post("/api/v1/validate", json={"yaml": f"format: hmb-scheme/1{character}\n"},
                                      headers=bearer(app, "product_manager"))
    assert [i["path"] for i in envelope_of(response, 422)["issues"]] == ["yaml"]


# ── the contract: what breaks the document is refused, every error is the envelope ─────────────

def test_an_id_beyond_any_row_is_404_not_500(app):
    client, auth = app.test_client(), bearer(app, "regulator")
    envelope_of(client.post("/api/v1/versions/17816408629702657489006776811520/quote", json={"age": 30}, headers=auth), 404)
    envelope_of(client.get("/api/v1/versions/2147483648", headers=auth), 404)
    envelope_of(client.get("/api/v1/versions/0", headers=auth), 404)
    envelope_of(client.get("/api/v1/compare?v=17816408629702657489006776811520", headers=auth), 422)


@pytest.mark.parametrize("body, path", [
    ({"age": "30"}, "age"),  # a number in a string is not an integer
    ({"age": 30.5}, "age"),  # (30.0 is JSON Schema's integer 30, and accepted)
    ({"age": 30, "nickname": "x"}, "nickname"),  # unknown fields are refused
    ({"age": None}, "age"),  # absent, not null
    ({"birth_date": "19580301"}, "birth_date"),  # YYYY-MM-DD only
])
def test_a_request_that_breaks_the_document_is_422_with_the_field(app, session, body, path):
    row = version_row(session, "xianhuibao", "2023")
    response = app.test_client().post(f"/api/v1/versions/{row.id}/quote", json=body, headers=bearer(app, "regulator"))
    assert path in [i["path"] for i in envelope_of(response, 422)["issues"]]


def test_a_body_that_is_not_json_is_400_or_415(app, session):
    row = version_row(session, "xianhuibao", "2023")
    client, auth, url = app.test_client(), bearer(app, "regulator"), f"/api/v1/versions/{row.id}/quote"
    broken = envelope_of(client.post(url, data='{"age": 3', content_type="application/json", headers=auth), 400)
    assert broken["issues"][0]["line"] == 1
    envelope_of(client.post(url, data='{"age": 3}', content_type="text/plain", headers=auth), 415)


def test_werkzeugs_own_errors_are_enveloped_too(app, session):
    client, auth = app.test_client(), bearer(app, "regulator")
    envelope_of(client.get("/api/v1/no-such-thing", headers=auth), 404)
    wrong_method = client.delete("/api/v1/products", headers=auth)
    envelope_of(wrong_method, 405)
    assert "GET" in wrong_method.headers["Allow"]
    too_big = client.post("/api/v1/validate", json={"yaml": "#" * (3 * 1024 * 1024)}, headers=auth)
    envelope_of(too_big, 413)


def test_an_unexpected_error_is_a_500_envelope_with_a_logged_reference(app, session, monkeypatch, caplog):
    def broken(_row):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(services, "check_stored", broken)
    row = version_row(session, "xianhuibao", "2023")
    with caplog.at_level(logging.ERROR, logger="admin_ui.api_errors"):
        response = app.test_client().get(f"/api/v1/versions/{row.id}", headers=bearer(app, "regulator"))
    body = envelope_of(response, 500)
    assert body["reference"] in body["error"] and "something nobody expected" not in response.get_data(as_text=True)
    assert any(body["reference"] in r.getMessage() and r.exc_info for r in caplog.records)


# ── the workflow ──────────────────────────────────────────────────────────────────────────────

def test_the_workflow_through_the_api(app, session):
    client = app.test_client()
    pm, pm2, reviewer = bearer(app, "product_manager", "pm-bot"), bearer(app, "product_manager", "pm-bot-2"), \
        bearer(app, "reviewer", "review-bot")
    draft = client.post("/api/v1/products/xianhuibao/drafts", headers=pm)
    assert draft.status_code == 201
    row = draft.get_json()
    envelope_of(client.post("/api/v1/products/xianhuibao/drafts", headers=bearer(app, "regulator")), 403)
    envelope_of(client.post("/api/v1/products/xianhuibao/drafts", headers=pm), 409)  # 2024 exists already
    text = version_row(session, "xianhuibao", "2024").yaml_text.replace("value: 69,", "value: 79,")
    saved = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text, "row_version": row["row_version"]},
                       headers=pm)
    assert saved.status_code == 200 and saved.get_json()["row_version"] == row["row_version"] + 1
    stale = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text + "#", "row_version": row["row_version"]},
                       headers=pm2)
    envelope_of(stale, 409)  # the second writer is told, and nothing is overwritten
    current = saved.get_json()["row_version"]
    submitted = client.post(f"/api/v1/versions/{row['id']}/submit", json={"row_version": current}, headers=pm)
    assert submitted.get_json()["status"] == "in_review"
    approval = {"row_version": submitted.get_json()["row_version"], "effective_from": "2024-01-01",
                "effective_to": "2024-12-31"}
    envelope_of(client.post(f"/api/v1/versions/{row['id']}/approve", json=approval, headers=pm), 403)
    published = client.post(f"/api/v1/versions/{row['id']}/approve", json=approval, headers=reviewer)
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    again = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text, "row_version": published.get_json()["row_version"]},
                       headers=pm)
    envelope_of(again, 409)
    assert version_row(session, "xianhuibao", "2024").yaml_text == text
    publisher = session.scalar(select(AuditEvent).where(AuditEvent.action == "version.publish"))
    assert publisher.username == "api:review-bot"  # an integration's actions are audited under its own name


# ── the document ──────────────────────────────────────────────────────────────────────────────

def test_openapi_describes_every_route(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<row_id:row_id>", "{row_id}").replace("<string(maxlength=64):product_id>",
                                                                             "{product_id}")
            routed |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_the_answers_match_the_schemas_the_document_gives_them(app, session):
    from jsonschema import Draft202012Validator
    document = app.test_client().get("/api/v1/openapi.json").get_json()

    def mismatches(path: str, method: str, response, status: int = 200) -> list[str]:
        """What the route answered against what the document says it answers; "#/components/…" resolves
        because the schema is checked with the document's components beside it."""
        assert response.status_code == status, response.get_data(as_text=True)
        schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({"components": document["components"], **schema})
        return [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.get_json())]

    client, row = app.test_client(), version_row(session, "xianhuibao", "2023")
    regulator, pm = bearer(app, "regulator"), bearer(app, "product_manager")
    answers = [
        ("/api/v1/products", "get", client.get("/api/v1/products", headers=regulator)),
        ("/api/v1/versions/{row_id}", "get", client.get(f"/api/v1/versions/{row.id}", headers=regulator)),
        ("/api/v1/versions/{row_id}/quote", "post",
         client.post(f"/api/v1/versions/{row.id}/quote", json={"age": 30}, headers=pm)),
        ("/api/v1/versions/{row_id}/adjudicate", "post",
         client.post(f"/api/v1/versions/{row.id}/adjudicate", json=CLAIM, headers=regulator)),
        ("/api/v1/validate", "post", client.post("/api/v1/validate", json={"yaml": row.yaml_text}, headers=pm)),
        ("/api/v1/products/{product_id}/rules-in-force", "get",
         client.get("/api/v1/products/xianhuibao/rules-in-force?claim_date=2023-06-01", headers=regulator)),
    ]
    assert [m for path, method, response in answers for m in mismatches(path, method, response)] == []
    missing = client.get("/api/v1/versions/999999", headers=regulator)
    assert mismatches("/api/v1/versions/{row_id}", "get", missing, 404) == []


def resolve_pointer(document, pointer: str):
    """A JSON Pointer (RFC 6901, without escapes) into a decoded JSON document."""
    for part in pointer.strip("/").split("/"):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def test_a_stateful_client_reaches_a_recorded_finding_through_the_documents_examples_and_links(app, session):
    """Schemathesis only tries made-up ids unless the document says where real ones come from: the finding's
    examples name a check of the regime every version follows, and the review links to a finding on its first
    check.  Each, followed as a client would, records a finding."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    client, regulator = app.test_client(), bearer(app, "regulator")
    row = version_row(session, "xianhuibao", "2023")

    examples = document["components"]["schemas"]["FindingRequest"]["examples"]
    declared = next(r for r in load_regimes() if r.id == "declared")
    assert declared.applies == {} and {e["regime"] for e in examples} == {"declared"}
    assert {e["check"] for e in examples} <= {c.id for c in declared.checks}
    recorded = client.post(f"/api/v1/versions/{row.id}/findings", json=examples[0], headers=regulator)
    assert recorded.status_code == 201, recorded.get_json()

    products_links = document["paths"]["/api/v1/products"]["get"]["responses"]["200"]["links"]
    assert products_links["review"] == {"operationId": "api_review",
                                        "parameters": {"row_id": "$response.body#/products/0/versions/0/id"}}
    listed = client.get("/api/v1/products", headers=regulator).get_json()
    first = listed["products"][0]["versions"][0]["id"]
    review = client.get(f"/api/v1/versions/{first}/review", headers=regulator).get_json()
    finding = document["paths"]["/api/v1/versions/{row_id}/review"]["get"]["responses"]["200"]["links"]["finding"]
    assert (finding["operationId"], finding["parameters"]) == ("api_record_finding", {"row_id": "$request.path.row_id"})
    body = {name: resolve_pointer(review, value.removeprefix("$response.body#")) if value.startswith("$response")
            else value for name, value in finding["requestBody"].items()}
    assert body == {"regime": review["regimes"][0]["id"], "check": review["regimes"][0]["checks"][0]["id"],
                    "outcome": "complies"}
    followed = client.post(f"/api/v1/versions/{first}/findings", json=body, headers=regulator)
    assert followed.status_code == 201, followed.get_json()


def test_openapi_passes_the_spec_validator(app):
    from openapi_spec_validator import validate

    validate(app.test_client().get("/api/v1/openapi.json").get_json())  # raises on any defect


def test_every_operation_documents_its_errors_as_the_envelope_with_an_example(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"401", "403", "500"} <= statuses, (path, method)
            assert ("404" in statuses) == ("{" in path or path.endswith("/compare")), (path, method)  # ids named
            assert ("422" in statuses) == bool(operation.get("requestBody") or operation.get("parameters")
                                               and any(p["in"] == "query" for p in operation["parameters"])), (path, method)
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    media = answer["content"]["application/json"]
                    assert media["schema"] == {"$ref": "#/components/schemas/Error"} and media["example"]["ok"] is False


def test_ids_and_amounts_are_bounded_integers_in_the_document(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    row_id = next(p for p in document["paths"]["/api/v1/versions/{row_id}"]["get"]["parameters"] if p["name"] == "row_id")
    assert {k: row_id["schema"][k] for k in ("type", "minimum", "maximum")} == {"type": "integer", "minimum": 1,
                                                                               "maximum": 2**31 - 1}
    product = document["paths"]["/api/v1/products/{product_id}/drafts"]["post"]["parameters"][0]
    assert (product["schema"]["minLength"], product["schema"]["maxLength"]) == (1, 64)  # products.id is String(64)
    compare = {p["name"]: p for p in document["paths"]["/api/v1/compare"]["get"]["parameters"]}
    assert compare["v"]["required"] and compare["format"]["schema"]["enum"] == ["json", "csv", "xlsx"]
    bill = document["components"]["schemas"]["Claim"]["properties"]["in_policy_self_pay_fen"]
    assert bill["type"] == "integer" and bill["minimum"] == 0 and bill["maximum"] == 1_000_000_000 * 100


def test_the_api_models_cover_every_field_of_the_engines_inputs():
    from admin_ui.api_models import Claim, Person

    money = {"in_policy_self_pay", "out_of_policy_self_pay"}
    assert set(Person.model_fields) == set(PERSON_SCHEMA["properties"])
    assert set(Claim.model_fields) == {f"{k}_fen" if k in money else k for k in CLAIM_SCHEMA["properties"]}
