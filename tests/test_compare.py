"""Side-by-side comparison: the same patients and persons through each scheme."""
from decimal import Decimal

from engine.compare import benefit_curve, compare, default_bill_sizes, parameter_rows, standard_profiles


def test_cancer_profile_payout_is_the_hand_arithmetic(xianhuibao):
    version = xianhuibao.version("2023")
    result = compare([version], bill_sizes=[0, 100_000_00])
    cancer = next(p for p in result["profiles"] if p["id"] == "cancer-inpatient")
    # in-policy (100,000 − 18,000) × 80 % = 65,600; out-of-policy (200,000 − 24,000) × 70 % = 123,200
    assert cancer["cells"][0]["paid_fen"] == 188_800_00
    assert cancer["cells"][0]["remainder_fen"] == 300_000_00 - 188_800_00


def test_every_parameter_row_has_one_value_per_scheme(xianhuibao):
    version = xianhuibao.version("2023")
    rows = parameter_rows([version, version])
    assert rows and all(len(row["values"]) == 2 for row in rows)
    assert next(r for r in rows if r["key"] == "premium")["values"] == ["69.00 元", "69.00 元"]


def test_benefit_curve_starts_at_zero_and_never_falls(xianhuibao):
    curve = benefit_curve(xianhuibao.version("2023"), default_bill_sizes(600_000, 30))
    assert curve[0] == 0
    assert all(a <= b for a, b in zip(curve, curve[1:]))
    # 30,000 self-pay (12,000 out-of-policy, 18,000 in-policy) is all deductible: nothing paid
    assert benefit_curve(xianhuibao.version("2023"), [30_000_00])[0] == 0


def test_curve_split_uses_the_declared_out_of_policy_share(xianhuibao):
    # 100,000 at 40 % out-of-policy: in (60,000 − 18,000) × 80 % = 33,600; out (40,000 − 24,000) × 70 % = 11,200
    assert benefit_curve(xianhuibao.version("2023"), [100_000_00], Decimal("0.4")) == [44_800_00]


def test_standard_profiles_name_no_city():
    text = str(standard_profiles())
    assert "咸宁" not in text and "赣州" not in text and "枣庄" not in text


def test_a_value_resting_on_an_assumption_is_marked_and_a_sourced_one_is_not(products_dir):
    from engine import load_product
    zaohuibao = load_product(products_dir / "zaohuibao.yaml")
    rows = {r["key"]: r for r in parameter_rows([zaohuibao.version("2024"), zaohuibao.version("2025")])}
    # the seed states the deductible for 2025 (8,000) but not for 2024; that in- and out-of-policy costs share
    # it, and in which order, is assumed both years: the 2025 cell rests on those assumptions only
    deductible = rows["in_policy_deductible"]
    assert deductible["assumed"] == [True, True]
    assert deductible["marked"] == ["【假设】" + value for value in deductible["values"]]
    amount_2024 = zaohuibao.version("2024").scheme_layer.deductibles["annual"].amount.prov.assumed
    assert amount_2024 in deductible["reasons"][0] and amount_2024 not in deductible["reasons"][1]
    assert len(deductible["reasons"][1]) == 2  # shared, and its order
    # the 2025 premium bands are all the source's own
    assert rows["bands"]["assumed"] == [False, False]
    assert rows["bands"]["marked"][1] == rows["bands"]["values"][1]
    assert rows["city"]["assumed"] == [False, False]  # the product header is never an assumption


def test_the_assumed_premium_of_xianhuibao_carries_its_reason(xianhuibao):
    rows = {r["key"]: r for r in parameter_rows([xianhuibao.version("2023")])}
    assert rows["premium"]["marked"] == ["【假设】69.00 元"]
    assert rows["premium"]["reasons"] == [["来源未公布保费；取湖北省内惠民保常见的统一价 69 元"]]
    assert rows["eligibility"]["assumed"] == [False]  # 0 门槛参保 is stated by the source


def test_compare_reports_progress_once_per_evaluation(xianhuibao):
    from engine.compare import comparison_steps
    version = xianhuibao.version("2023")
    calls = []
    compare([version, version], bill_sizes=[0, 50_000_00, 100_000_00], progress=lambda d, t: calls.append((d, t)))
    profiles = standard_profiles()
    # 2 versions × (9 profiles + 5 persons + 3 bill sizes) = 34 evaluations
    assert len(profiles["profiles"]) == 9 and len(profiles["persons"]) == 5
    assert comparison_steps(2, 3) == 34
    assert calls == [(n, 34) for n in range(1, 35)]


def test_the_waiting_period_is_a_row_marked_where_it_is_assumed(products_dir):
    from engine import load_product
    ganzhou = load_product(products_dir / "ganzhou.yaml").version("2024")
    xianning = load_product(products_dir / "xianhuibao.yaml").version("2023")
    row = {r["key"]: r for r in parameter_rows([ganzhou, xianning])}["waiting_period"]
    assert row["values"][0] == "不设等待期"  # 赣州 writes `days: 0`, assumed (its plan states no waiting period)
    assert row["assumed"][0] is True and ganzhou.waiting_period.prov.assumed in row["reasons"][0]
    assert (row["values"][1], row["assumed"][1]) == ("未声明等待期", False)  # 咸惠保's file says nothing of one


def test_profiles_and_curves_go_the_vectorised_path_equal_to_the_rules_path_and_say_which(products_dir,
                                                                                         monkeypatch):
    import engine.compare as compare_module
    from engine import load_product
    from engine.vector import Unsupported

    versions = [v for path in sorted(products_dir.glob("*.yaml")) if not path.name.endswith(".cases.yaml")
                for v in load_product(path).versions]
    sizes = default_bill_sizes(1_500_000, 60)
    vectorised = compare(versions, sizes)
    assert {p["path"] for p in vectorised["paths"].values()} == {"vectorised"}

    def refuse(version, claims):
        raise Unsupported("a refusal for this test")

    monkeypatch.setattr(compare_module, "settle_apart", refuse)
    rules = compare(versions, sizes)
    assert {p["reason"] for p in rules["paths"].values()} == {"a refusal for this test"}
    assert rules["profiles"] == vectorised["profiles"] and rules["curves"] == vectorised["curves"]
    assert any(cell["paid_fen"] for row in rules["profiles"] for cell in row["cells"])
