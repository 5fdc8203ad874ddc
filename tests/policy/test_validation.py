"""An inconsistent policy file is refused at load with ``invalid_policy`` and a message
that names the file, the entry and the problem; one test per rule."""

from __future__ import annotations

import pytest

from tests.policy.helpers import write_policy
from walletauth.policy import PolicyError, load_policy

MINIMAL = """
id = "tiny"
version = "1"
source = "test"
name = { ja = "方針", en = "Policy" }
login = { purpose = "login", wallet_category = "wallet" }

[[purposes]]
id = "login"
basis = "necessary"
clause = "T 1"
text = { ja = "ログイン", en = "Sign-in" }

[[purposes]]
id = "news"
basis = "consent"
clause = "T 1"
text = { ja = "お知らせ", en = "News" }

[[categories]]
id = "wallet"
clause = "T 2"
text = { ja = "アドレス", en = "Address" }
retention = { login = "1y" }
fields = { chain_id = "keep" }

[[categories]]
id = "email"
clause = "T 2"
text = { ja = "メール", en = "Email" }
retention = { news = "90d" }
fields = { email = "keep" }

[third_party]
clause = "T 3"

[[third_party.grounds]]
id = "law"
clause = "T 3"
text = { ja = "法令", en = "Law" }
categories = ["wallet", "email"]

[joint_use]
allowed = false
clause = "T 4"

[[rights]]
id = "export"
clause = "T 5"

[contact]
clause = "T 6"
organisation = { ja = "会社", en = "Company" }
email = "privacy@example.org"
"""


def _refusal(tmp_path, text: str) -> str:
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.code == "invalid_policy"
    assert str(path) in caught.value.message, "the message names the file"
    return caught.value.message


def _replace(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_minimal_policy_is_valid(tmp_path):
    policy = load_policy(write_policy(tmp_path, MINIMAL))
    assert set(policy.purposes) == {"login", "news"}
    assert policy.retention("email", "news").days == 90


def test_a_category_kept_for_an_unknown_purpose_is_refused(tmp_path):
    message = _refusal(
        tmp_path,
        _replace('retention = { news = "90d" }', 'retention = { news = "90d", newz = "1y" }'),
    )
    assert "category 'email'" in message and "unknown purpose 'newz'" in message


def test_a_login_rule_naming_an_unknown_category_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('wallet_category = "wallet"', 'wallet_category = "w"'))
    assert "login.wallet_category" in message and "'w'" in message


def test_a_login_rule_naming_an_unknown_purpose_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('purpose = "login",', 'purpose = "signin",'))
    assert "login.purpose" in message and "'signin'" in message


def test_a_login_rule_on_a_consent_purpose_is_refused(tmp_path):
    text = _replace('retention = { login = "1y" }', 'retention = { login = "1y", news = "1y" }')
    message = _refusal(tmp_path, _replace('purpose = "login",', 'purpose = "news",', text))
    assert "login.purpose 'news' has basis 'consent'" in message


def test_an_age_rule_naming_an_unknown_category_is_refused(tmp_path):
    text = (
        MINIMAL + '\n[age]\nguardian_consent_below = 13\nclause = "T 7"\n'
        'confirmation_category = "age"\n'
    )
    message = _refusal(tmp_path, text)
    assert "age.confirmation_category" in message and "'age'" in message


def test_a_purpose_without_a_basis_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('basis = "consent"\n', ""))
    assert "purposes.news.basis: is required but missing" in message


def test_an_unknown_basis_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('basis = "consent"', 'basis = "legitimate_interest"'))
    assert "purposes.news.basis" in message


@pytest.mark.parametrize("retention", ['"0d"', '"-1d"', '"0y"'])
def test_a_zero_or_negative_retention_is_refused(tmp_path, retention):
    message = _refusal(tmp_path, _replace('news = "90d"', f"news = {retention}"))
    assert "categories.email.retention.news" in message


@pytest.mark.parametrize("retention", ['"30m"', '"90"', "90", '"P90D"', '"1.5y"', '""'])
def test_a_retention_not_written_as_days_weeks_or_years_is_refused(tmp_path, retention):
    message = _refusal(tmp_path, _replace('news = "90d"', f"news = {retention}"))
    assert "categories.email.retention.news" in message and "'90d'" in message


