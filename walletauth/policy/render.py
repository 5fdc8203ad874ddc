"""The policy as a consent screen shows it: JSON-ready, in Japanese or English.

Served by the server at ``GET /policy``. Everything a subject is asked to decide on is
here: each purpose with its basis and whether it is optional (only consent purposes
are; they start off), each data category with the purposes it serves and for how long,
the third-party rules, the rights, the contact point, and the version agreed to, with
its effective date and change history (what changed per purpose: a consent given before
such a change is on hold until given again). Change summaries are the operator's words,
and an effective date the text does not state is the operator's setting: both are
labelled so (``set_by``), never shown as the policy's own words.

A value the policy text does not state (a legal basis, a retention period) is the
operator's setting and is served as such: ``basis_set_by`` / ``retention_set_by`` are
``"operator"`` or ``"policy"``, with a note in the screen's language and, for
``"policy"``, the clause stating it.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NamedTuple

from walletauth.policy.durations import humanise, whole_days
from walletauth.policy.errors import PolicyError
from walletauth.policy.model import (
    AgeRule,
    Amendment,
    Category,
    Contact,
    Intake,
    LocalizedText,
    OperatorNote,
    Outsourcing,
    Policy,
    PolicyChange,
    Purpose,
    Right,
    RightId,
    Statement,
    ThirdPartyGround,
)
from walletauth.policy.original import clause_anchors

Lang = Literal["ja", "en"]
JSON = dict[str, Any]

SetBy = Literal["policy", "operator"]

TEXT_PATH: Final = "/policy/text?lang=ja"
"""Where the server serves the published text (Japanese, the original)."""

SET_BY_NOTES: Final[dict[SetBy, LocalizedText]] = {
    "operator": LocalizedText(
        ja="事業者の設定です。ポリシー本文には定めがありません。",
        en="The operator's setting. The policy text does not state it.",
    ),
    "policy": LocalizedText(ja="ポリシー本文の定め", en="Stated in the policy text"),
}
OPERATOR_SETTINGS_NOTE: Final = LocalizedText(
    ja="「事業者の設定」とある法的根拠と保存期間は、ポリシー本文に定めがなく、事業者が"
    "定めたものです。保存期間は記録の最終更新から数えます。",
    en="The legal bases and retention periods marked as the operator's setting are not"
    " stated in the policy text: the operator set them. Retention periods count from a"
    " record's last update.",
)
BASIS_NAMES: Final[dict[str, LocalizedText]] = {
    "necessary": LocalizedText(ja="サービスの提供に必要", en="Needed to provide the service"),
    "consent": LocalizedText(ja="ご本人の同意", en="Your consent"),
    "legal_obligation": LocalizedText(ja="法令上の義務", en="Legal obligation"),
}

RIGHT_NAMES: Final[dict[RightId, LocalizedText]] = {
    "export": LocalizedText(ja="開示", en="Disclosure"),
    "erase": LocalizedText(ja="削除", en="Erasure"),
    "correct": LocalizedText(ja="訂正・追加", en="Correction and addition"),
    "restrict": LocalizedText(ja="利用の停止", en="Suspension of use"),
    "stop_third_party": LocalizedText(ja="第三者提供の停止", en="Stop third-party provision"),
    "notify_purposes": LocalizedText(ja="利用目的の通知", en="Notice of purposes"),
}


OFFERED_RIGHTS: Final[dict[RightId, str]] = {
    "notify_purposes": "GET /policy",
    "export": "POST /me/export",
    "correct": "POST /me/corrections",
    "erase": "POST /me/erase",
    "restrict": "POST /me/restrictions",
    "stop_third_party": "POST /me/third-party/stop",
}
"""Every right the server offers under any policy, and the request that exercises it:
``/policy`` lists each one, in the policy's words where the text grants it."""


