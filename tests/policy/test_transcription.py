"""The shipped policies transcribe the published texts faithfully and completely.

Every Japanese text is a verbatim quote (see ``helpers.normalise``), and every clause
of both texts is served by a mechanism of the policy data, or is listed as prose with
the reason it needs no data mechanism.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.policy.helpers import localized_texts, normalise
from walletauth.policy import Policy, load_policy, shipped_policy_text

SHIPPED = ("abcrecords", "metalive")


def _quotes(name: str) -> list[tuple[str, str]]:
    policy = load_policy(name)
    return [(path, text.ja) for path, text in localized_texts(policy, name)]


@pytest.mark.parametrize(
    ("path", "quote"),
    [pytest.param(path, quote, id=path) for name in SHIPPED for path, quote in _quotes(name)],
)
def test_every_japanese_text_is_a_verbatim_quote(path, quote):
    name = path.split(".", 1)[0]
    assert normalise(quote) in normalise(shipped_policy_text(name)), path


@pytest.mark.parametrize("name", SHIPPED)
def test_contact_details_are_quoted_from_the_text(name):
    contact = load_policy(name).contact
    original = normalise(shipped_policy_text(name))
    assert normalise(contact.email) in original
    if contact.postal_address is not None:
        assert normalise(contact.postal_address) in original


# Each clause of a text -> the mechanisms serving it: ("purpose" | "category" | "ground" |
# "right" | "age" | "contact" | "joint_use" | "outsourcing" | "withheld", id), or
# ("prose", why no data mechanism is needed).
ABCRECORDS_CLAUSES: dict[str, list[tuple[str, str]]] = {
    "1. 利用者情報": [
        ("category", "wallet_address"),
        ("category", "contact_email"),
        ("category", "application_url"),
        ("category", "inquiry"),
        ("category", "access_log"),
        ("category", "cookie_id"),
        ("category", "device_info"),
        ("category", "location"),
        ("category", "browser_language"),
    ],
    "2. 利用目的": [
        ("purpose", "service_provision"),
        ("purpose", "quality_marketing"),
        ("purpose", "partner_guidance"),
    ],
    "3. 業務の委託": [("outsourcing", "ABCRECORDS 3")],
    "4. 第三者への提供": [
        ("ground", "prior_consent"),
        ("ground", "required_by_law"),
        ("ground", "protect_life_body_property"),
        ("ground", "public_health_children"),
        ("ground", "government_cooperation"),
    ],
    "5. 共同利用": [("joint_use", "ABCRECORDS 5")],
    "6. 利用者情報の管理について": [
        (
            "prose",
            "security measures are organisational; the retention periods it"
            " announces are the categories' retention tables",
        ),
    ],
    "7. お問い合わせ": [
        ("right", "notify_purposes"),
        ("right", "export"),
        ("right", "correct"),
        ("right", "erase"),
        ("right", "restrict"),
        ("right", "stop_third_party"),
    ],
    "8. 当社開設 Web サイトにおけるクッキー及び Web ビーコンの利用について": [
        ("category", "cookie_id"),
        ("prose", "refusing cookies happens in the browser, outside walletauth"),
    ],
    "9. 提供の任意性とその結果": [
        ("prose", "voluntariness is enforced by consent purposes defaulting to off"),
    ],
    "10. 利用者情報に関する受付窓口": [("contact", "ABCRECORDS 10")],
    "11. 本規定の変更": [
        ("prose", "changes ship as a new policy version, which consent records carry"),
    ],
}

METALIVE_CLAUSES: dict[str, list[tuple[str, str]]] = {
    "個人情報の定義": [("category", "contact_email"), ("category", "wallet_address")],
    "個人情報利用目的": [
        ("purpose", "live_streaming"),
        ("purpose", "analytics_marketing"),
        ("purpose", "support"),
        ("purpose", "fraud_prevention"),
        ("purpose", "advertising"),
        ("purpose", "access_analysis"),
        ("purpose", "email_information"),
        ("purpose", "payment"),
        ("category", "inquiry"),
        ("category", "payment_reference"),
    ],
    "第三者提供の制限": [
        ("ground", "prior_consent"),
        ("ground", "protect_life_body_property"),
        ("ground", "public_health_children"),
        ("ground", "service_improvement_analysis"),
        ("ground", "anonymised_statistics"),
        ("ground", "advertising_use"),
        ("ground", "advertiser_services"),
        ("ground", "outsourcing"),
        ("ground", "business_succession"),
        ("ground", "government_cooperation"),
        ("ground", "permitted_by_law"),
        ("joint_use", "METALIVE 第三者提供の制限"),
    ],
    "個人情報の適正な取得": [
        ("age", "METALIVE 個人情報の適正な取得"),
        ("category", "age_confirmation"),
        ("category", "guardian_consent"),
    ],
    "個人情報の安全管理従業員の監督委託先の監督": [
        ("prose", "security measures and supervision of contractors are organisational"),
    ],
    "個人情報の開示、通知、利用停止": [
        ("right", "export"),
        ("right", "restrict"),
        ("prose", "アクセスログなどの個人情報以外の情報 withholds information that is no one's;"
                  " logs filed under a wallet are personal information and disclosed"),
    ],
    "個人情報の訂正等": [("right", "correct"), ("right", "erase")],
    "ログデータ": [("category", "access_log"), ("category", "device_info")],
    "クッキー": [("category", "cookie_id")],
    "アクセスログ等の記録、開示": [
        ("category", "posting_log"),
        ("purpose", "legal_requests"),
        ("ground", "disclosure_with_consent"),
        ("ground", "criminal_investigation"),
        ("ground", "public_body_inquiry"),
        ("ground", "claimed_damage_disclosure"),
    ],
    "免責": [("prose", "disclaims liability for users' own disclosures; nothing to enforce")],
    "サービスプロバイダ": [("outsourcing", "METALIVE サービスプロバイダ")],
    "プライバシーポリシーの変更": [
        ("prose", "changes ship as a new policy version, which consent records carry"),
    ],
    "お問い合わせ": [("contact", "METALIVE お問い合わせ")],
}


def _abcrecords_headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1].isdigit() and ". " in line[:4]]


def _metalive_headings(text: str) -> list[str]:
    # Headings are short "- " lines; the items listed under a heading are sentences
    # (ending in "。") or longer than any heading.
    return [
        line.removeprefix("- ")
        for line in text.splitlines()
        if line.startswith("- ") and not line.endswith(("。", ".")) and len(line) <= 30
    ]


def _clause_label(name: str, heading: str) -> str:
    if name == "abcrecords":
        return f"ABCRECORDS {heading.split('.', 1)[0]}"
    return f"METALIVE {heading}"


def _mechanism_exists(policy: Policy, kind: str, ref: str, clause: str) -> bool:
    match kind:
        case "purpose":
            return ref in policy.purposes and policy.purposes[ref].clause.startswith(clause)
        case "category":
            return ref in policy.categories
        case "ground":
            ground = policy.ground(ref)
            return ground.clause.startswith(clause)
        case "right":
            return any(r.id == ref and r.clause == clause for r in policy.rights)
        case "withheld":
            category = policy.categories[ref]
            return not category.disclosed_on_export and category.withheld_clause == clause
        case "age":
            return policy.age is not None and policy.age.clause == ref == clause
        case "contact":
            return policy.contact.clause == ref == clause
        case "joint_use":
            return policy.joint_use.clause == ref and not policy.joint_use.allowed
        case "outsourcing":
            return policy.outsourcing is not None and policy.outsourcing.clause == ref == clause
        case "prose":
            return bool(ref.strip())
    raise AssertionError(f"unknown mechanism kind {kind!r}")


@pytest.mark.parametrize(
    ("name", "table", "headings"),
    [
        ("abcrecords", ABCRECORDS_CLAUSES, _abcrecords_headings),
        ("metalive", METALIVE_CLAUSES, _metalive_headings),
    ],
)
def test_every_clause_of_the_text_is_served(name, table, headings):
    policy = load_policy(name)
    found = headings(shipped_policy_text(name))
    assert found == list(table), "the clause table must list every clause, in order"
    for heading, mechanisms in table.items():
        clause = _clause_label(name, heading)
        assert mechanisms, f"{heading}: no mechanism and no prose reason"
        for kind, ref in mechanisms:
            assert _mechanism_exists(policy, kind, ref, clause), f"{heading}: {kind} {ref}"


def test_metalive_clause_table_has_every_heading_of_the_text():
    text = shipped_policy_text("metalive")
    for heading in METALIVE_CLAUSES:
        assert f"\n- {heading}\n" in text, heading


@pytest.mark.parametrize("name", SHIPPED)
def test_every_clause_reference_names_a_clause_of_the_text(name):
    policy = load_policy(name)
    table = ABCRECORDS_CLAUSES if name == "abcrecords" else METALIVE_CLAUSES
    labels = {_clause_label(name, heading) for heading in table}
    references = [
        *(p.clause for p in policy.purposes.values()),
        *(c.clause for c in policy.categories.values()),
        *(g.clause for g in policy.third_party.grounds),
        *(r.clause for r in policy.rights),
        policy.third_party.clause,
        policy.joint_use.clause,
        policy.contact.clause,
    ]
    for reference in references:
        # "ABCRECORDS 4 ①" refers to an item of clause 4
        assert reference in labels or reference.rsplit(" ", 1)[0] in labels, reference


def test_every_purpose_and_category_has_a_clause_table_entry():
    for name, table in (("abcrecords", ABCRECORDS_CLAUSES), ("metalive", METALIVE_CLAUSES)):
        policy = load_policy(name)
        listed = {(kind, ref) for mechanisms in table.values() for kind, ref in mechanisms}
        for purpose_id in policy.purposes:
            assert ("purpose", purpose_id) in listed, f"{name}: purpose {purpose_id}"
        for category_id in policy.categories:
            assert ("category", category_id) in listed, f"{name}: category {category_id}"
        for ground in policy.third_party.grounds:
            assert ("ground", ground.id) in listed, f"{name}: ground {ground.id}"
        for right in policy.rights:
            assert ("right", right.id) in listed, f"{name}: right {right.id}"


# SHA-256 of the published texts as received with the brief (the seed copies), so that
# any edit to the shipped copies, which every quote above is checked against, shows.
PUBLISHED_TEXT_SHA256 = {
    "abcrecords": "db50c1283a6dd529e9865146801ce5d6fd7eae74e1a333aa022b6fffb4d49c83",
    "metalive": "423f7e3c803c9461987a92a1a2629e28871d9a4111bdd611f87e73c49a11c016",
}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_texts_are_the_published_ones_in_full(name):
    text = shipped_policy_text(name)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == PUBLISHED_TEXT_SHA256[name]


@pytest.mark.parametrize(
    ("name", "table"), [("abcrecords", ABCRECORDS_CLAUSES), ("metalive", METALIVE_CLAUSES)]
)
def test_every_category_is_served_under_the_clause_it_cites(name, table):
    # A category may serve several clauses (cookies: 1 and 8), but the clause the policy
    # file cites for it must be one of them, so the citation points at the right text.
    policy = load_policy(name)
    served_under = {
        ref: {_clause_label(name, heading) for heading, mechanisms in table.items()
              if ("category", ref) in mechanisms}
        for ref in policy.categories
    }
    for category in policy.categories.values():
        assert category.clause in served_under[category.id], (category.id, category.clause)