def test_a_category_with_no_purpose_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('retention = { news = "90d" }', "retention = {}"))
    assert "category 'email' serves no purpose" in message


def test_a_category_with_no_fields_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('fields = { email = "keep" }', "fields = {}"))
    assert "category 'email' declares no fields" in message


def test_an_unknown_field_rule_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('email = "keep"', 'email = "encrypt"'))
    assert "categories.email.fields.email" in message


def test_a_purpose_no_category_serves_is_refused(tmp_path):
    message = _refusal(
        tmp_path, _replace('retention = { news = "90d" }', 'retention = { login = "90d" }')
    )
    assert "purpose 'news' is served by no category" in message


@pytest.mark.parametrize(
    ("table", "entry"),
    [("purposes", 'id = "login"'), ("categories", 'id = "wallet"')],
)
def test_a_duplicate_purpose_or_category_id_is_refused(tmp_path, table, entry):
    start = MINIMAL.index(f"[[{table}]]\n{entry}")
    end = MINIMAL.index("\n\n[", start)
    message = _refusal(tmp_path, MINIMAL + "\n" + MINIMAL[start:end] + "\n")
    assert table in message and "declared twice" in message


def test_a_duplicate_third_party_ground_is_refused(tmp_path):
    ground = (
        '[[third_party.grounds]]\nid = "law"\nclause = "T 3"\ntext = { ja = "法令", en = "Law" }\n'
        'categories = []\n'
    )
    message = _refusal(tmp_path, MINIMAL + "\n" + ground)
    assert "third-party ground 'law' is declared 2 times" in message


def test_a_duplicate_right_is_refused(tmp_path):
    message = _refusal(tmp_path, MINIMAL + '\n[[rights]]\nid = "export"\nclause = "T 5"\n')
    assert "right 'export' is declared 2 times" in message


def test_a_third_party_ground_with_the_id_of_a_purpose_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('id = "law"', 'id = "news"'))
    assert "third-party ground 'news' has the id of a purpose" in message


def test_a_third_party_ground_without_a_clause_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('clause = "T 3"\ntext', "text"))
    assert "third_party.grounds.0.clause: is required but missing" in message


def test_a_third_party_ground_with_an_empty_clause_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('clause = "T 3"\ntext', 'clause = ""\ntext'))
    assert "third_party.grounds.0.clause" in message


def test_a_consent_purpose_on_by_default_is_refused(tmp_path):
    message = _refusal(
        tmp_path, _replace('basis = "consent"', 'basis = "consent"\ndefault_on = true')
    )
    assert "purpose 'news'" in message and "consent is never presumed" in message


def test_a_category_withheld_on_export_without_a_reason_is_refused(tmp_path):
    message = _refusal(
        tmp_path,
        _replace(
            'fields = { email = "keep" }',
            'fields = { email = "keep" }\ndisclosed_on_export = false',
        ),
    )
    assert "category 'email' is not disclosed on export but gives no withheld_reason" in message


def test_a_misspelt_setting_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('basis = "consent"', 'basis = "consent"\ndefault = true'))
    assert "purposes.news.default: is not a known setting" in message


def test_an_entry_without_an_id_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('id = "news"\n', ""))
    assert "purposes entry #2 has no id" in message


def test_purposes_written_as_a_table_are_refused(tmp_path):
    text = _replace('[[purposes]]\nid = "news"', '[purposes.news]\nid = "news"')
    text = _replace('[[purposes]]\nid = "login"', '[purposes.login]\nid = "login"', text)
    message = _refusal(tmp_path, text)
    assert "purposes must be an array of tables" in message


def test_toml_syntax_errors_are_refused(tmp_path):
    message = _refusal(tmp_path, MINIMAL + "\nthis is not toml\n")
    assert "not valid TOML" in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode("utf-8") + b"\n# caf\xe9\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.code == "invalid_policy" and "not UTF-8" in caught.value.message


