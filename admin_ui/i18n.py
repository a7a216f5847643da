"""Chinese first, English available: one catalogue, keyed by the Chinese text.

Templates and code write `_("中文")`; with English chosen, `_` returns the English below (or the Chinese
when a string has no translation yet — tests/admin/test_i18n.py lists any missing ones). What the engine
writes (scheme explanations, validation messages, traces) stays Chinese: it is the scheme's own language.
"""
from __future__ import annotations

from flask import current_app, has_request_context, session

LANGUAGES = {"zh": "中文", "en": "English"}

STATUS = {"draft": "草稿", "in_review": "审核中", "published": "已发布", "retired": "已停用"}
ACTION = {"version.import": "导入并发布", "version.create_draft": "建立草稿", "version.save": "保存",
          "version.submit": "提交审核", "version.publish": "审批发布", "version.send_back": "退回修改",
          "version.retire": "停用", "user.login": "登录", "user.login_failed": "登录失败", "user.logout": "退出"}
ROLE = {"product_manager": "产品经理", "reviewer": "审核员", "regulator": "监管人员", "admin": "系统管理员"}

EN: dict[str, str] = {
    '登录': 'Sign in',
    '用户名': 'User name',
    '密码': 'Password',
    '理赔模拟': 'Claim simulator',
    '产品与版本': 'Products and versions',
    '该版本未通过校验，不能模拟。请先修正：': 'This version does not validate and cannot be simulated. Fix first:',
    '第 {n} 行': 'line {n}',
    '理赔信息': 'Claim',
    '金额单位：元（最多两位小数）。已结算形式：基本医保结算后的个人负担。': 'Amounts in yuan (up to two decimals). Settled form: what the patient owes after basic insurance.',
    '年龄': 'Age',
    '有既往症': 'Pre-existing condition',
    '低收入类别': 'Low-income category',
    '无': 'None',
    '基本医保': 'Basic insurance',
    '医保状态': 'Basic insurance status',
    '就诊日期': 'Date of care',
    '就医类型': 'Kind of care',
    '医院等级': 'Hospital level',
    '未填': 'Not given',
    '政策范围内个人自付（元）': 'In-policy self-pay (yuan)',
    '政策范围外个人自费（元）': 'Out-of-policy self-pay (yuan)',
    '特药': 'Special drug',
    '适应症': 'Indication',
    '特药费用（元）': 'Special drug cost (yuan)',
    '按表单计算': 'Calculate from the form',
    '或直接编辑理赔 JSON（可用原始账单形式 bill）': 'Or edit the claim as JSON (the raw-bill form "bill" works too)',
    '按 JSON 计算': 'Calculate from the JSON',
    '结果': 'Result',
    '理赔信息有误：': 'The claim has problems:',
    '本方案赔付': 'Paid by the scheme',
    '元': 'yuan',
    '个人仍需负担': 'Left to the patient',
    '参保资格': 'Eligibility',
    '保费档位': 'Premium bands',
    '按责任': 'By liability',
    '赔付链': 'Payment chain',
    '共保分摊': 'Co-insurer shares',
    '主承保': 'lead',
    '计算过程': 'How it was calculated',
    '假设': 'Assumed',
    '填写左侧信息后计算。': 'Fill in the claim on the left, then calculate.',
    '编辑': 'Edit',
    '编辑草稿': 'Edit draft',
    '理赔模拟（已保存的文本）': 'Simulate (saved text)',
    '保存冲突': 'Save conflict',
    '您的文本仍在下方编辑框中，没有丢失。对方保存的版本和两者的差异见下；合并后再次保存即会覆盖对方的版本。': 'Your text is still in the editor below: nothing is lost. The other save and the differences are shown here; merge, then save again to replace the other version.',
    '对方': 'Saved by',
    '差异（对方 → 您）': 'Differences (theirs → yours)',
    '对方保存的全文': 'Their full text',
    '审核意见': 'Review comment',
    '校验通过': 'Valid',
    '{n} 个问题': '{n} problems',
    '校验中…': 'Checking…',
    '无法校验（网络或服务器错误）': 'Could not validate (network or server error)',
    '第 {n} 列': 'column {n}',
    '有未保存的修改': 'Unsaved changes',
    '保存': 'Save',
    'Ctrl+S 保存 · 行版本': 'Ctrl+S saves · row version',
    '实时校验': 'Live validation',
    '每次修改后自动由引擎校验；点击问题跳到对应行。': 'The engine checks the text after every change; click a problem to go to its line.',
    '编辑 YAML': 'Edit YAML',
    '查看 YAML': 'View YAML',
    '版本': 'Version',
    '内容哈希': 'Content hash',
    '（未通过校验）': '(does not validate)',
    '保险期间': 'Policy period',
    '生效期': 'In force',
    '发布时确定': 'set when published',
    '来源': 'Origin',
    '起草': 'Drafted',
    '从方案文件导入': 'imported from the product file',
    '最后修改': 'Last changed',
    '提交审核': 'Submit for review',
    '审批': 'Approved',
    '校验问题（{n} 个）': 'Validation problems ({n})',
    '基本信息': 'General',
    '规则集': 'Ruleset',
    '参保条件': 'Eligibility',
    '档位': 'Band',
    '适用人群': 'Who',
    '保费': 'Premium',
    '依据': 'Basis',
    '缴费与资助': 'Payment and subsidies',
    '保障责任': 'Liabilities',
    '特药目录': 'Special drug list',
    '药品': 'Drug',
    '编码': 'Code',
    '有效期': 'Valid',
    '假设（共 {n} 项）': 'Assumptions ({n})',
    '以下数值来源文件未规定，是本方案文件的假设；审核时请逐项确认。': 'The sources do not state these values; they are assumptions of this file. A reviewer confirms each one.',
    '数值': 'Value',
    '理由': 'Reason',
    '返回': 'Back',
    '审计日志': 'Audit log',
    '用户': 'User',
    '操作': 'Action',
    '对象': 'Object',
    '搜索': 'Search',
    '清除': 'Clear',
    '最新的在前；最多显示 {n} 条。审计日志只能追加，数据库拒绝修改和删除。': 'Newest first; at most {n} shown. The log is append-only: the database refuses changes and deletions.',
    '时间': 'Time',
    '说明': 'Note',
    '修改前 / 修改后': 'Before / after',
    '详情': 'Details',
    '修改前': 'Before',
    '修改后': 'After',
    '文本差异': 'Text differences',
    '没有符合条件的记录。': 'No matching events.',
    '惠民保方案管理': 'Huiminbao scheme admin',
    '退出': 'Sign out',
    '校验通过后才能提交审核。': 'It can be submitted once it validates.',
    '审核': 'Review',
    '您参与了该版本的起草或提交，不能审批（四眼原则）。': 'You drafted, edited or submitted this version, so you cannot approve it (four eyes).',
    '生效日期': 'In force from',
    '失效日期': 'In force to',
    '审批意见（可选）': 'Comment (optional)',
    '审批通过并发布': 'Approve and publish',
    '退回意见': 'Why it goes back',
    '退回修改': 'Send back',
    '停用说明': 'Reason',
    '停用该版本': 'Retire this version',
    '停用后内容仍保留，已售保单继续按此版本理赔。': 'A retired version is kept; policies sold under it are still settled by it.',
    '方案文件导入问题': 'Product file import problems',
    '以下文件在启动时未能（全部）导入；其他文件不受影响。修正文件后重启即可导入。': 'These files were not (fully) imported at start; the others were. Fix a file and restart to import it.',
    '另有 {n} 个问题': '{n} more problems',
    '还没有产品。': 'No products yet.',
    '建立下一年度草稿': "Draft next year's version",
    '名称': 'Name',
    '年度': 'Year',
    '状态': 'Status',
    '查看': 'View',
    '来源文件': 'Source file',
    '来源未规定的数值：本文件的假设': 'Not stated by a source: an assumption of this file',
    '中文': '中文',
    '用户名或密码不正确': 'Wrong user name or password',
    '表单已过期或缺少安全令牌，请刷新页面后重试。': 'The form has expired or lacks its security token. Reload the page and try again.',
    '请填写有效日期（YYYY-MM-DD）': 'Enter a valid date (YYYY-MM-DD)',
    '已提交审核。': 'Submitted for review.',
    '已审批并发布。发布后该版本不可再修改。': 'Approved and published. It can no longer be changed.',
    '已退回修改。': 'Sent back.',
    '已停用。': 'Retired.',
    '只有草稿可以编辑；已发布的版本不可修改。': 'Only a draft can be edited; a published version never changes.',
    '已保存；还有 {n} 个问题需要解决后才能提交审核。': 'Saved; {n} problems remain before it can be submitted for review.',
    '已保存，校验通过。': 'Saved; it validates.',
    '请求中应有 yaml 文本': 'The request needs a yaml text',
    '已建立 {key} 草稿（复制自最新版本），请修改后提交审核。': 'Draft {key} created from the latest version: edit it, then submit it for review.',
    '草稿': 'Draft',
    '审核中': 'In review',
    '已发布': 'Published',
    '已停用': 'Retired',
    '产品经理': 'Product manager',
    '审核员': 'Reviewer',
    '监管人员': 'Regulator',
    '系统管理员': 'Administrator',
    '请先登录': 'Please sign in first',
    '方案比较': 'Compare schemes',
    '选择要比较的版本（默认：每个产品最新的已发布版本）。同一位参保人、同一笔费用，日期放在各版本自己的保险期间内。': "Choose the versions to compare (by default each product's latest published version). The same person and the same bill, dated inside each version's own policy period.",
    '比较': 'Compare',
    '各方案赔付对比': 'What each scheme pays',
    '下载 CSV': 'Download CSV',
    '参保人与费用（元）': 'Person and bill (yuan)',
    '目录内': 'in-policy',
    '目录外': 'out-of-policy',
    '粗体为本方案赔付（元），百分比为占个人负担的比例；均由引擎按各版本的规则计算。': "Bold: paid by the scheme (yuan), with its share of what the patient owed; all computed by the engine under each version's rules.",
    '与上一版本 {key} 的差异': 'Changes since the previous version {key}',
    '对方保存的版本': 'their save',
    '您的文本': 'your text',
    '导入并发布': 'Imported and published',
    '建立草稿': 'Draft created',
    '审批发布': 'Approved and published',
    '停用': 'Retired',
    '登录失败': 'Failed sign-in',
    '您的角色无权进行此操作。': 'Your role may not do this.',
    '页面不存在。': 'No such page.',
    '该版本的状态或内容已变化。': 'The status or content of this version has changed.',
}


def N_(text: str) -> str:
    """Marks a string for the catalogue where it is defined; `_` translates it where it is shown."""
    return text


def current_language() -> str:
    if has_request_context() and session.get("lang") in LANGUAGES:
        return session["lang"]
    return current_app.config.get("DEFAULT_LANGUAGE", "zh") if current_app else "zh"


def _(text: str, **values) -> str:
    if current_language() == "en":
        text = EN.get(text, text)
    return text.format(**values) if values else text


def status_label(status: str) -> str:
    return _(STATUS.get(status, status))


def action_label(action: str) -> str:
    return _(ACTION.get(action, action))


def role_label(role: str) -> str:
    return _(ROLE.get(role, role))
