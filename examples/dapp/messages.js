// Every word the page shows, in Japanese (the default) and English, and one clear
// message per error code: the server's stable problem codes and the wallet's EIP-1193
// error codes (mapped to names in wallet.js).

export const LANGS = ["ja", "en"];

export const UI = {
  ja: {
    title: "ABCRECORDS ウォレットでログイン",
    tagline: "Ethereum ウォレットの署名でログインし、同意と自分のデータを管理します。",
    switchLanguage: "English",
    switchLanguageLabel: "Switch to English",
    signInHeading: "ログイン",
    signInIntro: "ウォレットを接続し、署名してログインします。署名に手数料はかかりません。",
    signIn: "ウォレットでログイン",
    signOut: "ログアウト",
    signedInAs: "ログイン中のアドレス",
    network: "ネットワーク",
    notSignedIn: "ログインしていません。",
    tabsLabel: "メニュー",
    consentsTab: "同意設定",
    dataTab: "私のデータ",
    consentsHeading: "同意設定",
    policyVersion: "プライバシーポリシー 版",
    policyText: "ポリシー全文（原文）",
    necessaryHeading: "サービスの提供に必要な利用目的",
    necessaryNote: "これらはサービスの提供に必要なため、オフにできません。",
    optionalHeading: "任意の利用目的",
    optionalNote: "同意はいつでも撤回できます。初期状態はすべてオフです。",
    necessaryBadge: "必須",
    granted: "同意済み",
    withdrawn: "同意していません",
    consentSaved: "「{purpose}」を{state}にしました。",
    dataHeading: "私のデータ",
    dataIntro:
      "各操作の前に、ウォレットで確認の署名をお願いします（本人確認のため。手数料はかかりません）。",
    exportHeading: "開示（エクスポート）",
    exportJson: "JSON をダウンロード",
    exportHtml: "HTML で表示",
    exportCsv: "CSV をダウンロード",
    exportDone: "開示データを受け取りました（記録 {records} 件）。",
    exportFrameTitle: "開示データ（HTML）",
    correctHeading: "訂正・追加・削除",
    correctIntro: "ご自身で入力した情報を訂正・追加・削除できます。",
    correctLoad: "記録を読み込む（開示の署名）",
    correctNone: "訂正できる記録はありません。",
    category: "種類",
    value: "値",
    save: "訂正する",
    remove: "削除する",
    add: "追加する",
    correctDone: "訂正しました（訂正 {corrected} 件・追加 {added} 件・削除 {deleted} 件）。",
    restrictHeading: "利用の停止",
    restrictIntro: "選んだ利用目的でのデータの利用を停止します。再開もできます。",
    restrict: "利用を停止する",
    lift: "利用を再開する",
    restrictDone: "利用の停止を受け付けました。",
    liftDone: "利用の再開を受け付けました。",
    restrictNoneChosen: "利用目的を一つ以上選んでください。",
    suspendedBadge: "停止中",
    ageHeading: "年齢の確認",
    ageIntro: "任意の利用目的に同意する前に、{age} 歳未満かどうかを教えてください。生年月日はお聞きしません。",
    ageAdult: "{age} 歳以上です",
    ageChild: "{age} 歳未満です",
    ageConfirmedAdult: "{age} 歳以上と確認済みです。",
    ageConfirmedChild: "{age} 歳未満と確認済みです。",
    guardianGiven: "保護者の同意を受け付けています。",
    guardianMissing: "任意の利用目的には保護者の同意が必要です。保護者の方からサービスの窓口にご連絡ください。",
    onHold: "保留中",
    policyEffective: "施行日",
    policyEffectiveOperator: "（運営者の設定）",
    changedIn: "第 {version} 版で内容が変わりました: {summary}（運営者による要約）。改めて同意するまで保留中です。",
    changedNoSummary: "内容が変わりました。改めて同意するまで保留中です。",
    changedInVersion: "第 {version} 版での変更: {summary}（運営者による要約）",
    contactHeading: "連絡先とお問い合わせ",
    contactIntro: "ご提供は任意です。入力された項目だけを保存し、その利用目的をお知らせします。",
    contactEmail: "メールアドレス（任意）",
    contactUrl: "URL（任意）",
    contactSave: "連絡先を保存する",
    contactSaved: "連絡先を保存しました（{count} 件、利用目的: {purposes}）。",
    contactEmpty: "メールアドレスか URL を入力してください。",
    inquiryMessage: "お問い合わせ内容（必須）",
    inquirySend: "問い合わせる",
    inquirySent: "お問い合わせを受け付けました（番号 {id}、利用目的: {purposes}）。",
    thirdPartyHeading: "第三者提供の停止",
    thirdPartyIntro:
      "同意に基づく第三者への提供を停止します（法令に基づく提供は除きます）。",
    stopThirdParty: "第三者提供を停止する",
    thirdPartyDone: "第三者提供の停止を受け付けました。",
    eraseHeading: "削除（退会）",
    eraseIntro:
      "このアドレスに結び付くすべての記録・同意・セッションを削除します。元に戻せません。",
    eraseConfirm: "元に戻せないことを理解しました",
    erase: "すべて削除する",
    eraseDone: "削除しました（受付番号 {receipt}）。ログアウトしました。",
    erasedCount: "削除した記録",
    retained: "法令により保存する記録",
    retainedProvisions: "法令により保存する第三者提供の記録（個人情報保護法第29条）",
    historyHeading: "請求の履歴",
    historyEmpty: "請求の履歴はありません。",
    historyKind: "請求",
    historyStatus: "状態",
    historyReceived: "受付日時",
    historyCompleted: "完了日時",
    historyReason: "理由",
    refresh: "更新",
    kinds: {
      export: "開示",
      erase: "削除",
      correct: "訂正",
      restrict: "利用の停止",
      lift: "利用の再開",
      "lift-restriction": "利用の再開",
      "stop-third-party": "第三者提供の停止",
      stop_third_party: "第三者提供の停止",
    },
    statuses: { received: "受付", completed: "完了", denied: "拒否" },
    working: "処理中です…",
    askWallet: "ウォレットで署名してください…",
    signedIn: "ログインしました。",
    signedOut: "ログアウトしました。",
    statement: "Sign in to ABCRECORDS",
    errorPrefix: "エラー",
    retryAfter: "{seconds} 秒後にもう一度お試しください。",
  },
  en: {
    title: "Sign in to ABCRECORDS with your wallet",
    tagline: "Sign in with an Ethereum wallet signature, then manage your consents and your data.",
    switchLanguage: "日本語",
    switchLanguageLabel: "日本語に切り替える",
    signInHeading: "Sign in",
    signInIntro: "Connect your wallet and sign a message to sign in. Signing costs no fee.",
    signIn: "Sign in with wallet",
    signOut: "Sign out",
    signedInAs: "Signed in as",
    network: "Network",
    notSignedIn: "You are not signed in.",
    tabsLabel: "Menu",
    consentsTab: "Consents",
    dataTab: "My data",
    consentsHeading: "Consents",
    policyVersion: "Privacy policy version",
    policyText: "The whole policy text (Japanese original)",
    necessaryHeading: "Purposes needed to provide the service",
    necessaryNote: "These are needed to provide the service and cannot be switched off.",
    optionalHeading: "Optional purposes",
    optionalNote: "You can withdraw consent at any time. All start switched off.",
    necessaryBadge: "Necessary",
    granted: "granted",
    withdrawn: "not granted",
    consentSaved: "“{purpose}” is now {state}.",
    dataHeading: "My data",
    dataIntro:
      "Each action asks your wallet for a confirming signature (to prove it is you; no fee).",
    exportHeading: "Export (disclosure)",
    exportJson: "Download JSON",
    exportHtml: "View as HTML",
    exportCsv: "Download CSV",
    exportDone: "Export received ({records} records).",
    exportFrameTitle: "Your data export (HTML)",
    correctHeading: "Correct, add or delete",
    correctIntro: "Correct, add or delete the information you supplied yourself.",
    correctLoad: "Load my records (export signature)",
    correctNone: "There are no records you can correct.",
    category: "Kind",
    value: "Value",
    save: "Correct",
    remove: "Delete",
    add: "Add",
    correctDone: "Done ({corrected} corrected, {added} added, {deleted} deleted).",
    restrictHeading: "Restriction of use",
    restrictIntro: "Suspend the use of your data for the purposes you choose; you can lift it again.",
    restrict: "Suspend use",
    lift: "Lift suspension",
    restrictDone: "Suspension received.",
    liftDone: "Lifting of the suspension received.",
    restrictNoneChosen: "Choose at least one purpose.",
    suspendedBadge: "Suspended",
    ageHeading: "Age confirmation",
    ageIntro: "Before you grant optional purposes, tell us whether you are under {age}. We never ask for your birth date.",
    ageAdult: "I am {age} or older",
    ageChild: "I am under {age}",
    ageConfirmedAdult: "Confirmed: {age} or older.",
    ageConfirmedChild: "Confirmed: under {age}.",
    guardianGiven: "A guardian's consent is on record.",
    guardianMissing: "Optional purposes need a guardian's consent: a parent or guardian contacts the service.",
    onHold: "on hold",
    policyEffective: "effective",
    policyEffectiveOperator: " (operator's setting)",
    changedIn: "Changed in version {version}: {summary} (the operator's summary). On hold until you consent again.",
    changedNoSummary: "Its text changed. On hold until you consent again.",
    changedInVersion: "Changed in version {version}: {summary} (the operator's summary)",
    contactHeading: "Contact and inquiries",
    contactIntro: "Giving these is up to you. Only what you enter is kept, and you are told its purpose.",
    contactEmail: "Email address (optional)",
    contactUrl: "URL (optional)",
    contactSave: "Save contact",
    contactSaved: "Contact saved ({count} item(s); purpose: {purposes}).",
    contactEmpty: "Enter an email address or a URL.",
    inquiryMessage: "Your inquiry (required)",
    inquirySend: "Send inquiry",
    inquirySent: "Inquiry received (number {id}; purpose: {purposes}).",
    thirdPartyHeading: "Stop third-party provision",
    thirdPartyIntro:
      "Stop providing your data to third parties on the ground of consent (provision required by law still applies).",
    stopThirdParty: "Stop third-party provision",
    thirdPartyDone: "Stop of third-party provision received.",
    eraseHeading: "Erasure (close account)",
    eraseIntro:
      "Erase every record, consent and session linked to this address. This cannot be undone.",
    eraseConfirm: "I understand this cannot be undone",
    erase: "Erase everything",
    eraseDone: "Erased (receipt {receipt}). You are signed out.",
    erasedCount: "Records erased",
    retained: "Records kept as the law requires",
    retainedProvisions: "Records of provisions to third parties, kept as the law requires (APPI Art. 29)",
    historyHeading: "Request history",
    historyEmpty: "No requests yet.",
    historyKind: "Request",
    historyStatus: "Status",
    historyReceived: "Received",
    historyCompleted: "Completed",
    historyReason: "Reason",
    refresh: "Refresh",
    kinds: {
      export: "Export",
      erase: "Erasure",
      correct: "Correction",
      restrict: "Restriction",
      lift: "Lifting a restriction",
      "lift-restriction": "Lifting a restriction",
      "stop-third-party": "Stop third-party provision",
      stop_third_party: "Stop third-party provision",
    },
    statuses: { received: "received", completed: "completed", denied: "denied" },
    working: "Working…",
    askWallet: "Please sign in your wallet…",
    signedIn: "Signed in.",
    signedOut: "Signed out.",
    statement: "Sign in to ABCRECORDS",
    errorPrefix: "Error",
    retryAfter: "Please try again in {seconds} seconds.",
  },
};

