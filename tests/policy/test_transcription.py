"""The shipped policies transcribe the published texts faithfully and completely.

Every Japanese text is a verbatim quote (see ``helpers.normalise``), and every clause
of both texts is served by a mechanism of the policy data, or is listed as prose with
the reason it needs no data mechanism.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.policy.helpers import localized_texts, normalise
from walletauth.policy import Policy, load_policy, render_policy, shipped_policy_text
from walletauth.policy.original import split_sections

SHIPPED = ("abcrecords", "metalive")


# Our own words, not quotes: a category's label names plainly what a record holds (the
# quoted text may name it only in general terms, or not at all, as METALIVE's wallet).
OWN_WORDS = (".label",)


def _quotes(name: str) -> list[tuple[str, str]]:
    policy = load_policy(name)
    return [(path, text.ja) for path, text in localized_texts(policy, name)
            if not path.endswith(OWN_WORDS)]


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


# The clause map. Each clause (numbered section or heading) of a text -> the mechanisms
# that carry it: ("purpose" | "category" | "ground" | "right" | "withheld" | "age" |
# "contact" | "joint_use" | "outsourcing" | "intake" | "amendment", id) enforce it;
# ("statement", id) serves words no other entry carries. A clause with no mechanism, or
# whose words /policy does not serve, fails the tests below.
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
        ("statement", "collection"),
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
    # Security measures are organisational: served in the text's words. The periods it
    # says are set separately are the categories' retention tables (the operator's).
    "6. 利用者情報の管理について": [("statement", "security"), ("statement", "retention")],
    "7. お問い合わせ": [
        ("right", "notify_purposes"),
        ("right", "export"),
        ("right", "correct"),
        ("right", "erase"),
        ("right", "restrict"),
        ("right", "stop_third_party"),
        ("statement", "inquiries"),
    ],
    # Refusing cookies happens in the browser; the identifier is kept as a keyed hash.
    "8. 当社開設 Web サイトにおけるクッキー及び Web ビーコンの利用について": [
        ("category", "cookie_id"),
        ("statement", "cookies"),
    ],
    # The intakes' required items are enforced: POST /me/inquiries (inquiry) and PUT
    # /me/contact (application) refuse a submission lacking one (required_item_missing).
    "9. 提供の任意性とその結果": [
        ("statement", "optionality"),
        ("intake", "sign_in"),
        ("intake", "application"),
        ("intake", "inquiry"),
    ],
    "10. 利用者情報に関する受付窓口": [("contact", "ABCRECORDS 10"), ("statement", "contact")],
    # A change is a new version whose consent changes the store enforces (amendment);
    # the clause's words are served as a statement.
    "11. 本規定の変更": [("amendment", "ABCRECORDS 11"), ("statement", "changes")],
}

METALIVE_CLAUSES: dict[str, list[tuple[str, str]]] = {
    "個人情報の定義": [
        ("category", "contact_email"),
        ("category", "wallet_address"),
        ("statement", "definition"),
    ],
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
        ("statement", "fair_acquisition"),
    ],
    "個人情報の安全管理従業員の監督委託先の監督": [
        ("statement", "security"),
        ("statement", "contractor_supervision"),
    ],
    "個人情報の開示、通知、利用停止": [
        ("right", "export"),
        ("right", "restrict"),
        # アクセスログなどの個人情報以外の情報 withholds what is no one's: logs filed under a
        # wallet are personal information and disclosed, so nothing is withheld here.
        ("statement", "disclosure_exceptions"),
        ("statement", "restriction_alternatives"),
    ],
    "個人情報の訂正等": [
        ("right", "correct"),
        ("right", "erase"),
        ("statement", "correction_refusal"),
    ],
    "ログデータ": [
        ("category", "access_log"),
        ("category", "device_info"),
        ("statement", "log_data"),
    ],
    "クッキー": [("category", "cookie_id"), ("statement", "cookies")],
    # "May record" (記録することがあります): a category kept for fraud prevention, no legal
    # duty; the disclosure cases are third-party grounds.
    "アクセスログ等の記録、開示": [
        ("category", "posting_log"),
        ("ground", "disclosure_with_consent"),
        ("ground", "criminal_investigation"),
        ("ground", "public_body_inquiry"),
        ("ground", "claimed_damage_disclosure"),
        ("statement", "posting_log"),
        ("statement", "posting_log_disclosure"),
    ],
    "免責": [("statement", "disclaimer")],
    "サービスプロバイダ": [
        ("outsourcing", "METALIVE サービスプロバイダ"),
        ("statement", "service_providers"),
    ],
    "プライバシーポリシーの変更": [
        ("amendment", "METALIVE プライバシーポリシーの変更"),
        ("statement", "changes"),
    ],
    "お問い合わせ": [("contact", "METALIVE お問い合わせ"), ("statement", "inquiries")],
}
CLAUSE_MAPS = {"abcrecords": ABCRECORDS_CLAUSES, "metalive": METALIVE_CLAUSES}


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


def clause_label(name: str, heading: str) -> str:
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
        case "amendment":
            # A change is a new version whose consent changes the store enforces.
            return policy.amendment is not None and policy.amendment.clause == ref == clause
        case "statement":
            return any(s.id == ref and s.clause == clause for s in policy.statements)
        case "intake":
            return any(i.id == ref and i.clause == clause for i in policy.intakes)
    raise AssertionError(f"unknown mechanism kind {kind!r}")


HEADINGS = {"abcrecords": _abcrecords_headings, "metalive": _metalive_headings}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_clause_map_lists_every_clause_of_the_text_in_order(name):
    text = shipped_policy_text(name)
    assert HEADINGS[name](text) == list(CLAUSE_MAPS[name])
    # the sections /policy/text serves and links to are the same clauses
    assert [s.heading.removeprefix("- ") for s in split_sections(text) if s.heading] == list(
        CLAUSE_MAPS[name])


@pytest.mark.parametrize(
    ("name", "heading"), [(name, heading) for name in SHIPPED for heading in CLAUSE_MAPS[name]]
)
def test_every_clause_has_a_mechanism(name, heading):
    policy = load_policy(name)
    clause = clause_label(name, heading)
    mechanisms = CLAUSE_MAPS[name][heading]
    assert mechanisms, f"{heading}: no mechanism"
    for kind, ref in mechanisms:
        assert _mechanism_exists(policy, kind, ref, clause), f"{heading}: {kind} {ref}"


def served_clauses(rendered: dict) -> dict[str, list[str]]:
    """Clause reference -> the texts /policy serves under it (items with their words)."""
    served: dict[str, list[str]] = {}

    def visit(node: object) -> None:
        if isinstance(node, dict):
            words = [node.get(key) for key in ("text", "email", "items")]
            texts = [w for w in words if isinstance(w, str) and w.strip()]
            texts += [item for w in words if isinstance(w, list) for item in w]
            if isinstance(node.get("clause"), str) and texts:
                served.setdefault(node["clause"], []).extend(texts)
            if node.get("withheld_reason"):
                served.setdefault(node["withheld_clause"], []).append(node["withheld_reason"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(rendered)
    return served


def clause_is_served(served: dict[str, list[str]], clause: str) -> bool:
    # "ABCRECORDS 4 ①" serves an item of clause 4
    return any(ref == clause or ref.startswith(clause + " ") for ref in served)


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize(
    ("name", "heading"), [(name, heading) for name in SHIPPED for heading in CLAUSE_MAPS[name]]
)
def test_every_clause_has_served_text(name, heading, lang):
    served = served_clauses(render_policy(load_policy(name), lang))
    assert clause_is_served(served, clause_label(name, heading)), heading


def test_metalive_clause_table_has_every_heading_of_the_text():
    text = shipped_policy_text("metalive")
    for heading in METALIVE_CLAUSES:
        assert f"\n- {heading}\n" in text, heading


@pytest.mark.parametrize("name", SHIPPED)
def test_every_clause_reference_names_a_clause_of_the_text(name):
    policy = load_policy(name)
    labels = {clause_label(name, heading) for heading in CLAUSE_MAPS[name]}
    for reference in policy.clauses:
        # "ABCRECORDS 4 ①" refers to an item of clause 4
        assert reference in labels or reference.rsplit(" ", 1)[0] in labels, reference


@pytest.mark.parametrize("name", SHIPPED)
def test_every_entry_of_the_policy_is_in_the_clause_map(name):
    policy = load_policy(name)
    listed = {(kind, ref) for mechanisms in CLAUSE_MAPS[name].values() for kind, ref in mechanisms}
    entries = [
        *(("purpose", purpose_id) for purpose_id in policy.purposes),
        *(("category", category_id) for category_id in policy.categories),
        *(("ground", ground.id) for ground in policy.third_party.grounds),
        *(("right", right.id) for right in policy.rights),
        *(("statement", statement.id) for statement in policy.statements),
        *(("intake", intake.id) for intake in policy.intakes),
    ]
    assert [entry for entry in entries if entry not in listed] == []


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
        ref: {clause_label(name, heading) for heading, mechanisms in table.items()
              if ("category", ref) in mechanisms}
        for ref in policy.categories
    }
    for category in policy.categories.values():
        assert category.clause in served_under[category.id], (category.id, category.clause)


def _sentences(text: str) -> list[str]:
    """Each sentence of each line (the texts break lines between sentences and items); a
    "。" closing a parenthesis, "(...含みます。)", ends no sentence."""
    return [
        normalise(sentence).removeprefix("-") + "。"
        for line in text.splitlines()
        for sentence in re.split(r"。(?!\))", line)
        if normalise(sentence).removeprefix("-")
    ]


def test_metalive_rights_are_quoted_as_whole_sentences():
    # A right is granted with its conditions: a fragment ("...を請求することができ") would
    # serve the grant without them. (ABCRECORDS 7 names its rights as nouns of one
    # sentence, served whole as a statement.)
    policy = load_policy("metalive")
    sentences = _sentences(shipped_policy_text("metalive"))
    for right in policy.rights:
        assert right.text is not None
        assert normalise(right.text.ja) in sentences, right.id


@pytest.mark.parametrize("name", SHIPPED)
def test_every_category_names_what_is_collected_in_both_languages(name):
    policy = load_policy(name)
    for category in policy.categories.values():
        assert category.label is not None, category.id
        assert category.label.ja.strip() and category.label.en.strip()
    wallet = policy.category(policy.login.wallet_category)
    assert "ウォレットアドレス" in wallet.label.ja and "Wallet address" in wallet.label.en


def test_metalive_device_info_quotes_only_what_is_collected():
    device = load_policy("metalive").category("device_info")
    assert "デバイス名" not in device.text.ja and "アプリの設定" not in device.text.ja
    assert "os" in device.fields and "device_name" not in device.fields
