"""``walletauth policy diff A B``: what changed between two policies, by name or path."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.policy.changes import NEW_MARKETING_JA, OLD_MARKETING_JA, write_v2
from tests.policy.helpers import write_policy
from walletauth.cli import app
from walletauth.policy import load_policy
from walletauth.policy.diff import policy_diff


def _diff(*arguments: str):
    return CliRunner().invoke(app, ["policy", "diff", *arguments])


def test_a_changed_purpose_text_is_printed_with_its_consequence(tmp_path):
    result = _diff("abcrecords", str(write_v2(tmp_path, new_purpose=True)))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "version: 1.0 -> 2.0"
    assert "effective date: None -> 2026-12-01" in lines
    assert "change 2.0 (2026-12-01): Ad delivery added to marketing" in lines
    assert any(line.startswith("purpose quality_marketing: text")
               and OLD_MARKETING_JA in line and NEW_MARKETING_JA in line for line in lines)
    assert ("purpose quality_marketing: consents given to the old text are on hold until"
            " granted again") in lines
    assert "purpose quality_marketing: what changed (operator): Ad delivery was added" in lines
    assert any(line.startswith("purpose newsletter: new, basis consent (off until granted)")
               for line in lines)
    assert "category contact_email: for newsletter not kept -> 1 year" in lines
    assert not any("partner_guidance" in line for line in lines)


def test_a_necessary_purpose_changed_points_at_the_amendment_clause(tmp_path):
    original = load_policy("abcrecords").purposes["service_provision"].text.ja
    write_v2(tmp_path)
    source = (tmp_path / "abcrecords-2.0.toml").read_text(encoding="utf-8")
    text = write_policy(tmp_path, source.replace(f'"{original}"', '"本サービスの提供"', 1))
    lines = policy_diff(load_policy("abcrecords"), load_policy(text))
    assert ("purpose service_provision: necessary, goes on without new consent; check the"
            " change against ABCRECORDS 11") in lines


def test_the_same_policy_has_no_differences():
    result = _diff("metalive", "metalive")
    assert (result.exit_code, result.output) == (0, "")


def test_two_different_policies_by_name():
    result = _diff("abcrecords", "metalive")
    assert result.exit_code == 1
    assert "policy: abcrecords -> metalive" in result.output.splitlines()
    assert "guardian consent below age: None -> 13" in result.output.splitlines()


def test_an_unknown_policy_is_refused_with_its_code(tmp_path):
    result = _diff("abcrecords", str(tmp_path / "missing.toml"))
    assert result.exit_code == 2
    assert "policy_not_found" in result.output
