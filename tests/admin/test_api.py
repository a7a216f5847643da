"""JSON API v1: Basic auth only (the session cookie does not count, so no CSRF hole), the same workflow rules."""
from __future__ import annotations

import base64

from .conftest import PASSWORDS, XIANHUIBAO, Browser, version_row

CLAIM = '{"claim_id": "a1", "member": {"id": "m", "age": 65, "basic_insurance": "employee"}, "date": "2023-06-01", ' \
        '"care": "inpatient", "hospital_level": 3, "in_policy_self_pay": 54509.00, "out_of_policy_self_pay": 309100}'


def basic(username: str, password: str | None = None) -> dict:
    token = base64.b64encode(f"{username}:{password or PASSWORDS[username]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth_is_required_and_the_session_cookie_is_not_enough(app):
    client = app.test_client()
    assert client.get("/api/v1/products").status_code == 401
    assert client.get("/api/v1/products", headers=basic("pm", "wrong")).status_code == 401
    logged_in = Browser(app, "pm")  # a browser session, as a cross-site request would carry it
    assert logged_in.client.get("/api/v1/products").status_code == 401
    assert logged_in.client.post("/api/v1/products/xianhuibao/drafts").status_code == 401


def test_products_and_a_version(app, session):
    client = app.test_client()
    body = client.get("/api/v1/products", headers=basic("regulator")).get_json()
    product = next(p for p in body["products"] if p["id"] == "xianhuibao")
    summary = product["versions"][0]
    assert (summary["key"], summary["status"], summary["effective"]) == ("xianhuibao@2023", "published",
                                                                         ["2023-01-01", "2023-12-31"])
    detail = client.get(f"/api/v1/versions/{summary['id']}", headers=basic("regulator")).get_json()
    assert detail["valid"] and detail["explained"]["bands"][0]["premium_fen"] == 69_00
    text = client.get(f"/api/v1/versions/{summary['id']}/yaml", headers=basic("regulator"))
    assert text.get_data(as_text=True) == version_row(session, "xianhuibao", "2023").yaml_text


def test_adjudicate_in_fen_with_exact_decimals(app, session):
    row = version_row(session, "xianhuibao", "2023")
    response = app.test_client().post(f"/api/v1/versions/{row.id}/adjudicate", data=CLAIM,
                                      content_type="application/json", headers=basic("regulator"))
    body = response.get_json()
    # 54509.00 read as a Decimal, never a float: (54,509 − 18,000) × 80 % = 29,207.20 and
    # (309,100 − 24,000) × 70 % = 199,570.00 under 咸惠保 2023 (products/xianhuibao.yaml)
    assert response.status_code == 200 and body["paid_fen"] == 228_777_20
    assert body["by_liability"] == {"in_policy": 29_207_20, "out_of_policy": 199_570_00}
    bad = app.test_client().post(f"/api/v1/versions/{row.id}/adjudicate", data='{"claim_id": "x"}',
                                 content_type="application/json", headers=basic("regulator"))
    assert bad.status_code == 422 and bad.get_json()["issues"]


def test_quote(app, session):
    row = version_row(session, "xianhuibao", "2023")
    body = app.test_client().post(f"/api/v1/versions/{row.id}/quote", json={"age": 30},
                                  headers=basic("pm")).get_json()
    assert body["premium_fen"] == 69_00 and body["band"] == "everyone"


def test_validate_gives_lines(app):
    text = XIANHUIBAO.read_text(encoding="utf-8").replace("ratio: {value: 0.8,", "ratio: {value: 8,")
    body = app.test_client().post("/api/v1/validate", json={"yaml": text}, headers=basic("pm")).get_json()
    line = text[:text.index("ratio: {value: 8,")].count("\n") + 1
    assert body["ok"] is False and [i["line"] for i in body["issues"]] == [line]


def test_the_workflow_through_the_api(app, session):
    client = app.test_client()
    draft = client.post("/api/v1/products/xianhuibao/drafts", headers=basic("pm"))
    assert draft.status_code == 201
    row = draft.get_json()
    assert client.post("/api/v1/products/xianhuibao/drafts", headers=basic("regulator")).status_code == 403
    text = version_row(session, "xianhuibao", "2024").yaml_text.replace("value: 69,", "value: 79,")
    saved = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text, "row_version": row["row_version"]},
                       headers=basic("pm"))
    assert saved.status_code == 200 and saved.get_json()["row_version"] == row["row_version"] + 1
    stale = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text + "#", "row_version": row["row_version"]},
                       headers=basic("pm2"))
    assert stale.status_code == 409  # the second writer is told, and nothing is overwritten
    current = saved.get_json()["row_version"]
    submitted = client.post(f"/api/v1/versions/{row['id']}/submit", json={"row_version": current}, headers=basic("pm"))
    assert submitted.get_json()["status"] == "in_review"
    approval = {"row_version": submitted.get_json()["row_version"], "effective_from": "2024-01-01",
                "effective_to": "2024-12-31"}
    assert client.post(f"/api/v1/versions/{row['id']}/approve", json=approval, headers=basic("pm")).status_code == 403
    published = client.post(f"/api/v1/versions/{row['id']}/approve", json=approval, headers=basic("reviewer"))
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    again = client.put(f"/api/v1/versions/{row['id']}/yaml", json={"yaml": text, "row_version": published.get_json()["row_version"]},
                       headers=basic("pm"))
    assert again.status_code == 409 and version_row(session, "xianhuibao", "2024").yaml_text == text


