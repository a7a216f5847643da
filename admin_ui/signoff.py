"""Sign-off of a version's compliance review: people's findings per check, carried to later versions, and the
gate that keeps a version with an open 违规 verdict from being published unless an admin records why.

- A reviewer or regulator records a finding on a check of the review (an item to confirm is a check too):
  符合 / 不符合 / 需补充, with a comment (required unless 符合). Findings are append-only rows: a new one names
  the one it replaces, so the history stays, and each is audited with the finding it supersedes as `before`.
- A finding is tied to the check as its regime file wrote it (`definition_hash`) and to the scheme values the
  check looked at (`values_hash`). A version shows its own latest finding on a check, else the latest finding
  of the nearest earlier version of the same product that has one: while both hashes still match, the finding
  holds (its own: "recorded"; an earlier version's: "carried", without a new record); if either changed, the
  check is open again and the page says which changed.
- Open violation: a 违规 verdict without a holding 符合 finding. `ensure_publishable` (called by
  services.approve) refuses to publish while one is open, unless an admin's override on this same text lists it.

Service functions in the style of services.py: role, state, audit and commit, or a WorkflowError.
"""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit, queries
from .models import FINDING_OUTCOMES, FROZEN_STATUSES, Finding, PublishOverride, SchemeVersion, User
from .services import (LOCAL_TZ, Conflict, Invalid, NotFound, as_utc, check_stored, evaluate_stored, get_version,
                       require)

OUTCOME_LABELS = {"complies": "符合", "fails": "不符合", "incomplete": "需补充"}  # as the report writes them
REOPENED = {"rule_changed": "检查的规定已改变", "values_changed": "检查所看的方案取值已改变"}
VIOLATION = "违规"


# ── the review with its sign-off ──────────────────────────────────────────────────────────────

def report_of(session: Session, row: SchemeVersion) -> dict | None:
    """The review report of a valid version with each check's finding and the sign-off summary; None when the
    version does not validate. Reviewed among the product's published and retired versions (engine.review)
    that the current language accepts: one it refuses (a legacy text) has no model to review against, so it is
    left out and named in `left_out` — else no version of such a product could ever be reviewed and published."""
    if not check_stored(row).ok:
        return None
    history = [v for v in queries.product_versions(session, row.product_id, FROZEN_STATUSES) if v.id != row.id]
    others = [v for v in history if check_stored(v).ok]
    data = evaluate_stored(row, "review", {"text": row.yaml_text, "others": others})
    data["left_out"] = [{"id": v.id, "key": v.key, "name": v.name} for v in history if v not in others]
    return with_signoff(session, row, data)


def checks_of(data: dict):
    """(regime, check) of every applicable check of a report."""
    return [(regime, check) for regime in data["regimes"] for check in regime["checks"]]


def with_signoff(session: Session, row: SchemeVersion, data: dict) -> dict:
    """The report with `finding` on each check and `signoff` (open violations, overrides) beside the verdicts."""
    shown = _shown_findings(session, row)
    for regime, check in checks_of(data):
        check["finding"] = _finding_state(row, shown.get((regime["id"], check["id"]), []), check)
    open_checks = [_open_item(regime, check) for regime, check in checks_of(data) if is_open(check)]
    overrides = [override_shown(o) for o in queries.overrides_of(session, row.id)]
    data["signoff"] = {"open": open_checks, "overrides": overrides,
                       "uncovered": [c for c in open_checks if not _covered(c, row, overrides)]}
    return data


def is_open(check: dict) -> bool:
    finding = check["finding"]
    return check["verdict"] == VIOLATION and not (finding["holds"] and finding["outcome"] == "complies")


def _shown_findings(session: Session, row: SchemeVersion) -> dict[tuple, list[Finding]]:
    """(regime, check) → the findings, oldest first, of the version whose finding the check shows: this version's
    own, else those of the nearest earlier version of the product that has one."""
    by_key: dict[tuple, dict[SchemeVersion, list[Finding]]] = {}
    for finding in queries.findings_up_to(session, row):
        by_key.setdefault((finding.regime_id, finding.check_id), {}).setdefault(finding.version, []).append(finding)
    nearest = lambda version: (version.id == row.id, version.period_start, version.id)  # noqa: E731
    return {key: versions[max(versions, key=nearest)] for key, versions in by_key.items()}


def _finding_state(row: SchemeVersion, history: list[Finding], check: dict) -> dict:
    """What the page and the report say about a check's finding:
    state none (nobody has found anything), recorded (this version's, holds), carried (an earlier version's,
    holds), reopened (the latest finding was about another rule or other values: `reopened` says which)."""
    if not history:
        return {"state": "none", "holds": False, "outcome": None, "replaces": None, "history": []}
    finding = history[-1]
    own = finding.scheme_version_id == row.id
    changed = [reason for reason, same in (("rule_changed", finding.definition_hash == check["definition_hash"]),
                                           ("values_changed", finding.values_hash == check["values_hash"])) if not same]
    state = "reopened" if changed else "recorded" if own else "carried"
    return {"state": state, "holds": not changed, **_described(finding), "replaces": finding.id if own else None,
            "from": None if own else {"key": finding.version.key, "name": finding.version.name},
            "reopened": [{"code": c, "text": REOPENED[c]} for c in changed],
            "history": [_described(f) for f in reversed(history[:-1])] if own else []}


def _described(finding: Finding) -> dict:
    return {"id": finding.id, "outcome": finding.outcome, "label": OUTCOME_LABELS[finding.outcome],
            "comment": finding.comment, "by": finding.user.display_name, "by_user": finding.user.username,
            "at": as_utc(finding.recorded_at).isoformat(), "at_text": _local(finding.recorded_at),
            "verdict": finding.verdict}