def render_policy(policy: Policy, lang: Lang) -> JSON:
    """``policy`` in ``lang`` as plain dicts, lists, strings, numbers and booleans."""
    if lang not in ("ja", "en"):
        raise PolicyError("unsupported_language", f"lang must be 'ja' or 'en', got {lang!r}")
    return {
        "id": policy.id,
        "version": policy.version,
        "effective_date": _effective_date(policy),
        "lang": lang,
        "name": _text(policy.name, lang),
        "source": policy.source,
        "amendment": _amendment(policy.amendment, lang),
        "changes": [_change(change, lang) for change in policy.changes],
        "operator_settings": {"note": _text(OPERATOR_SETTINGS_NOTE, lang)},
        # The published text, whole, and where in it each clause reference points.
        "text_url": TEXT_PATH if policy.original_text is not None else None,
        "clause_links": _clause_links(policy),
        "purposes": [_purpose(policy, purpose, lang) for purpose in policy.purposes.values()],
        "categories": [
            _category(policy, category, lang) for category in policy.categories.values()
        ],
        "third_party": {
            "clause": policy.third_party.clause,
            "text": _optional_text(policy.third_party.text, lang),
            "grounds": [_ground(ground, lang) for ground in policy.third_party.grounds],
        },
        "joint_use": {
            "allowed": policy.joint_use.allowed,
            "clause": policy.joint_use.clause,
            "text": _optional_text(policy.joint_use.text, lang),
        },
        "outsourcing": _outsourcing(policy.outsourcing, lang),
        "rights": _rights(policy, lang),
        "contact": _contact(policy.contact, lang),
        "age": _age(policy.age, lang),
        # Cookies, security measures, optionality, changes...: the text's own words.
        "statements": [_statement(statement, lang) for statement in policy.statements],
        "intakes": [_intake(policy, intake, lang) for intake in policy.intakes],
    }


def _clause_links(policy: Policy) -> dict[str, str]:
    if policy.original_text is None:
        return {}
    anchors = clause_anchors(policy.original_text, policy.clauses)
    return {clause: f"{TEXT_PATH}#{anchor}" for clause, anchor in anchors.items()}


def _text(text: LocalizedText, lang: Lang) -> str:
    return text.ja if lang == "ja" else text.en


def _optional_text(text: LocalizedText | None, lang: Lang) -> str | None:
    return None if text is None else _text(text, lang)


def _effective_date(policy: Policy) -> JSON | None:
    effective = policy.effective_on
    if effective is None:
        return None
    clause = policy.effective_date_clause
    if clause is None and policy.effective_date is None and policy.changes:
        clause = policy.changes[-1].clause
    return {"date": effective.isoformat(), "clause": clause,
            "set_by": "policy" if clause else "operator"}


def _amendment(amendment: Amendment | None, lang: Lang) -> JSON | None:
    if amendment is None:
        return None
    return {"clause": amendment.clause, "text": _text(amendment.text, lang)}


def _note(note: OperatorNote | None, lang: Lang) -> str | None:
    return None if note is None else (note.ja if lang == "ja" else note.en)


def _change(change: PolicyChange, lang: Lang) -> JSON:
    return {
        "version": change.version,
        "date": change.date.isoformat(),
        "date_set_by": "policy" if change.clause else "operator",
        "clause": change.clause,
        "summary": _note(change.summary, lang),
        "summary_set_by": "operator",
        "purposes": {entry_id: _note(note, lang) for entry_id, note in change.purposes.items()},
    }


def _set_by(clause: str | None) -> SetBy:
    return "operator" if clause is None else "policy"


class Setting(NamedTuple):
    """Who states a value (a legal basis, a retention period): the policy text, in
    ``clause``, or the operator. One answer for every place that shows the value (/policy
    here, the export in :mod:`walletauth.rights.export`), so that they label it alike."""

    set_by: SetBy
    clause: str | None

    @property
    def note(self) -> LocalizedText:
        return SET_BY_NOTES[self.set_by]


def basis_setting(purpose: Purpose) -> Setting:
    return Setting(_set_by(purpose.basis_clause), purpose.basis_clause)


def retention_setting(category: Category) -> Setting:
    return Setting(_set_by(category.retention_clause), category.retention_clause)


def _purpose(policy: Policy, purpose: Purpose, lang: Lang) -> JSON:
    change = policy.change_of(purpose.id)
    basis = basis_setting(purpose)
    return {
        "id": purpose.id,
        "text": _text(purpose.text, lang),
        "basis": purpose.basis,
        "basis_name": _text(BASIS_NAMES[purpose.basis], lang),
        "basis_set_by": basis.set_by,
        "basis_note": _text(basis.note, lang),
        "basis_clause": basis.clause,
        "legal_source": _optional_text(purpose.legal_source, lang),
        "optional": purpose.optional,
        # What the subject starts with: necessary and legal purposes are always on.
        "default_on": purpose.default_on or not purpose.optional,
        "dpv": purpose.dpv,
        "clause": purpose.clause,
        # The last version that changed this purpose's text, and what changed (the
        # operator's summary): what the consent screen shows beside a consent on hold.
        "changed_in": None if change is None else change.version,
        "change": None if change is None else _note(change.purposes[purpose.id], lang),
    }


