"""The OpenAPI 3.1 description of /api/v1 (JSON Schema 2020-12, so the engine's own input schemas fit as they are)."""
from __future__ import annotations

from engine.inputs import CLAIM_SCHEMA, PERSON_SCHEMA


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str = "") -> dict:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


ERRORS = {"401": {"description": "需要 HTTP Basic 认证"}, "403": _json(_ref("Error"), "角色无权"),
          "404": _json(_ref("Error"), "没有这个对象")}
ROW_VERSION = {"row_version": {"type": "integer", "description": "读取版本时得到的行版本（乐观并发）"}}
VERSION_ID = [{"name": "row_id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _post(summary: str, body: dict, ok: dict, *, errors: tuple = ("409", "422"), params=VERSION_ID) -> dict:
    responses = {"200": ok, **ERRORS}
    for code in errors:
        responses[code] = _json(_ref("Error"), {"400": "请求格式错误", "409": "状态或行版本冲突",
                                                "422": "内容未通过校验"}[code])
    return {"post": {"summary": summary, "parameters": params, "responses": responses,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}}


def _object(properties: dict, required: tuple = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required)}


def document() -> dict:
    version_ok = _json(_ref("VersionSummary"))
    paths = {
        "/api/v1/products": {"get": {"summary": "产品及其全部版本", "responses": {
            "200": _json(_object({"products": {"type": "array", "items": _ref("Product")}})), **ERRORS}}},
        "/api/v1/versions/{row_id}": {"get": {"summary": "一个版本：元数据、校验结果和通俗解释",
                                              "parameters": VERSION_ID, "responses": {"200": _json(_ref("Version")),
                                                                                      **ERRORS}}},
        "/api/v1/versions/{row_id}/yaml": {
            "get": {"summary": "版本的 YAML 全文（ETag 为行版本）", "parameters": VERSION_ID,
                    "responses": {"200": {"description": "YAML", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                  **ERRORS}},
            "put": {"summary": "保存草稿文本（行版本不符时 409，文本不丢失由调用方负责）", "parameters": VERSION_ID,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _object(
                        {"yaml": {"type": "string"}, **ROW_VERSION}, ("yaml", "row_version"))}}},
                    "responses": {"200": version_ok, **ERRORS, "409": _json(_ref("Error"), "行版本冲突")}}},
        "/api/v1/validate": _post("引擎校验一段方案文本", _object({"yaml": {"type": "string"}}, ("yaml",)),
                                  _json(_object({"ok": {"type": "boolean"},
                                                 "issues": {"type": "array", "items": _ref("Issue")},
                                                 "digest": {"type": "string"},
                                                 "content_hash": {"type": ["string", "null"]}})),
                                  errors=("400",), params=[]),
        "/api/v1/versions/{row_id}/quote": _post("报价：档位、保费（分）和缴费方", PERSON_SCHEMA,
                                                 _json(_ref("Quote")), errors=("400", "422")),
        "/api/v1/versions/{row_id}/adjudicate": _post("模拟理赔（不入账）：赔付金额（分）和计算过程", CLAIM_SCHEMA,
                                                      _json(_ref("Settlement")), errors=("400", "422")),
        "/api/v1/versions/{row_id}/review": {"get": {
            "summary": "合规审查：适用规则逐项的结论（条款、原文、方案取值）、需人工确认的事项、标准案例、变化",
            "parameters": VERSION_ID, "responses": {"200": _json({"type": "object"}), **ERRORS,
                                                    "422": _json(_ref("Error"), "内容未通过校验")}}},
        "/api/v1/compare": {"get": {
            "summary": "并排比较版本：参数（含假设标记）、标准病例赔付、标准人群保费、收益曲线（金额为分）；"
                       "format=xlsx 或 csv 时下载与页面相同的 Excel / CSV",
            "parameters": [{"name": "v", "in": "query", "required": True, "style": "form", "explode": True,
                            "description": "版本编号（行 id），可重复", "schema": {"type": "array", "items": {"type": "integer"}}},
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"enum": ["json", "csv", "xlsx"], "default": "json"}}],
            "responses": {"200": {"description": "比较结果", "content": {
                "application/json": {"schema": _ref("Comparison")},
                "text/csv": {"schema": {"type": "string", "description": "UTF-8（带 BOM），每个数值一行"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "contentMediaType": "application/vnd.openxmlformats-officedocument"
                                                                    ".spreadsheetml.sheet",
                               "description": "工作表：参数、标准病例赔付、保费、收益曲线"}}}},
                          **ERRORS, "400": _json(_ref("Error"), "请求格式错误"),
                          "422": _json(_ref("Error"), "版本未通过校验")}}},
        "/api/v1/products/{product_id}/drafts": {"post": {
            "summary": "复制最新版本，建立下一年度草稿", "responses": {"201": version_ok, **ERRORS,
                                                                 "409": _json(_ref("Error"), "该年度已存在")},
            "parameters": [{"name": "product_id", "in": "path", "required": True, "schema": {"type": "string"}}]}},
        "/api/v1/products/{product_id}/rules-in-force": {"get": {
            "summary": "就诊日期 D 的理赔适用哪个版本（按 K 日所知）：K 日前已发布、生效期包含 D 的版本中最后发布的一个",
            "parameters": [
                {"name": "product_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "claim_date", "in": "query", "required": True, "schema": {"type": "string", "format": "date"},
                 "description": "就诊（理赔）日期 D"},
                {"name": "known_on", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
                 "description": "按哪一天所知 K（中国时间当日结束时）；默认现在"}],
            "responses": {"200": _json(_ref("RulesInForce")), **ERRORS,
                          "400": _json(_ref("Error"), "日期格式错误")}}},
        "/api/v1/versions/{row_id}/submit": _post("提交审核", _object(ROW_VERSION, ("row_version",)), version_ok),
        "/api/v1/versions/{row_id}/approve": _post(
            "审批并发布（不能审批自己起草、修改或提交的版本）",
            _object({**ROW_VERSION, "effective_from": {"type": "string", "format": "date"},
                     "effective_to": {"type": "string", "format": "date"}, "comment": {"type": "string"}},
                    ("row_version", "effective_from", "effective_to")), version_ok, errors=("400", "409", "422")),
        "/api/v1/versions/{row_id}/send-back": _post(
            "退回修改（须写明意见）", _object({**ROW_VERSION, "comment": {"type": "string"}}, ("row_version", "comment")),
            version_ok),
        "/api/v1/versions/{row_id}/retire": _post(
            "停用已发布版本", _object({**ROW_VERSION, "comment": {"type": "string"}}, ("row_version",)), version_ok),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "惠民保方案管理 API", "version": "1",
                 "description": "金额一律为整数“分”（*_fen）；请求中的金额为“元”，最多两位小数。"},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Error": _object({"ok": {"const": False}, "error": {"type": "string"},
                                  "issues": {"type": "array", "items": {"type": "object"}}}, ("ok", "error")),
                "Issue": _object({"line": {"type": "integer"}, "column": {"type": "integer"}, "path": {"type": "string"},
                                  "code": {"type": "string"}, "message": {"type": "string"}},
                                 ("line", "code", "message")),
                "VersionSummary": _object({
                    "id": {"type": "integer"}, "key": {"type": "string"}, "product": {"type": "string"},
                    "version": {"type": "string"}, "name": {"type": "string"},
                    "status": {"enum": ["draft", "in_review", "published", "retired"]},
                    "content_hash": {"type": ["string", "null"]}, "row_version": {"type": "integer"},
                    "period": {"type": "array", "items": {"type": ["string", "null"]}},
                    "effective": {"type": "array", "items": {"type": ["string", "null"]}},
                    "origin": {"type": "string"}, "review_comment": {"type": ["string", "null"]}},
                    ("id", "key", "status", "row_version")),
                "Version": {"allOf": [_ref("VersionSummary"), _object({
                    "valid": {"type": "boolean"}, "issues": {"type": "array", "items": _ref("Issue")},
                    "explained": {"type": ["object", "null"], "description": "engine.explain.describe_version"}})]},
                "RulesInForce": _object({
                    "ok": {"const": True}, "product": {"type": "string"},
                    "claim_date": {"type": "string", "format": "date"}, "known_on": {"type": "string"},
                    "known_by": {"type": "string", "format": "date-time", "description": "K 对应的时刻（UTC）"},
                    "version": {"oneOf": [_ref("KnownVersion"), {"type": "null"}],
                                "description": "适用的版本；K 日前尚无覆盖 D 的已发布版本时为 null"},
                    "superseded": {"type": "array", "items": _ref("KnownVersion"),
                                   "description": "K 日前已知、同样覆盖 D、但被后发布版本取代的版本"},
                    "published_later": {"type": "array", "items": _ref("KnownVersion"),
                                        "description": "覆盖 D、但在 K 日之后才发布的版本"}},
                    ("ok", "product", "claim_date", "known_by", "version")),
                "KnownVersion": {"allOf": [_ref("VersionSummary"), _object({
                    "published_at": {"type": ["string", "null"], "format": "date-time"},
                    "retired_at": {"type": ["string", "null"], "format": "date-time"},
                    "retired_as_of_known_on": {"type": "boolean",
                                               "description": "K 日时已停用（不再销售；其生效期内的理赔仍按它处理）"}})]},
                "Product": _object({"id": {"type": "string"}, "name": {"type": "string"}, "city": {"type": "string"},
                                    "region": {"type": "string"},
                                    "versions": {"type": "array", "items": _ref("VersionSummary")}}),
                "Quote": _object({"version": {"type": "string"}, "eligibility": {"type": "object"},
                                  "band": {"type": ["string", "null"]}, "premium_fen": {"type": "integer"},
                                  "payers": {"type": "array"}, "trace": {"type": "array"}}),
                "Comparison": _object({
                    "ok": {"const": True},
                    "versions": {"type": "array", "items": _object({
                        "id": {"type": "integer"}, "key": {"type": "string"}, "name": {"type": "string"},
                        "status": {"type": "string"}, "city": {"type": "string"}, "ruleset": {"type": "string"},
                        "period": {"type": "array", "items": {"type": "string"}}})},
                    "parameters": {"type": "array", "description": "每个参数一行，每个版本一个值；assumed 为真表示该值基于假设",
                                   "items": _object({"key": {"type": "string"}, "label": {"type": "string"},
                                                     "values": {"type": "array", "items": {"type": "string"}},
                                                     "marked": {"type": "array", "items": {"type": "string"}},
                                                     "assumed": {"type": "array", "items": {"type": "boolean"}},
                                                     "reasons": {"type": "array", "items": {
                                                         "type": "array", "items": {"type": "string"}}}})},
                    "profiles": {"type": "array", "description": "标准病例：每个版本的 paid_fen、remainder_fen、ratio",
                                 "items": {"type": "object"}},
                    "premiums": {"type": "array", "description": "标准人群：每个版本的档位、premium_fen、self_pay_fen",
                                 "items": {"type": "object"}},
                    "curves": _object({"bill_fen": {"type": "array", "items": {"type": "integer"}},
                                       "out_of_policy_share": {"type": "string"},
                                       "paid_fen": {"type": "array", "items": {
                                           "type": "array", "items": {"type": "integer"}}}})},
                    ("ok", "versions", "parameters", "profiles", "premiums", "curves")),
                "Settlement": _object({"claim_id": {"type": "string"}, "version": {"type": "string"},
                                       "ruleset": {"type": "string"}, "eligibility": {"type": "object"},
                                       "paid_fen": {"type": "integer"},
                                       "by_liability": {"type": "object", "additionalProperties": {"type": "integer"}},
                                       "patient_remainder_fen": {"type": "integer"}, "insurers": {"type": "array"},
                                       "trace": {"type": "array", "items": {"type": "object"}}}),
            },
        },
    }