// code -> { ja, en }. Wallet-side names come from wallet.js (EIP-1193 numeric codes).
export const ERRORS = {
  // The wallet (EIP-1193) and the browser
  wallet_missing: {
    ja: "ウォレットが見つかりません。MetaMask などのウォレット拡張機能を有効にしてください。",
    en: "No wallet found. Install or enable a browser wallet such as MetaMask.",
  },
  user_rejected: {
    ja: "ウォレットで署名（または接続）が拒否されました。続けるには承認してください。",
    en: "The request was rejected in your wallet. Approve it to continue.",
  },
  wallet_unauthorized: {
    ja: "ウォレットがこのサイトを許可していません。ウォレットで接続を許可してください。",
    en: "Your wallet has not authorised this site. Allow the connection in your wallet.",
  },
  wallet_unsupported: {
    ja: "ウォレットがこの操作に対応していません。",
    en: "Your wallet does not support this request.",
  },
  wallet_disconnected: {
    ja: "ウォレットがネットワークに接続されていません。",
    en: "Your wallet is not connected to a network.",
  },
  wallet_request_pending: {
    ja: "ウォレットに確認待ちの要求があります。ウォレットを開いて応答してください。",
    en: "Your wallet already has a request waiting. Open your wallet and answer it.",
  },
  wallet_no_account: {
    ja: "ウォレットにアカウントがありません。",
    en: "Your wallet has no account.",
  },
  wallet_account_changed: {
    ja: "ウォレットのアカウントがログイン中のアドレスと異なります。ウォレットで元のアカウントに切り替えるか、ログインし直してください。",
    en: "Your wallet's account is not the signed-in address. Switch back in your wallet or sign in again.",
  },
  wallet_error: {
    ja: "ウォレットでエラーが発生しました。",
    en: "Your wallet reported an error.",
  },
  network_error: {
    ja: "サーバーに接続できません。ネットワークを確認してください。",
    en: "Cannot reach the server. Check your connection.",
  },
  unexpected_response: {
    ja: "サーバーから予期しない応答がありました。",
    en: "The server gave an unexpected answer.",
  },
  // Sign-in messages the server refuses
  chain_not_allowed: {
    ja: "このネットワークではログインできません。ウォレットで Ethereum メインネットなど対応するネットワークに切り替えてください。",
    en: "Sign-in is not accepted on this network. Switch your wallet to a supported network such as Ethereum mainnet.",
  },
  nonce_unknown: {
    ja: "ログインの有効期限が切れたか、すでに使われています。もう一度お試しください。",
    en: "The sign-in request expired or was already used. Please try again.",
  },
  nonce_mismatch: {
    ja: "署名したメッセージが今回の要求と一致しません。もう一度お試しください。",
    en: "The signed message does not match this request. Please try again.",
  },
  expired: {
    ja: "署名したメッセージの有効期限が切れています。もう一度お試しください。",
    en: "The signed message has expired. Please try again.",
  },
  not_yet_valid: {
    ja: "署名したメッセージはまだ有効になっていません。端末の時刻を確認してください。",
    en: "The signed message is not valid yet. Check your device's clock.",
  },
  issued_in_future: {
    ja: "署名したメッセージの日時が未来になっています。端末の時刻を確認してください。",
    en: "The signed message is dated in the future. Check your device's clock.",
  },
  too_old: {
    ja: "署名したメッセージが古すぎます。もう一度お試しください。",
    en: "The signed message is too old. Please try again.",
  },
  invalid_signature: {
    ja: "署名を確認できませんでした。ウォレットのアカウントを確認して、もう一度お試しください。",
    en: "The signature could not be verified. Check your wallet account and try again.",
  },
  malformed_message: {
    ja: "署名するメッセージの形式が正しくありません。",
    en: "The message to sign is malformed.",
  },
  domain_mismatch: {
    ja: "このメッセージは別のサイト向けです。アドレスバーのサイトを確認してください。",
    en: "The message is for another site. Check the address in your browser.",
  },
  scheme_mismatch: {
    ja: "このメッセージは別の接続方式（http/https）向けです。",
    en: "The message is for another scheme (http/https).",
  },
  uri_mismatch: {
    ja: "このメッセージは別のページ向けです。",
    en: "The message is for another page.",
  },
  rpc_unavailable: {
    ja: "コントラクトウォレットの署名を確認するためのノードに接続できません。しばらくしてからお試しください。",
    en: "The node that checks contract-wallet signatures is unavailable. Please try again later.",
  },
  rate_limited: {
    ja: "短時間に要求が多すぎます。しばらく待ってからお試しください。",
    en: "Too many requests. Please wait a moment and try again.",
  },
  invalid_address: {
    ja: "ウォレットのアドレスの形式が正しくありません。",
    en: "The wallet address is not valid.",
  },
  invalid_ip: {
    ja: "接続元の情報を読み取れませんでした。しばらくしてからお試しください。",
    en: "Your connection could not be identified. Please try again later.",
  },
  // Sessions
  not_authenticated: {
    ja: "ログインしていません。もう一度ログインしてください。",
    en: "You are not signed in. Please sign in again.",
  },
  session_revoked: {
    ja: "セッションが終了しています。もう一度ログインしてください。",
    en: "Your session has ended. Please sign in again.",
  },
  invalid_token: {
    ja: "ログイン情報が無効です。もう一度ログインしてください。",
    en: "Your sign-in is no longer valid. Please sign in again.",
  },
  // Consents and the policy
  unknown_purpose: {
    ja: "この利用目的はポリシーにありません。ページを再読み込みしてください。",
    en: "This purpose is not in the policy. Please reload the page.",
  },
  unknown_category: {
    ja: "この情報の種類はポリシーにありません。ページを再読み込みしてください。",
    en: "This kind of data is not in the policy. Please reload the page.",
  },
  unknown_ground: {
    ja: "この第三者提供の根拠はポリシーにありません。",
    en: "This ground for third-party provision is not in the policy.",
  },
  ground_not_allowed: {
    ja: "この根拠での第三者提供は認められていません。",
    en: "Provision to third parties on this ground is not allowed.",
  },
  unsupported_language: {
    ja: "この言語には対応していません（日本語または英語）。",
    en: "This language is not supported (Japanese or English).",
  },
  consent_not_changeable: {
    ja: "この利用目的の同意は変更できません。",
    en: "Consent cannot be changed for this purpose.",
  },
  not_a_consent_purpose: {
    ja: "この利用目的は同意に基づくものではありません。",
    en: "This purpose does not rest on consent.",
  },
  purpose_not_allowed: {
    ja: "この利用目的は許可されていません。",
    en: "This purpose is not allowed.",
  },
  consent_required: {
    ja: "この操作には同意が必要です。",
    en: "Consent is required for this.",
  },
  policy_changed: {
    ja: "この目的の内容が変更されたため、同意は保留中です。変更内容を確認し、改めて同意してください。",
    en: "This purpose's text has changed, so your consent is on hold. Review the change and consent again.",
  },
  purpose_suspended: {
    ja: "この利用目的は利用停止中です。先に「利用の再開」をしてください。",
    en: "This purpose is suspended. Lift the suspension first.",
  },
  age_confirmation_required: {
    ja: "任意の利用目的に同意する前に、年齢の確認が必要です。",
    en: "Your age must be confirmed before granting optional purposes.",
  },
  guardian_consent_required: {
    ja: "保護者の同意が必要です。",
    en: "A guardian's consent is required.",
  },
  no_age_rule: {
    ja: "このサービスでは年齢の確認は不要です。",
    en: "This service does not ask for an age confirmation.",
  },
  age_confirmation_final: {
    ja: "13 歳未満と確認済みです。変更はサービスの窓口にお問い合わせください。",
    en: "You are confirmed as under the guardian age; contact the service to change that.",
  },
  third_party_stopped: {
    ja: "第三者提供は停止されています。",
    en: "Third-party provision has been stopped.",
  },
  // Data-subject requests
  wrong_request: {
    ja: "署名したメッセージがこの請求のものではありません。もう一度お試しください。",
    en: "The signed message is not for this request. Please try again.",
  },
  signer_mismatch: {
    ja: "署名したアカウントがログイン中のアドレスと異なります。ウォレットのアカウントを切り替えてください。",
    en: "The message was signed by another account than the signed-in one. Switch accounts in your wallet.",
  },
  not_user_supplied: {
    ja: "この種類の情報はご自身で入力したものではないため、訂正できません。",
    en: "You did not supply this kind of information, so it cannot be corrected here.",
  },
  unknown_record: {
    ja: "その記録は見つかりません。記録を読み込み直してください。",
    en: "That record was not found. Load your records again.",
  },
  undeclared_field: {
    ja: "この種類にない項目が含まれています。",
    en: "The change holds a field this kind of record does not have.",
  },
  invalid_correction: {
    ja: "訂正の内容が不足しています。値を入力してください。",
    en: "The correction is incomplete. Enter a value.",
  },
  invalid_field_value: {
    ja: "入力した値の形式が正しくありません。",
    en: "The value is not in the right format.",
  },
  field_not_allowed: {
    ja: "この種類の情報には、その項目を保存できません。",
    en: "This kind of record cannot hold that item.",
  },
  not_restrictable: {
    ja: "この利用目的は法令またはログインに必要なため、停止できません。",
    en: "This purpose cannot be suspended: the law or sign-in itself needs it.",
  },
  unknown_subject: {
    ja: "このアドレスのデータはありません。",
    en: "There is no data for this address.",
  },
  invalid_argument: {
    ja: "入力内容が正しくありません。",
    en: "The input is not valid.",
  },
  // Requests the server could not take
  malformed_json: { ja: "要求の形式が正しくありません。", en: "The request is malformed." },
  invalid_request: { ja: "要求の内容が正しくありません。", en: "The request is not valid." },
  request_too_large: { ja: "要求が大きすぎます。", en: "The request is too large." },
  malformed_request: {
    ja: "サーバーが要求を読み取れませんでした。",
    en: "The server could not read the request.",
  },
  request_head_too_large: {
    ja: "要求のヘッダーが大きすぎます。このサイトの Cookie を削除してからお試しください。",
    en: "The request headers are too large. Clear this site's cookies and try again.",
  },
  request_head_timeout: {
    ja: "要求が時間内に届きませんでした。接続を確認してからお試しください。",
    en: "The request did not arrive in time. Check your connection and try again.",
  },
  request_body_timeout: {
    ja: "要求が時間内に届きませんでした。接続を確認してからお試しください。",
    en: "The request did not arrive in time. Check your connection and try again.",
  },
  not_found: { ja: "見つかりません。", en: "Not found." },
  method_not_allowed: {
    ja: "この操作はサーバーで利用できません。",
    en: "The server does not offer this action.",
  },
  service_unavailable: {
    ja: "サービスが一時的に利用できません。しばらくしてからお試しください。",
    en: "The service is temporarily unavailable. Please try again later.",
  },
  internal_error: {
    ja: "サーバーでエラーが発生しました。しばらくしてからお試しください。",
    en: "The server ran into an error. Please try again later.",
  },
};

/** The message for `code` in `lang`; an unknown code falls back to the server's detail. */
export function errorText(code, lang, detail) {
  const known = ERRORS[code];
  if (known) return known[lang];
  const fallback = lang === "ja" ? "予期しないエラーが発生しました。" : "Something went wrong.";
  return detail ? `${fallback} (${detail})` : fallback;
}

/** `template` with each `{name}` replaced by `values[name]`. */
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