def test_a_contact_without_an_email_address_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace('email = "privacy@example.org"', 'email = "privacy"'))
    assert "contact.email" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = _replace('basis = "consent"', 'basis = "consent"\ndefault_on = true')
    text = _replace('retention = { news = "90d" }', 'retention = { news = "90d", x = "1y" }', text)
    message = _refusal(tmp_path, text)
    assert "consent is never presumed" in message and "unknown purpose 'x'" in message


def test_a_legal_obligation_that_names_no_law_is_refused(tmp_path):
    # Only a named duty may keep records through an erasure: "legal" alone is no ground.
    message = _refusal(tmp_path, _replace('basis = "consent"', 'basis = "legal_obligation"'))
    assert "purpose 'news' has basis 'legal_obligation' but names no legal_source" in message


def test_a_legal_source_on_a_purpose_that_is_no_legal_obligation_is_refused(tmp_path):
    message = _refusal(tmp_path, _replace(
        'text = { ja = "お知らせ", en = "News" }',
        'text = { ja = "お知らせ", en = "News" }\nlegal_source = { ja = "法", en = "Act" }'))
    assert "purpose 'news' names a legal_source but its basis is 'consent'" in message


def test_a_legal_obligation_naming_its_law_is_a_legal_duty(tmp_path):
    text = _replace('basis = "consent"', 'basis = "legal_obligation"')
    text = _replace('text = { ja = "お知らせ", en = "News" }',
                    'text = { ja = "お知らせ", en = "News" }\n'
                    'legal_source = { ja = "法", en = "Act" }', text)
    assert load_policy(write_policy(tmp_path, text)).legal_duties == ("news",)


def test_an_intake_naming_an_unknown_category_or_field_or_both_kinds_is_refused(tmp_path):
    text = MINIMAL + (
        '\n[[intakes]]\nid = "signup"\nclause = "T 9"\nlabel = { ja = "申込", en = "Sign-up" }\n'
        'required = ["email.email", "phone", "email.url"]\noptional = ["email.email"]\n'
    )
    message = _refusal(tmp_path, text)
    assert "intake 'signup' names the unknown category 'phone'" in message
    assert "intake 'signup' names 'email.url', not a field of 'email'" in message
    assert "intake 'signup' lists 'email.email' as both required and optional" in message


def test_statements_and_intakes_are_loaded_when_consistent(tmp_path):
    text = MINIMAL + (
        '\n[[statements]]\nid = "cookies"\nclause = "T 8"\n'
        'text = { ja = "クッキー", en = "Cookies" }\n'
        '\n[[intakes]]\nid = "signup"\nclause = "T 9"\nlabel = { ja = "申込", en = "Sign-up" }\n'
        'required = ["email.email"]\noptional = ["wallet"]\n'
    )
    policy = load_policy(write_policy(tmp_path, text))
    assert [s.id for s in policy.statements] == ["cookies"]
    assert policy.intakes[0].required == ("email.email",)


def test_a_ground_named_joint_use_is_refused_joint_use_is_the_joint_use_tables(tmp_path):
    message = _refusal(tmp_path, _replace('id = "law"', 'id = "joint_use"'))
    assert "third-party ground 'joint_use' is reserved for joint use" in message


def test_joint_use_is_allowed_only_where_the_policy_allows_it(tmp_path):
    from walletauth.policy import SubjectState, decide_provision

    nobody = SubjectState(consents={})
    refusing = load_policy(write_policy(tmp_path, MINIMAL))
    allowing = load_policy(write_policy(tmp_path, _replace(
        "[joint_use]\nallowed = false", "[joint_use]\nallowed = true")))
    assert decide_provision(refusing, "joint_use", nobody, categories=()).reason == (
        "joint_use_not_allowed")
    assert decide_provision(allowing, "joint_use", nobody, categories=()).allowed


def test_an_operator_consent_requirement_on_a_ground_requiring_none_is_refused(tmp_path):
    text = _replace('id = "law"', 'id = "law"\nrequires_consent_set_by = "operator"')
    message = _refusal(tmp_path, text)
    assert "third-party ground 'law' says the operator set its consent requirement" in message