def _local(moment) -> str:
    return as_utc(moment).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _open_item(regime: dict, check: dict) -> dict:
    return {"regime": regime["id"], "regime_name": regime["name"], "check": check["id"], "name": check["name"],
            "clause": check["clause"], "verdict": check["verdict"], "values_hash": check["values_hash"],
            "finding": check["finding"]["label"] if check["finding"]["holds"] else None}


def override_shown(override: PublishOverride) -> dict:
    return {"id": override.id, "reason": override.reason, "by": override.user.display_name,
            "by_user": override.user.username, "at": as_utc(override.recorded_at).isoformat(),
            "at_text": _local(override.recorded_at), "content_hash": override.content_hash,
            "checks": override.checks}


def _covered(item: dict, row: SchemeVersion, overrides: list[dict]) -> bool:
    """An override covers an open check it listed, on the text it was recorded for, with the same values."""
    key = (item["regime"], item["check"], item["values_hash"])
    return any(o["content_hash"] == row.content_hash and key in {(c["regime"], c["check"], c["values_hash"])
                                                                  for c in o["checks"]} for o in overrides)


def _valid_report(session: Session, row: SchemeVersion) -> dict:
    data = report_of(session, row)
    if data is None:
        raise Invalid("该版本未通过校验，无法审查", check_stored(row).issues)
    return data


# ── recording ─────────────────────────────────────────────────────────────────────────────────

def record_finding(session: Session, user: User, row_id: int, regime_id: str, check_id: str, outcome: str,
                   comment: str = "", replaces: int | None = None) -> Finding:
    """A finding on one check of the version's review. `replaces` is the version's current finding on that
    check as the user saw it (None: there was none): if someone recorded another since, Conflict."""
    require(user, "findings.record")
    comment = (comment or "").strip()
    if outcome not in FINDING_OUTCOMES:
        raise Invalid("审查意见应为 符合、不符合 或 需补充")
    if outcome != "complies" and not comment:
        raise Invalid("“不符合”和“需补充”须写明意见")
    row = get_version(session, row_id)
    data = _valid_report(session, row)
    check = next((c for r, c in checks_of(data) if (r["id"], c["id"]) == (regime_id, check_id)), None)
    if check is None:
        raise NotFound("本版本的审查中没有这项检查")
    shown = check["finding"]
    if shown["replaces"] != replaces:
        raise Conflict("这项检查的审查意见已被他人更新，请查看最新意见后再记录。")
    finding = Finding(scheme_version_id=row.id, regime_id=regime_id, check_id=check_id,
                      definition_hash=check["definition_hash"], values_hash=check["values_hash"],
                      verdict=check["verdict"], outcome=outcome, comment=comment, user_id=user.id, replaces_id=replaces)
    with _one_line_of_history(session):
        session.add(finding)
        session.flush()
        audit.record(session, user, "finding.record", "scheme_version", row.key, _before(shown), finding.snapshot(),
                     comment or None)
    return finding


def _before(shown: dict) -> dict | None:
    """The finding the page showed before this one (its own, carried or reopened), for the audit log."""
    if shown["state"] == "none":
        return None
    return {"id": shown["id"], "state": shown["state"], "outcome": shown["outcome"], "comment": shown["comment"],
            "by": shown["by_user"], **({"from": shown["from"]["key"]} if shown["from"] else {}),
            **({"reopened": [r["code"] for r in shown["reopened"]]} if shown["reopened"] else {})}


def record_override(session: Session, user: User, row_id: int, reason: str) -> PublishOverride:
    """An admin's reason to publish a version in review despite its open violations (the ones open now)."""
    require(user, "publish.override")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请写明放行的理由")
    row = get_version(session, row_id)
    if row.status != "in_review":
        raise Conflict(f"只有审核中的版本可以放行发布（当前状态：{row.status}）")
    open_checks = _valid_report(session, row)["signoff"]["open"]
    if not open_checks:
        raise Invalid("该版本没有未解决的违规结论，无需放行")
    checks = [{k: item[k] for k in ("regime", "check", "name", "clause", "verdict", "values_hash")}
              for item in open_checks]
    override = PublishOverride(scheme_version_id=row.id, content_hash=row.content_hash, checks=checks, reason=reason,
                               user_id=user.id)
    session.add(override)
    session.flush()
    audit.record(session, user, "version.override", "scheme_version", row.key, None,
                 {"override": override.id, "content_hash": row.content_hash, "checks": checks}, reason)
    session.commit()
    return override


def ensure_publishable(session: Session, row: SchemeVersion) -> None:
    """Refuse (Invalid) while a 违规 verdict is open and no admin's override on this text covers it."""
    uncovered = _valid_report(session, row)["signoff"]["uncovered"]
    if uncovered:
        raise Invalid(f"有 {len(uncovered)} 项违规结论尚未经审查确认为符合，不能发布；请在合规审查页记录审查意见，"
                      "或由系统管理员记录放行理由", tuple(open_issue(item) for item in uncovered))


def open_issue(item: dict) -> dict:
    """An open violation as an issue of the API's error envelope (and of the error page)."""
    finding = f"，审查意见为“{item['finding']}”" if item["finding"] else "，尚无审查意见"
    return {"code": "review.open_violation", "path": f"{item['regime']}/{item['check']}", "line": 0, "column": 0,
            "message": f"{item['regime_name']} · {item['name']}（{item['clause']}）：{item['verdict']}{finding}"}


@contextmanager
def _one_line_of_history(session: Session):
    """Commit what the block wrote; the database refuses a second answer to the same finding (or a second first
    finding on a check) written at the same moment: that is a Conflict, as a stale `replaces` is."""
    try:
        yield
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("这项检查的审查意见已被他人更新，请查看最新意见后再记录。") from exc
