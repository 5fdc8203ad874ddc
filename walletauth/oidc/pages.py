"""The pages a person sees: sign in with a wallet, consent, errors, signed out; in
Japanese (the policy's own language, the default) or English.

Every page runs under a Content-Security-Policy that lets only this service's own script
run and its one inline style apply; forms post only here, except the consent form, whose
answer redirects to the client (browsers check a form's redirects against
``form-action`` too)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Final, Literal
from urllib.parse import urlsplit

from walletauth.oidc.clients import OidcClient
from walletauth.policy import Policy

Lang = Literal["ja", "en"]
SCRIPT_PATH: Final = "/oauth/assets/signin.js"
STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d1d1f}h1{font-size:1.4rem}button{font-size:1rem;padding:.6rem 1.2rem;"
    "margin:.3rem .3rem .3rem 0;cursor:pointer}ul{padding-left:1.2rem}li{margin:.4rem 0}"
    "#status{min-height:1.5rem;color:#b00020}.note{color:#555;font-size:.9rem}"
)
STYLE_HASH: Final = "'sha256-" + base64.b64encode(
    hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii") + "'"

TEXT: Final[dict[str, dict[Lang, str]]] = {
    "title": {"ja": "ウォレットでログイン", "en": "Sign in with your wallet"},
    "asks": {"ja": "「{client}」がウォレットでのログインを求めています。",
             "en": "“{client}” asks you to sign in with your wallet."},
    "connect": {"ja": "ウォレットを接続して署名", "en": "Connect wallet and sign"},
    "signing": {"ja": "ウォレットで署名してください…", "en": "Sign the message in your wallet…"},
    "no_wallet": {"ja": "ブラウザにウォレット(EIP-1193)が見つかりません。",
                  "en": "No browser wallet (EIP-1193) was found."},
    "rejected": {"ja": "署名が拒否されました。", "en": "The signature was rejected."},
    "failed": {"ja": "ログインできませんでした", "en": "Sign-in failed"},
    "consent_title": {"ja": "情報提供への同意", "en": "Consent"},
    "consent_asks": {"ja": "「{client}」は次のものを求めています。",
                     "en": "“{client}” asks for the following."},
    "pseudonym": {"ja": "このアプリ専用の仮名 ID(他のアプリとは共有されません)",
                  "en": "A pseudonymous ID for this application only (not shared with others)"},
    "address": {"ja": "ウォレットアドレス({address}、チェーン {chain})",
                "en": "Your wallet address ({address}, chain {chain})"},
    "purpose": {"ja": "利用目的への同意: {text}", "en": "Consent to the purpose: {text}"},
    "granted_already": {"ja": "(同意済み)", "en": "(already granted)"},
    "optional_note": {"ja": "チェックを入れた項目だけが提供されます。後から /me/consents で"
                            "撤回できます。",
                      "en": "Only what you tick is given. You can withdraw it later at"
                            " /me/consents."},
    "redirect_to": {"ja": "許可すると {origin} に戻ります。",
                    "en": "Allowing returns you to {origin}."},
    "allow": {"ja": "許可する", "en": "Allow"},
    "deny": {"ja": "拒否する", "en": "Deny"},
    "error_title": {"ja": "リクエストを処理できません", "en": "This request cannot be served"},
    "error_body": {"ja": "アプリからのリクエストに問題があります({error}): {description}",
                   "en": "The application's request has a problem ({error}): {description}"},
    "logged_out": {"ja": "ログアウトしました", "en": "You are signed out"},
    "logged_out_body": {"ja": "「{client}」でのログインを終了しました。",
                        "en": "Your sign-in at “{client}” has ended."},
    "logged_out_plain": {"ja": "ログアウトの要求を受け付けました。",
                         "en": "The sign-out request was received."},
}


def choose_language(ui_locales: str | None, accept_language: str | None) -> Lang:
    """OIDC's ``ui_locales`` first, then the browser's languages, else Japanese."""
    for tag in (ui_locales or "").split() + [
        part.split(";")[0].strip() for part in (accept_language or "").split(",")
    ]:
        primary = tag.lower().split("-")[0]
        if primary == "ja":
            return "ja"
        if primary == "en":
            return "en"
    return "ja"


def _t(key: str, lang: Lang, **values: str) -> str:
    return escape(TEXT[key][lang].format(**values))


def _page(lang: Lang, title: str, body: str, *, script: bool = False) -> str:
    script_tag = f'<script type="module" src="{SCRIPT_PATH}"></script>' if script else ""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style>{script_tag}</head>"
        f"<body>{body}</body></html>"
    )


def headers(form_targets: Sequence[str] = ()) -> dict[str, str]:
    """The page's security headers; ``form_targets`` are origins its forms may reach."""
    targets = " ".join(("'self'", *form_targets))
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'self'; connect-src 'self';"
            f" style-src {STYLE_HASH}; form-action {targets}; base-uri 'none';"
            " frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in_page(lang: Lang, client: OidcClient, ticket: str) -> str:
    texts = {key: TEXT[key][lang] for key in ("signing", "no_wallet", "rejected", "failed")}
    data = " ".join(f'data-{key.replace("_", "-")}="{escape(value)}"'
                    for key, value in texts.items())
    body = (
        f"<h1>{_t('title', lang)}</h1><p>{_t('asks', lang, client=client.name)}</p>"
        f'<div id="oidc" data-ticket="{escape(ticket)}" {data}>'
        f'<button id="connect" type="button">{_t("connect", lang)}</button>'
        '<p id="status" role="status"></p></div>'
        '<form id="next" method="post" action="/oauth/authorize/consent">'
        '<input type="hidden" name="consent"></form>'
    )
    return _page(lang, _t("title", lang), body, script=True)