def test_openapi_describes_every_route(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<int:row_id>", "{row_id}").replace("<product_id>", "{product_id}")
            routed |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_openapi_schemas_are_valid_json_schema_and_the_answers_match_them(app, session):
    from jsonschema import Draft202012Validator
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    bodies = [operation["requestBody"]["content"]["application/json"]["schema"] for item in document["paths"].values()
              for operation in item.values() if "requestBody" in operation]
    assert len(document["components"]["schemas"]) >= 10 and len(bodies) >= 8  # there is something to check
    for schema in [*document["components"]["schemas"].values(), *bodies]:
        Draft202012Validator.check_schema(schema)

    def mismatches(path: str, method: str, response, status: int = 200) -> list[str]:
        """What the route answered against what the document says it answers; "#/components/…" resolves
        because the schema is checked with the document's components beside it."""
        assert response.status_code == status, response.get_data(as_text=True)
        schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({"components": document["components"], **schema})
        return [f"{path}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.get_json())]

    client, row = app.test_client(), version_row(session, "xianhuibao", "2023")
    regulator, pm = basic("regulator"), basic("pm")
    answers = [
        ("/api/v1/products", "get", client.get("/api/v1/products", headers=regulator)),
        ("/api/v1/versions/{row_id}", "get", client.get(f"/api/v1/versions/{row.id}", headers=regulator)),
        ("/api/v1/versions/{row_id}/quote", "post",
         client.post(f"/api/v1/versions/{row.id}/quote", json={"age": 30}, headers=pm)),
        ("/api/v1/versions/{row_id}/adjudicate", "post", client.post(
            f"/api/v1/versions/{row.id}/adjudicate", data=CLAIM, content_type="application/json", headers=regulator)),
        ("/api/v1/validate", "post", client.post("/api/v1/validate", json={"yaml": row.yaml_text}, headers=pm)),
        ("/api/v1/products/{product_id}/rules-in-force", "get",
         client.get("/api/v1/products/xianhuibao/rules-in-force?claim_date=2023-06-01", headers=regulator)),
    ]
    assert [m for path, method, response in answers for m in mismatches(path, method, response)] == []
    missing = client.get("/api/v1/versions/999999", headers=regulator)
    assert mismatches("/api/v1/versions/{row_id}", "get", missing, 404) == []
