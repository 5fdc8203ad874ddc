"""What changed between two policies, line by line (``walletauth policy diff A B``).

Pure: two :class:`Policy` values in, sentences out. Each line says what a subject or an
operator must know: a consent purpose whose text changed puts consents given to the old
text on hold; a necessary purpose whose text changed goes on, but the published text's
own rule for changes (ABCRECORDS 11: only within what is reasonably related to the earlier
purpose; METALIVE: notify or publish) applies, so the line names that clause to check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

from walletauth.policy.durations import humanise
from walletauth.policy.model import Category, LocalizedText, Policy, Purpose, ThirdPartyGround

Entry = TypeVar("Entry")


def policy_diff(old: Policy, new: Policy) -> list[str]:
    """Every difference that matters to consent and collection; empty when none."""
    return [
        *_header(old, new),
        *_purposes(old, new),
        *_grounds(old, new),
        *_categories(old, new),
        *_other_rules(old, new),
    ]


def _header(old: Policy, new: Policy) -> Iterator[str]:
    if old.id != new.id:
        yield f"policy: {old.id} -> {new.id}"
    if old.version != new.version:
        yield f"version: {old.version} -> {new.version}"
    if old.effective_on != new.effective_on:
        yield f"effective date: {old.effective_on} -> {new.effective_on}"
    known = {change.version for change in old.changes}
    for change in new.changes:
        if change.version not in known and change.summary is not None:
            yield f"change {change.version} ({change.date}): {change.summary.en}"


def _text(text: LocalizedText) -> str:
    return f"「{text.ja}」 ({text.en})"


def _paired(old: Mapping[str, Entry], new: Mapping[str, Entry]) -> Iterator[
        tuple[str, Entry | None, Entry | None]]:
    for entry_id in [*old, *(key for key in new if key not in old)]:
        yield entry_id, old.get(entry_id), new.get(entry_id)


def _purposes(old: Policy, new: Policy) -> Iterator[str]:
    for purpose_id, before, after in _paired(old.purposes, new.purposes):
        if before is None and after is not None:
            starts = "off until granted" if after.optional else "always on"
            yield f"purpose {purpose_id}: new, basis {after.basis} ({starts}): {_text(after.text)}"
        elif after is None and before is not None:
            yield f"purpose {purpose_id}: removed (was {before.basis}): {_text(before.text)}"
        elif before is not None and after is not None:
            yield from _purpose_changed(new, before, after)


def _purpose_changed(new: Policy, before: Purpose, after: Purpose) -> Iterator[str]:
    if before.basis != after.basis:
        yield f"purpose {after.id}: basis {before.basis} -> {after.basis}"
    if before.text == after.text:
        return
    yield f"purpose {after.id}: text {_text(before.text)} -> {_text(after.text)}"
    if after.optional:
        yield (f"purpose {after.id}: consents given to the old text are on hold until"
               " granted again")
    else:
        rule = new.amendment.clause if new.amendment is not None else "the policy's own rule"
        yield (f"purpose {after.id}: {after.basis}, goes on without new consent; check the"
               f" change against {rule}")
    change = new.change_of(after.id)
    if change is not None and change.version == new.version:
        yield f"purpose {after.id}: what changed (operator): {change.purposes[after.id].en}"


def _grounds(old: Policy, new: Policy) -> Iterator[str]:
    def by_id(policy: Policy) -> dict[str, ThirdPartyGround]:
        return {ground.id: ground for ground in policy.third_party.grounds}

    for ground_id, before, after in _paired(by_id(old), by_id(new)):
        if before is None and after is not None:
            yield f"third-party ground {ground_id}: new: {_text(after.text)}"
        elif after is None:
            yield f"third-party ground {ground_id}: removed"
        elif before is not None and (before.text, before.requires_consent) != (
                after.text, after.requires_consent):
            consent = "needs consent" if after.requires_consent else "needs no consent"
            yield (f"third-party ground {ground_id}: {_text(before.text)} ->"
                   f" {_text(after.text)}, {consent}")
            if after.requires_consent:
                yield (f"third-party ground {ground_id}: consents given to the old text are"
                       " on hold until granted again")


def _categories(old: Policy, new: Policy) -> Iterator[str]:
    for category_id, before, after in _paired(old.categories, new.categories):
        if before is None and after is not None:
            yield f"category {category_id}: new, fields {sorted(after.fields)},{_kept(after)}"
        elif after is None:
            yield f"category {category_id}: removed"
        elif before is not None:
            yield from _category_changed(before, after)


def _kept(category: Category) -> str:
    return "".join(f" {purpose} {humanise(period, 'en')}"
                   for purpose, period in category.retention.items())


def _category_changed(before: Category, after: Category) -> Iterator[str]:
    if before.fields != after.fields:
        yield f"category {after.id}: fields {before.fields} -> {after.fields}"
    for purpose_id, was, now in _paired(before.retention, after.retention):
        if was != now:
            old_text = "not kept" if was is None else humanise(was, "en")
            new_text = "not kept" if now is None else humanise(now, "en")
            yield f"category {after.id}: for {purpose_id} {old_text} -> {new_text}"


def _other_rules(old: Policy, new: Policy) -> Iterator[str]:
    if old.joint_use.allowed != new.joint_use.allowed:
        yield f"joint use: allowed {old.joint_use.allowed} -> {new.joint_use.allowed}"
    old_age = None if old.age is None else old.age.guardian_consent_below
    new_age = None if new.age is None else new.age.guardian_consent_below
    if old_age != new_age:
        yield f"guardian consent below age: {old_age} -> {new_age}"
    if {r.id for r in old.rights} != {r.id for r in new.rights}:
        yield (f"rights: {sorted(r.id for r in old.rights)} ->"
               f" {sorted(r.id for r in new.rights)}")
    if old.contact.email != new.contact.email:
        yield f"contact: {old.contact.email} -> {new.contact.email}"
