"""The export document as a page for a person to read, in Japanese or English.

Self-contained: one inline stylesheet and no script, image or link, so it can be shown
under :data:`CONTENT_SECURITY_POLICY`, which allows that stylesheet by its hash and
nothing else. Ids (categories, purposes, request kinds) are shown by the policy's own
words in the reader's language, with the id beside them; every value is escaped. A legal
basis or retention period carries who set it, in the words ``GET /policy`` uses: the
policy text (with its clause) or the operator.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

from walletauth.rights.export import ExportDocument

Lang = Literal["ja", "en"]
Row = Mapping[str, Any]
Cell = Callable[[Row], str]
"""A column's cell for one row, as HTML already escaped."""

STYLESHEET: Final = (
    "body{font:15px/1.6 system-ui,-apple-system,'Segoe UI','Hiragino Sans','Noto Sans CJK JP',"
    "'Yu Gothic',Meiryo,sans-serif;color:#1d2330;background:#fff;margin:0 auto;"
    "max-width:72rem;padding:1.25rem}"
    "h1{font-size:1.35rem;margin:0 0 .25rem}"
    "h2{font-size:1.05rem;margin:1.75rem 0 .5rem;padding-bottom:.25rem;"
    "border-bottom:2px solid #d9dde6}"
    ".count{font-size:.8rem;font-weight:600;color:#3a4fd6;background:#e8ebf7;"
    "border-radius:999px;padding:.05rem .55rem;vertical-align:middle}"
    "p{margin:.3rem 0}.muted,.id{color:#5b6475}.id{font-size:.8rem;display:block}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;"
    "word-break:break-all}"
    ".meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.5rem 0}"
    ".meta dt{color:#5b6475}.meta dd{margin:0}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;font-size:.88rem}"
    "th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;"
    "border-bottom:1px solid #d9dde6}"
    "th{background:#f4f6fa;color:#5b6475;font-weight:600;white-space:nowrap}"
    "dl.data{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:0 .6rem}"
    "dl.data dt{color:#5b6475}dl.data dd{margin:0;overflow-wrap:anywhere}"
    "dl.when dd{white-space:nowrap}"
)
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""How the page writes an instant (in UTC, as its header says)."""
STYLE_HASH: Final = "sha256-" + base64.b64encode(
    hashlib.sha256(STYLESHEET.encode()).digest()).decode()
"""The CSP source allowing :data:`STYLESHEET` (and no other inline style)."""
CONTENT_SECURITY_POLICY: Final = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)

_WORDS: Final[dict[str, dict[Lang, str]]] = {
    "title": {"ja": "開示データ", "en": "Your data"},
    "heading": {"ja": "このアドレスに結び付くデータ", "en": "Data linked to this address"},
    "address": {"ja": "アドレス", "en": "Address"},
    "policy": {"ja": "プライバシーポリシー", "en": "Privacy policy"},
    "version": {"ja": "版", "en": "version"},
    "generated": {"ja": "作成日時", "en": "Generated"},
    "times": {"ja": "日時はすべて協定世界時 UTC で表示しています。", "en": "All times are UTC."},
    "kept": {"ja": "取得と保存", "en": "Collected and kept"},
    "none": {"ja": "ありません。", "en": "None."},
    "records": {"ja": "記録", "en": "Records"},
    "withheld": {"ja": "開示しない情報", "en": "Withheld from this export"},
    "consents": {"ja": "同意・利用停止の履歴", "en": "Consents and suspensions"},
    "provisions": {"ja": "第三者への提供の記録", "en": "Provision to third parties"},
    "processing": {"ja": "処理の記録", "en": "Processing log"},
    "requests": {"ja": "請求の履歴", "en": "Your requests"},
    "category": {"ja": "情報の種類", "en": "Kind of data"},
    "purpose": {"ja": "利用目的", "en": "Purpose"},
    "basis": {"ja": "根拠", "en": "Basis"},
    "collected_at": {"ja": "取得日時", "en": "Collected"},
    "expires_at": {"ja": "保存期限", "en": "Kept until"},
    "source": {"ja": "取得元", "en": "Source"},
    "data": {"ja": "内容", "en": "Content"},
    "count": {"ja": "件数", "en": "Records"},
    "reason": {"ja": "理由", "en": "Reason"},
    "clause": {"ja": "条項", "en": "Clause"},
    "at": {"ja": "日時", "en": "When"},
    "kind": {"ja": "種別", "en": "Kind"},
    "value": {"ja": "状態", "en": "State"},
    "recipient": {"ja": "提供先", "en": "Recipient"},
    "ground": {"ja": "提供の根拠", "en": "Ground"},
    "event": {"ja": "処理", "en": "Processing"},
    "detail": {"ja": "詳細", "en": "Detail"},
    "received_at": {"ja": "受付日時", "en": "Received"},
    "status": {"ja": "状態", "en": "Status"},
    "completed_at": {"ja": "完了日時", "en": "Completed"},
    "yes": {"ja": "はい", "en": "yes"},
    "no": {"ja": "いいえ", "en": "no"},
}
_BASES: Final[dict[str, dict[Lang, str]]] = {
    "necessary": {"ja": "サービスの提供に必要", "en": "Needed to provide the service"},
    "consent": {"ja": "ご本人の同意", "en": "Your consent"},
    "legal_obligation": {"ja": "法令上の義務", "en": "Legal obligation"},
}
_SOURCES: Final[dict[str, dict[Lang, str]]] = {
    "login": {"ja": "ログイン時", "en": "At sign-in"},
    "subject_request": {"ja": "ご本人の請求", "en": "Your request"},
}
_CONSENT_KINDS: Final[dict[str, dict[Lang, str]]] = {
    "consent": {"ja": "同意", "en": "Consent"},
    "suspension": {"ja": "利用停止", "en": "Suspension of use"},
    "third_party_stop": {"ja": "第三者提供の停止", "en": "Stop of third-party provision"},
    "age_confirmation": {"ja": "年齢確認", "en": "Age confirmation"},
    "guardian_consent": {"ja": "法定代理人の同意", "en": "Guardian's consent"},
}
_EVENTS: Final[dict[str, dict[Lang, str]]] = {
    "consent_change": {"ja": "同意の変更", "en": "Consent changed"},
    "suspension": {"ja": "利用停止", "en": "Use suspended"},
    "suspension_lifted": {"ja": "利用停止の解除", "en": "Suspension lifted"},
    "third_party_stop": {"ja": "第三者提供の停止", "en": "Third-party provision stopped"},
    "age_confirmation": {"ja": "年齢確認", "en": "Age confirmed"},
    "guardian_consent": {"ja": "法定代理人の同意", "en": "Guardian's consent"},
    "export": {"ja": "開示", "en": "Export"},
    "correction": {"ja": "訂正等", "en": "Correction"},
    "third_party_provision": {"ja": "第三者への提供", "en": "Provision to a third party"},
}
_REQUESTS: Final[dict[str, dict[Lang, str]]] = {
    "export": {"ja": "開示", "en": "Export"},
    "erase": {"ja": "削除", "en": "Erasure"},
    "correct": {"ja": "訂正等", "en": "Correction"},
    "restrict": {"ja": "利用停止", "en": "Suspension of use"},
    "lift-restriction": {"ja": "利用停止の解除", "en": "Suspension lifted"},
    "stop-third-party": {"ja": "第三者提供の停止", "en": "Stop of third-party provision"},
}
_STATUSES: Final[dict[str, dict[Lang, str]]] = {
    "received": {"ja": "受付", "en": "Received"},
    "completed": {"ja": "完了", "en": "Completed"},
    "denied": {"ja": "拒否", "en": "Refused"},
}


def to_html(document: ExportDocument, *, lang: Lang = "ja") -> str:
    """``document`` (see :func:`walletauth.rights.export_subject`) as a page in ``lang``."""
    page = _Page(document, lang)
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{page.word('title')}</title><style>{STYLESHEET}</style></head><body>",
        page.header(),
        *page.sections(),
        "</body></html>",
    ])


class _Page:
    """The words and cells of one page: ids shown in the reader's language."""

    def __init__(self, document: ExportDocument, lang: Lang) -> None:
        self.document = document
        self.lang: Lang = lang

    def word(self, key: str) -> str:
        return _e(_WORDS[key][self.lang])

    def header(self) -> str:
        policy = self.document["policy"]
        facts = (
            ("address", f"<code>{_e(self.document['subject'])}</code>"),
            ("policy", f"{_e(policy['id'])} {self.word('version')} {_e(policy['version'])}"),
            ("generated", self.when(self.document["generated_at"])),
        )
        listed = "".join(f"<dt>{self.word(key)}</dt><dd>{value}</dd>" for key, value in facts)
        return (f"<h1>{self.word('heading')}</h1><dl class=\"meta\">{listed}</dl>"
                f'<p class="muted">{self.word("times")}</p>')

    def sections(self) -> list[str]:
        d = self.document
        return [
            self.table("records", d["records"], [
                ("category", lambda r: self.category(r["category"])),
                ("purpose", lambda r: self.purpose(r["purpose"])
                 + f'<span class="id">{self.word("basis")}: '
                 f'{self.named(_BASES, r["basis"])}'
                 f'{self.setting(self.document["purposes"].get(r["purpose"]), "basis")}</span>'),
                ("data", lambda r: self.data(r["data"])),
                ("kept", lambda r: self.data({
                    self.word("collected_at"): self.when(r["collected_at"]),
                    self.word("expires_at"): self.when(r["expires_at"]) + self.setting(
                        self.document["categories"].get(r["category"]), "retention"),
                    self.word("source"): self.named(_SOURCES, r["source"]),
                }, escaped=True, css="data when")),
            ]),
            self.table("withheld", d["withheld"], [
                # A withheld provision record has no category: its section is named.
                ("category", lambda r: self.category(r["category"]) if r["category"]
                 else self.word("provisions")),
                ("count", lambda r: _e(str(r["records"]))),
                ("reason", lambda r: self.localized(r["reason"])),
                ("clause", lambda r: _e(r["clause"] or "")),
            ]),
            self.table("consents", d["consents"], [
                ("at", lambda r: self.when(r["at"])),
                ("kind", lambda r: self.named(_CONSENT_KINDS, r["kind"])),
                ("purpose", lambda r: self.purpose(r["purpose"])),
                ("value", lambda r: self.word("yes" if r["value"] else "no")),
            ]),
            self.table("provisions", d["third_party_provisions"], [
                ("at", lambda r: self.when(r["provided_at"])),
                ("recipient", lambda r: _e(r["recipient"])),
                ("category", lambda r: "<br>".join(self.category(c) for c in r["categories"])),
                ("ground", lambda r: self.localized(r["legal_ground"]) + self.id(r["clause"])),
            ]),
            self.table("processing", d["processing_log"], [
                ("at", lambda r: self.when(r["at"])),
                ("event", lambda r: self.named(_EVENTS, r["event"])),
                ("purpose", lambda r: self.purpose(r["purpose"])),
                ("category", lambda r: self.category(r["category"])),
                ("detail", lambda r: self.data(r["detail"])),
            ]),
            self.table("requests", d["requests"], [
                ("received_at", lambda r: self.when(r["received_at"])),
                ("kind", lambda r: self.named(_REQUESTS, r["kind"])),
                ("status", lambda r: self.named(_STATUSES, r["status"])),
                ("reason", lambda r: _e(r["reason"] or "")),
                ("completed_at", lambda r: self.when(r["completed_at"])),
            ]),
        ]

    def table(self, title: str, rows: Sequence[Row], columns: list[tuple[str, Cell]]) -> str:
        heading = f'<h2>{self.word(title)} <span class="count">{len(rows)}</span></h2>'
        if not rows:
            return f'{heading}<p class="muted">{self.word("none")}</p>'
        head = "".join(f'<th scope="col">{self.word(key)}</th>' for key, _ in columns)
        body = "".join(
            "<tr>" + "".join(self.cell(cell, row) for _, cell in columns) + "</tr>"
            for row in rows
        )
        return (f'{heading}<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")

    @staticmethod
    def cell(cell: Cell, row: Row) -> str:
        return f"<td>{cell(row)}</td>"

    def category(self, category_id: str | None) -> str:
        texts = self.document.get("categories", {})
        return self.described(texts.get(category_id, {}).get("text"), category_id)

    def purpose(self, purpose_id: str | None) -> str:
        texts = self.document.get("purposes", {})
        return self.described(texts.get(purpose_id, {}).get("text"), purpose_id)

    def described(self, text: Mapping[str, str] | None, identifier: str | None) -> str:
        if identifier is None:
            return ""
        if not text:
            return _e(identifier)
        return _e(text[self.lang]) + self.id(identifier)

    def setting(self, entry: Mapping[str, Any] | None, value: str) -> str:
        """Who set ``value`` (``"basis"``, ``"retention"``) of a purpose or category entry:
        its note as /policy serves it, and the clause where the text states it."""
        note = (entry or {}).get(f"{value}_note")
        if not note:  # a purpose the policy no longer has: nothing to say who set it
            return ""
        clause = entry.get(f"{value}_clause") if entry else None
        # Japanese text takes full-width parentheses.
        opening, closing = ("\uff08", "\uff09") if self.lang == "ja" else (" (", ")")
        return f"{opening}{self.localized(note)}{f' {_e(clause)}' if clause else ''}{closing}"

    def id(self, identifier: str | None) -> str:
        return f'<span class="id">{_e(identifier)}</span>' if identifier else ""

    def named(self, names: Mapping[str, Mapping[Lang, str]], value: str) -> str:
        known = names.get(value)
        return _e(known[self.lang]) if known else _e(value)

    def localized(self, text: Mapping[str, str] | None) -> str:
        return _e(text[self.lang]) if text else ""

    def when(self, iso: str | None) -> str:
        """``2026-11-27 23:30:05``, in UTC (the header says so)."""
        if not iso:
            return ""
        moment = datetime.fromisoformat(iso).astimezone(UTC)
        return _e(moment.strftime(TIME_FORMAT))

    @staticmethod
    def data(values: Mapping[str, Any], *, escaped: bool = False, css: str = "data") -> str:
        """Name: value lines (``escaped``: both are HTML already)."""
        if not values:
            return ""
        shown = (values.items() if escaped
                 else ((_e(str(name)), _e(_readable(value))) for name, value in values.items()))
        listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in shown)
        return f'<dl class="{css}">{listed}</dl>'


def _readable(value: object) -> str:
    """A stored value as text; an ISO 8601 instant as the page writes times."""
    if isinstance(value, str) and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(UTC).strftime(TIME_FORMAT)
    return _text(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _e(text: str) -> str:
    return html.escape(text, quote=True)
