"""Chinese first, English available, through Flask-Babel and standard gettext catalogues.

Chinese is the source language: code and templates write `_("中文")` (or `N_("中文")` where a string is
defined but shown elsewhere), and that Chinese text is the msgid, so Chinese needs no catalogue. English
lives in translations/en/LC_MESSAGES/messages.po, compiled to messages.mo beside it. The language is the
session's (set by /lang/<code>), else DEFAULT_LANGUAGE; outside a request it is Chinese.

Placeholders are str.format's: `_("第 {n} 行", n=3)` looks up "第 {n} 行", then formats the translation.

To add a string: write `_("中文")` where it is shown, then, in admin_ui/, extract, update and compile the
catalogue and fill in the English (README.md, "Translations"). tests/admin/test_i18n.py fails while a
string lacks English or the catalogue holds one no longer used.

What the engine writes (scheme explanations, validation messages, traces) stays Chinese: it is the
scheme's own language.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, session
from flask_babel import get_translations

LANGUAGES = {"zh": "中文", "en": "English"}  # each shown in its own language, untranslated
SOURCE_LANGUAGE = "zh"  # the msgids: nothing to look up


def N_(text: str) -> str:
    """Marks a string for extraction where it is defined; `_` translates it where it is shown."""
    return text


STATUS = {"draft": N_("草稿"), "in_review": N_("审核中"), "published": N_("已发布"), "retired": N_("已停用")}
ACTION = {"version.import": N_("导入并发布"), "version.create_draft": N_("建立草稿"), "version.save": N_("保存"),
          "version.submit": N_("提交审核"), "version.publish": N_("审批发布"), "version.send_back": N_("退回修改"),
          "version.retire": N_("停用"), "version.override": N_("放行发布（有未解决的违规结论）"),
          "finding.record": N_("记录审查意见"), "version.upload": N_("上传为草稿"), "user.login": N_("登录"),
          "user.login_failed": N_("登录失败"), "user.login_throttled": N_("登录受限（失败次数过多）"),
          "user.logout": N_("退出"), "request.refused": N_("请求被拒绝"),
          "api_token.create": N_("签发 API 令牌"), "api_token.revoke": N_("撤销 API 令牌"),
          "api_token.refused": N_("拒绝 API 令牌")}
ROLE = {"product_manager": N_("产品经理"), "reviewer": N_("审核员"), "regulator": N_("监管人员"),
        "admin": N_("系统管理员")}


def current_language() -> str:
    """Flask-Babel's locale selector, and what base.html shows as chosen."""
    if not has_request_context():
        return SOURCE_LANGUAGE  # start-up messages, CLI
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else current_app.config["DEFAULT_LANGUAGE"]


def _(text: str, **values) -> str:
    """The translation of `text` in the current language, then str.format(**values) (not gettext's %)."""
    if text and current_language() != SOURCE_LANGUAGE:  # gettext("") would be the catalogue's header
        text = _translations().gettext(text)
    return text.format(**values) if values else text


def _translations():
    """This request's catalogue, looked up once: a page calls `_` hundreds of times (chart tooltips), and
    Flask-Babel's gettext resolves the locale and its catalogue again at every call (~35 µs each)."""
    if "hmb_translations" not in g:
        g.hmb_translations = get_translations()
    return g.hmb_translations


def status_label(status: str) -> str:
    return _(STATUS.get(status, status))


def action_label(action: str) -> str:
    return _(ACTION.get(action, action))


def role_label(role: str) -> str:
    return _(ROLE.get(role, role))


def legacy_label(row) -> str:
    """What a stored text the current scheme language refuses is (services.is_legacy): published, or saved, under
    the older language."""
    return _("按旧版方案语言发布，当前校验未通过") if row.frozen else _("按旧版方案语言保存，当前校验未通过")


def path_label(path: dict) -> str:
    """Which path computed a version's figures (engine.impact / engine.compare `path`): the vectorised path, or
    the rules path with the reason the vectorised path gave (the engine writes it in Chinese)."""
    if path["path"] == "vectorised":
        return _("按向量化路径计算")
    if path.get("reason"):
        return _("按规则路径计算（向量化路径不能处理：{reason}）", reason=path["reason"])
    return _("按规则路径计算")
