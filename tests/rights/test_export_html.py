"""The export as a page for a person to read: the policy's words in the reader's
language, every value escaped, and nothing but one stylesheet its CSP allows by hash."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

from tests.rights.conftest import ALICE, NOW
from walletauth.rights import export_subject, record_provision, to_html
from walletauth.rights.export_html import CONTENT_SECURITY_POLICY

LATER = NOW + timedelta(minutes=5)
HOSTILE = '<script>alert("x")</script>&"'


def exported(store):
    store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9", user_agent="curl/8.0")
    store.put_record(ALICE, "contact_email", "service_provision", {"email": HOSTILE}, now=NOW,
                     source="signup")
    store.set_consent(ALICE, "prior_consent", True, now=NOW)
    record_provision(store, ALICE, HOSTILE, ["contact_email"], "prior_consent", now=NOW)
    return export_subject(store, ALICE, now=LATER)


def only_stylesheet(page: str) -> str:
    [stylesheet] = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    return stylesheet


def test_the_page_names_data_and_purposes_in_the_policys_words_in_either_language(store):
    document = exported(store)

    ja, en = to_html(document, lang="ja"), to_html(document, lang="en")

    email = store.policy.category("contact_email").text
    purpose = store.policy.purpose("service_provision").text
    assert '<html lang="ja">' in ja and '<html lang="en">' in en
    assert email.ja in ja and purpose.ja in ja and "記録" in ja
    assert email.en in en and purpose.en in en and "Records" in en
    assert email.ja not in en
    assert ALICE in ja and ALICE in en
    # Instants are written for people, in UTC, as the header says.
    assert LATER.strftime("%Y-%m-%d %H:%M:%S") in en and "All times are UTC." in en


def test_every_value_is_escaped(store):
    page = to_html(exported(store), lang="en")

    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;") == 2


def test_the_content_security_policy_allows_exactly_the_pages_one_stylesheet(store):
    page = to_html(exported(store), lang="ja")

    digest = hashlib.sha256(only_stylesheet(page).encode()).digest()
    assert f"style-src 'sha256-{base64.b64encode(digest).decode()}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert not re.search(r"<(script|img|link|iframe|object)\b|\sstyle=|\son\w+=", page)


def test_empty_sections_are_said_not_left_blank(metalive):
    metalive.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")

    page = to_html(export_subject(metalive, ALICE, now=LATER), lang="en")

    assert "203.0.113.0/24" in page  # METALIVE's access log, disclosed
    for section in ("Withheld from this export", "Provision to third parties"):
        assert "None." in page.split(section, 1)[1].split("<h2>", 1)[0]
