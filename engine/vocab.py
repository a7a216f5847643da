"""The one vocabulary every scheme is written in: codes used in YAML and claims, with Chinese labels.

Nothing here belongs to a city: a new scheme reuses these words, so schemes compare side by side.
"""
from __future__ import annotations

LOW_INCOME = {
    "dibao": "低保对象",
    "tekun": "特困人员",
    "fanpin": "返贫致贫人员",
    "dibao_edge": "低保边缘家庭成员",
    "monitored": "防返贫监测对象",
}
NOT_LOW_INCOME = "none"
LOW_INCOME_VALUES = [NOT_LOW_INCOME, *LOW_INCOME]

# Special groups besides the low-income categories: yes/no each, so one person may be in both and in
# a low-income category too.  code → (label when true, label when false).
SPECIAL_GROUPS = {
    "entitled_care": ("优抚对象", "非优抚对象"),  # veterans, martyrs' families and others entitled to state care
    "disabled": ("残疾人", "非残疾人"),  # persons with disabilities
}

CARE = {
    "inpatient": "住院",
    "emergency": "急诊（视同住院）",
    "day_surgery": "日间手术（视同住院）",
    "chronic_outpatient": "门诊慢特病",  # class not stated: the parent of the two below
    "chronic_outpatient_1": "一类门诊慢特病（视同住院）",
    "chronic_outpatient_2": "二类门诊慢特病",
    "major_outpatient": "重特大疾病门诊",
    "outpatient": "普通门诊",
    "pharmacy": "定点药店购药",
}

# A care code that stands for several narrower ones.  In a scheme (a liability's `care`, a `when: care`) the
# parent means "any of them": `chronic_outpatient` covers claims of chronic_outpatient, chronic_outpatient_1 and
# chronic_outpatient_2.  A child means only itself: a liability listing `chronic_outpatient_1` does not cover a
# claim of plain `chronic_outpatient`, whose class is unknown (the claim must say it).  `care_covered` is the one
# definition: the condition language applies it (conditions.OneOf, both when compiled to rules and when evaluated
# for the coverage proofs; rules.py also compiles a liability's care list through it); the model keeps the list as
# written, so explain, diff and compare show what the author wrote.  Parent → children, each with its class's short
# name (for messages).
CARE_CHILDREN = {"chronic_outpatient": {"chronic_outpatient_1": "一类", "chronic_outpatient_2": "二类"}}


def care_covered(codes) -> list[str]:
    """The claim care codes a scheme's care list covers: what it lists, plus the children of any parent listed."""
    covered = list(codes)
    for code in codes:
        covered += [c for c in CARE_CHILDREN.get(code, {}) if c not in covered]
    return covered


def care_unspecified(claim_care: str, scheme_care) -> str:
    """Why a claim of a parent code misses a care list covering some of its children but not the parent itself:
    '一类还是二类未说明，只赔付一类门诊慢特病（视同住院）；…'.  Empty when that is not why."""
    children = CARE_CHILDREN.get(claim_care, {})
    covered = care_covered(scheme_care)
    paid = [c for c in children if c in covered]
    if not paid or claim_care in covered:
        return ""
    return (f"{'还是'.join(children.values())}未说明，只赔付{'、'.join(CARE[c] for c in paid)}；"
            f"理赔时请写明 {'或 '.join(f'{c}（{name}）' for c, name in children.items())}")


HOSPITAL_LEVELS = {1: "一级医疗机构", 2: "二级医疗机构", 3: "三级医疗机构"}

HOSPITAL_GRADES = {"甲": "甲等", "乙": "乙等", "丙": "丙等"}

SEX = {"female": "女性", "male": "男性"}

BASIC_INSURANCE = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险", "none": "未参加基本医疗保险"}
BASIC_STATUS = {"active": "正常享受待遇", "arrears": "欠费暂停待遇", "terminated": "参保关系中断"}

COVERS = {
    "in_policy_self_pay": "医保政策范围内个人自付",
    "out_of_policy_self_pay": "医保政策范围外个人自费",
}  # the engine's only built-in kinds of cost; drugs and treatments are the scheme's own lists

# who pays an item several liabilities could pay (the version's `hit_policy`), as decision tables say it
HIT_POLICIES = {"first": "书写在前的责任赔付", "max": "赔得多的责任赔付"}

PAYERS = {
    "self": "个人自付",
    "personal_account": "职工医保个人账户",
    "government": "财政资助",
    "donor": "社会捐赠",
    "employer": "单位团体缴费",
    "assistance_fund": "医疗救助资金",
}
# Who pays what subsidies leave of a person's premium (`pay_with`); each is also a payer above.
PAY_WITH = ["self", "personal_account", "employer", "donor"]

RELATIVES = {"self": "本人", "spouse": "配偶", "parent": "父母", "child": "子女"}

LAYER_KINDS = {
    "basic": "基本医疗保险",
    "critical_illness": "大病保险",
    "supplementary": "补充保险",
    "assistance": "医疗救助",
    "civil_aid": "民政救助",
    "scheme": "本惠民保方案",
}

ELIGIBILITY_OUTCOMES = {"eligible": "可享受待遇", "suspended": "暂停享受待遇", "not_eligible": "不符合参保条件",
                        "not_covered": "不在保障期间"}