def _category(policy: Policy, category: Category, lang: Lang) -> JSON:
    retention = retention_setting(category)
    return {
        "id": category.id,
        "text": _text(category.text, lang),
        # What is collected, plainly; the quoted text may name it only in general terms.
        "label": _text(category.label or category.text, lang),
        "clause": category.clause,
        "fields": {name: rule for name, rule in category.fields.items()},
        "user_supplied": category.user_supplied,
        "disclosed_on_export": category.disclosed_on_export,
        "withheld_reason": _optional_text(category.withheld_reason, lang),
        "withheld_clause": category.withheld_clause,
        "purposes": [
            {
                "purpose": purpose_id,
                "optional": policy.purposes[purpose_id].optional,
                "retention_days": whole_days(period),
                "retention": humanise(period, lang),
                "retention_set_by": retention.set_by,
                "retention_note": _text(retention.note, lang),
                "retention_clause": retention.clause,
            }
            for purpose_id, period in category.retention.items()
        ],
    }


def _ground(ground: ThirdPartyGround, lang: Lang) -> JSON:
    return {
        "id": ground.id,
        "text": _text(ground.text, lang),
        "requires_consent": ground.requires_consent,
        "requires_consent_set_by": ground.requires_consent_set_by,
        "requires_consent_note": _text(SET_BY_NOTES[ground.requires_consent_set_by], lang),
        "categories": list(ground.categories),
        "clause": ground.clause,
    }


def _statement(statement: Statement, lang: Lang) -> JSON:
    return {
        "id": statement.id,
        "text": _text(statement.text, lang),
        "items": [_text(item, lang) for item in statement.items],
        "clause": statement.clause,
    }


def _intake(policy: Policy, intake: Intake, lang: Lang) -> JSON:
    def items(references: tuple[str, ...]) -> list[JSON]:
        return [_intake_item(policy, reference, lang) for reference in references]

    return {
        "id": intake.id,
        "label": _text(intake.label, lang),
        "required": items(intake.required),
        "optional": items(intake.optional),
        # The texts say only that providing data is voluntary: the split is the operator's.
        "set_by": "operator",
        "note": _text(SET_BY_NOTES["operator"], lang),
        "clause": intake.clause,
    }


def _intake_item(policy: Policy, reference: str, lang: Lang) -> JSON:
    category_id, _, field = reference.partition(".")
    category = policy.categories[category_id]
    return {
        "item": reference,
        "category": category_id,
        "field": field or None,
        "label": _text(category.label or category.text, lang),
    }


def _outsourcing(outsourcing: Outsourcing | None, lang: Lang) -> JSON | None:
    if outsourcing is None:
        return None
    return {
        "clause": outsourcing.clause,
        "text": _text(outsourcing.text, lang),
        "tasks": [_text(task, lang) for task in outsourcing.tasks],
    }


def _rights(policy: Policy, lang: Lang) -> list[JSON]:
    """Every right walletauth offers: the policy's own, in its order and words, then those
    the text does not grant, which the operator offers all the same."""
    listed = {right.id for right in policy.rights}
    return [
        *(_right(right, lang) for right in policy.rights),
        *(_offered_right(right_id, lang) for right_id in OFFERED_RIGHTS if right_id not in listed),
    ]


def _right(right: Right, lang: Lang) -> JSON:
    set_by = _set_by(right.clause if right.text is not None else None)
    return {
        "id": right.id,
        "name": _text(RIGHT_NAMES[right.id], lang),
        "text": _text(right.text or RIGHT_NAMES[right.id], lang),
        "set_by": set_by,
        "note": _text(SET_BY_NOTES[set_by], lang),
        "request": OFFERED_RIGHTS[right.id],
        "clause": right.clause,
    }


def _offered_right(right_id: RightId, lang: Lang) -> JSON:
    return {
        "id": right_id,
        "name": _text(RIGHT_NAMES[right_id], lang),
        "text": _text(RIGHT_NAMES[right_id], lang),
        "set_by": "operator",
        "note": _text(SET_BY_NOTES["operator"], lang),
        "request": OFFERED_RIGHTS[right_id],
        "clause": None,
    }


def _contact(contact: Contact, lang: Lang) -> JSON:
    return {
        "organisation": _text(contact.organisation, lang),
        "email": contact.email,
        "postal_address": contact.postal_address,
        "hours": _optional_text(contact.hours, lang),
        "clause": contact.clause,
    }


def _age(age: AgeRule | None, lang: Lang) -> JSON | None:
    if age is None:
        return None
    return {
        "guardian_consent_below": age.guardian_consent_below,
        "text": _optional_text(age.text, lang),
        "clause": age.clause,
    }
