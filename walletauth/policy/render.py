"""The policy as a consent screen shows it: JSON-ready, in Japanese or English.

Served by the server at ``GET /policy``. Everything a subject is asked to decide on is
here: each purpose with its basis and whether it is optional (only consent purposes
are; they start off), each data category with the purposes it serves and for how long,
the third-party rules, the rights, the contact point, and the version agreed to.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from walletauth.policy.durations import humanise, whole_days
from walletauth.policy.errors import PolicyError
from walletauth.policy.model import (
    AgeRule,
    Category,
    Contact,
    LocalizedText,
    Outsourcing,
    Policy,
    Purpose,
    Right,
    RightId,
    ThirdPartyGround,
)

Lang = Literal["ja", "en"]
JSON = dict[str, Any]

RIGHT_NAMES: Final[dict[RightId, LocalizedText]] = {
    "export": LocalizedText(ja="開示", en="Export (disclosure)"),
    "erase": LocalizedText(ja="削除", en="Erasure"),
    "correct": LocalizedText(ja="訂正・追加", en="Correction"),
    "restrict": LocalizedText(ja="利用の停止", en="Restriction of use"),
    "stop_third_party": LocalizedText(ja="第三者提供の停止", en="Stop third-party provision"),
    "notify_purposes": LocalizedText(ja="利用目的の通知", en="Notice of purposes"),
}


def render_policy(policy: Policy, lang: Lang) -> JSON:
    """``policy`` in ``lang`` as plain dicts, lists, strings, numbers and booleans."""
    if lang not in ("ja", "en"):
        raise PolicyError("unsupported_language", f"lang must be 'ja' or 'en', got {lang!r}")
    return {
        "id": policy.id,
        "version": policy.version,
        "lang": lang,
        "name": _text(policy.name, lang),
        "source": policy.source,
        "purposes": [_purpose(purpose, lang) for purpose in policy.purposes.values()],
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
        "rights": [_right(right, lang) for right in policy.rights],
        "contact": _contact(policy.contact, lang),
        "age": _age(policy.age, lang),
    }


def _text(text: LocalizedText, lang: Lang) -> str:
    return text.ja if lang == "ja" else text.en


def _optional_text(text: LocalizedText | None, lang: Lang) -> str | None:
    return None if text is None else _text(text, lang)


def _purpose(purpose: Purpose, lang: Lang) -> JSON:
    return {
        "id": purpose.id,
        "text": _text(purpose.text, lang),
        "basis": purpose.basis,
        "optional": purpose.optional,
        # What the subject starts with: necessary and legal purposes are always on.
        "default_on": purpose.default_on or not purpose.optional,
        "dpv": purpose.dpv,
        "clause": purpose.clause,
    }


def _category(policy: Policy, category: Category, lang: Lang) -> JSON:
    return {
        "id": category.id,
        "text": _text(category.text, lang),
        "clause": category.clause,
        "fields": {name: rule for name, rule in category.fields.items()},
        "user_supplied": category.user_supplied,
        "disclosed_on_export": category.disclosed_on_export,
        "withheld_reason": _optional_text(category.withheld_reason, lang),
        "purposes": [
            {
                "purpose": purpose_id,
                "optional": policy.purposes[purpose_id].optional,
                "retention_days": whole_days(retention),
                "retention": humanise(retention, lang),
            }
            for purpose_id, retention in category.retention.items()
        ],
    }


def _ground(ground: ThirdPartyGround, lang: Lang) -> JSON:
    return {
        "id": ground.id,
        "text": _text(ground.text, lang),
        "requires_consent": ground.requires_consent,
        "categories": list(ground.categories),
        "clause": ground.clause,
    }


def _outsourcing(outsourcing: Outsourcing | None, lang: Lang) -> JSON | None:
    if outsourcing is None:
        return None
    return {
        "clause": outsourcing.clause,
        "text": _text(outsourcing.text, lang),
        "tasks": [_text(task, lang) for task in outsourcing.tasks],
    }


def _right(right: Right, lang: Lang) -> JSON:
    return {
        "id": right.id,
        "name": _text(RIGHT_NAMES[right.id], lang),
        "text": _text(right.text or RIGHT_NAMES[right.id], lang),
        "clause": right.clause,
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