def consent_page(lang: Lang, policy: Policy, client: OidcClient, consent: str, *,
                 address: str | None, chain_id: int, purposes: Sequence[str],
                 granted_already: frozenset[str], redirect_uri: str) -> str:
    items = [f"<li>{_t('pseudonym', lang)}</li>"]
    if address is not None:
        items.append(
            '<li><label><input type="checkbox" name="scope" value="wallet_address"> '
            f"{_t('address', lang, address=address, chain=str(chain_id))}</label></li>"
        )
    for purpose in purposes:
        text = getattr(policy.purpose(purpose).text, lang)
        already = f" {_t('granted_already', lang)}" if purpose in granted_already else ""
        items.append(
            f'<li><label><input type="checkbox" name="scope" value="purpose:{escape(purpose)}">'
            f" {_t('purpose', lang, text=text)}{already}</label></li>"
        )
    body = (
        f"<h1>{_t('consent_title', lang)}</h1>"
        f"<p>{_t('consent_asks', lang, client=client.name)}</p>"
        '<form method="post" action="/oauth/authorize/decision">'
        f'<input type="hidden" name="consent" value="{escape(consent)}">'
        f"<ul>{''.join(items)}</ul>"
        f'<p class="note">{_t("optional_note", lang)}</p>'
        f'<p class="note">{_t("redirect_to", lang, origin=origin_of(redirect_uri))}</p>'
        f'<button id="allow" type="submit" name="decision" value="allow">{_t("allow", lang)}'
        f'</button><button id="deny" type="submit" name="decision" value="deny">'
        f'{_t("deny", lang)}</button></form>'
    )
    return _page(lang, _t("consent_title", lang), body)


def error_page(lang: Lang, error: str, description: str) -> str:
    body = (f"<h1>{_t('error_title', lang)}</h1>"
            f'<p id="error" data-error="{escape(error)}">'
            f"{_t('error_body', lang, error=error, description=description)}</p>")
    return _page(lang, _t("error_title", lang), body)


def logged_out_page(lang: Lang, client_name: str | None) -> str:
    text = (_t("logged_out_body", lang, client=client_name) if client_name
            else _t("logged_out_plain", lang))
    return _page(lang, _t("logged_out", lang), f"<h1>{_t('logged_out', lang)}</h1><p>{text}</p>")