# Who a waiting period does not apply to (`eligibility.waiting_period.exempt`).
WAITING_EXEMPTIONS = {"renewal": "续保人员", "accident": "意外伤害", "newborn": "新生儿"}
# Dated events of a member's history a claim may carry (`member.events`, see engine/timeline.py).
MEMBER_EVENTS = {"enrolled": "参保", "basic_arrears": "基本医保欠费", "restored": "补缴后恢复待遇"}

# Condition keys a scheme may use in `when:`; the review flags the ones regulators forbid as preconditions.
CONDITION_KEYS = {
    "age": "年龄",
    "pre_existing": "既往症",
    "sex": "性别",
    "low_income": "低收入类别",
    **{code: labels[0] for code, labels in SPECIAL_GROUPS.items()},
    "hospital_level": "医院等级",
    "hospital_in": "就诊医院所在名单",
    "care": "就医类型",
    "basic_insurance": "基本医保类别",
    "basic_insurance_status": "基本医保状态",
    "hukou": "户籍",
    "occupation": "职业",
}
HUKOU = {"local": "本地户籍", "nonlocal": "外地户籍"}
OCCUPATION = {"general": "一般职业", "high_risk": "高风险职业"}

MAX_AGE = 150

# Every dimension the coverage checker enumerates: key → all values a person or claim can have.
DIMENSIONS: dict[str, list] = {
    "age": list(range(0, MAX_AGE + 1)),
    "pre_existing": [False, True],
    "sex": list(SEX),
    "low_income": LOW_INCOME_VALUES,
    **{code: [False, True] for code in SPECIAL_GROUPS},
    "hospital_level": list(HOSPITAL_LEVELS),
    "care": list(CARE),
    "basic_insurance": list(BASIC_INSURANCE),
    "basic_insurance_status": list(BASIC_STATUS),
    "hukou": list(HUKOU),
    "occupation": list(OCCUPATION),
}


def label(table: dict, code) -> str:
    return table.get(code, str(code))

# What a scheme declares it publishes (regulation.disclosure) and which personal data it collects
# (regulation.data_items); the review checks them against what a regime requires or allows.
DISCLOSURE_ITEMS = {"enrolment": "参保情况", "claims": "赔付情况", "settlement": "结算情况", "income_expense": "收支情况"}
DATA_ITEMS = {
    "identity": "身份信息",
    "contact": "联系方式",
    "basic_insurance": "医保参保信息",
    "claims": "医疗费用与结算信息",
    "bank_account": "收款账户",
    "health_questionnaire": "健康告知问卷",
    "medical_history": "既往病史与诊疗记录",
    "genetic": "基因检测信息",
    "location": "位置信息",
    "address_book": "通讯录",
}

# Choices that move money (model.Choice.key) → what a person calls them; each must be sourced or assumed.
CHOICES = {
    "rounding": "取整规则",
    "one_stop": "一站式结算",
    "age_reference": "计算年龄的日期",
    "care": "覆盖的就医类型",
    "deductible_order": "共用起付线的扣减顺序",
    "subsidy_order": "多项资助的扣减顺序",
    "filing.authorisation": "三书·授权书",
    "filing.actuarial_opinion": "三书·精算意见书",
    "filing.legal_opinion": "三书·法律意见书",
}
# Where each choice is written, for messages that ask for a missing one.
CHOICE_KEYS = {"rounding": "settlement.rounding", "one_stop": "settlement.one_stop",
               "age_reference": "premium.age_reference", "care": "care", "deductible_order": "order",
               "subsidy_order": "funding.subsidy_order", "filing.authorisation": "filings.authorisation",
               "filing.actuarial_opinion": "filings.actuarial_opinion", "filing.legal_opinion": "filings.legal_opinion"}

ROUNDING = {"half_up": "四舍五入", "half_even": "四舍六入五成双", "down": "舍去分以下"}
AGE_REFERENCE = {"period_start": "保险期间起始日", "enrolment_start": "参保期起始日"}
DEDUCTIBLE_ORDERS = {
    "in_policy_first": "先扣政策范围内个人自付，再扣政策范围外个人自费",
    "out_of_policy_first": "先扣政策范围外个人自费，再扣政策范围内个人自付",
    "pro_rata": "按各部分费用的比例分摊",
    "best_for_patient": "按对患者赔付最多的顺序扣减",
}
SUBSIDY_ORDERS = {"as_written": "按书写顺序依次资助，每项最多资助剩下的保费"}
FILING_STATES = {True: "已出具", False: "未出具", "unknown": "来源未说明"}
# Terms a scheme declares about itself beyond its money: surplus roll-over and claims service (model.Surplus, Service).
SURPLUS_DESTINATIONS = {"next_period": "转入下一保险期（年度）滚存使用", "next_cycle": "转入下一承办周期滚存使用"}
DEADLINE_UNITS = {"days": "天", "working_days": "个工作日"}
# Regulatory regimes a version may name in `regulation.regimes` besides its own source documents.
REGIMES = {"cbirc-2021-city-customised": "原银保监会《关于规范保险公司城市定制型商业医疗保险业务的通知》（2021 年）"}
