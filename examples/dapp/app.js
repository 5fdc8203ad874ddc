// The example dApp: sign in with the wallet, consents from the policy, "My data".

import { api, apiUrl } from "./api.js";
import { ERRORS, LANGS, UI, errorText, fill } from "./messages.js";
import { WalletError, chainId, connect, onAccountsChanged, siweMessage, sign } from "./wallet.js";

const SESSION_ENDED = new Set(["not_authenticated", "session_revoked", "invalid_token"]);
const $ = (id) => document.getElementById(id);

const state = {
  lang: LANGS.includes(localStorage.getItem("walletauth.lang"))
    ? localStorage.getItem("walletauth.lang") : "ja",
  session: null, // { address, chain_id }
  policy: null,
  consents: {},
  // From /me/consents: suspended purposes, granted ones on hold (and why), the age rule's state.
  standing: { suspended: [], on_hold: {}, changed: {}, age: null },
  records: null, // the user-supplied records of the last export
  // GET /me/requests, oldest first: the pages loaded so far and the next page's cursor.
  history: { requests: [], next: null },
};

const t = () => UI[state.lang];

// ------------------------------------------------------------------ feedback

function showStatus(text) {
  $("status").textContent = text;
}

function clearError() {
  $("error").hidden = true;
  $("error").removeAttribute("data-code");
}

function showError(error) {
  const code = error?.code && (ERRORS[error.code] || error.detail) ? error.code : "internal_error";
  let text = errorText(code, state.lang, error?.detail);
  if (error?.retryAfter) text += " " + fill(t().retryAfter, { seconds: error.retryAfter });
  $("error-text").textContent = `${t().errorPrefix}: ${text}`;
  $("error-code").textContent = code;
  $("error").dataset.code = code;
  $("error").hidden = false;
  showStatus("");
  if (SESSION_ENDED.has(code)) setSession(null);
}

/** Run `action` with every button disabled, showing its failure as a message. */
async function run(action) {
  clearError();
  showStatus(t().working);
  const buttons = [...document.querySelectorAll("button")].filter((b) => !b.disabled);
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    syncEraseButton();
  }
}

// ------------------------------------------------------------------ language

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t().title;
  for (const node of document.querySelectorAll("[data-t]")) {
    node.textContent = t()[node.dataset.t];
  }
  for (const node of document.querySelectorAll("[data-t-label]")) {
    node.setAttribute("aria-label", t()[node.dataset.tLabel]);
  }
  for (const node of document.querySelectorAll("[data-t-title]")) {
    node.title = t()[node.dataset.tTitle];
  }
  $("lang").setAttribute("aria-label", t().switchLanguageLabel);
  $("lang").lang = state.lang === "ja" ? "en" : "ja";
}

async function switchLanguage() {
  state.lang = state.lang === "ja" ? "en" : "ja";
  localStorage.setItem("walletauth.lang", state.lang);
  applyLanguage();
  if (state.session) await run(loadConsents);
  else showStatus("");
}

// ------------------------------------------------------------------ sign-in

function setSession(session) {
  state.session = session;
  $("signed-out").hidden = Boolean(session);
  $("signed-in").hidden = !session;
  $("account").hidden = !session;
  if (session) {
    $("who").textContent = session.address;
    $("chain").textContent = String(session.chain_id);
    $("erased").hidden = true;
  }
}

async function signIn() {
  const address = await connect();
  const chain = await chainId();
  const { nonce } = await api("/auth/nonce");
  const message = siweMessage({ address, chain, nonce, statement: t().statement });
  showStatus(t().askWallet);
  const signature = await sign(message, address);
  const signedIn = await api("/auth/verify", { method: "POST", body: { message, signature } });
  setSession({ address: signedIn.address, chain_id: signedIn.chain_id });
  await loadConsents();
  selectTab("consents");
  showStatus(t().signedIn);
}

async function signOut() {
  await api("/auth/logout", { method: "POST" });
  setSession(null);
  showStatus(t().signedOut);
}

async function restoreSession() {
  try {
    const session = await api("/auth/session");
    setSession(session);
    await loadConsents();
  } catch (error) {
    if (!SESSION_ENDED.has(error.code)) showError(error);
  }
}

// ------------------------------------------------------------------ consents

async function loadConsents() {
  const [policy, mine] = await Promise.all([
    api(`/policy?lang=${state.lang}`),
    api("/me/consents"),
  ]);
  state.policy = policy;
  applyConsents(mine);
}

function applyConsents(answer) {
  state.consents = answer.consents;
  state.standing = {
    suspended: answer.suspended, on_hold: answer.on_hold, changed: answer.changed || {},
    age: answer.age,
  };
  renderConsents();
  renderRestrictChoices();
}

// Shown only when the policy has an age rule: a yes or no, never a birth date.
function renderAge() {
  const rule = state.policy.age;
  $("age-step").hidden = !rule;
  if (!rule) return;
  const years = { age: rule.guardian_consent_below };
  const age = state.standing.age;
  $("age-intro").textContent = fill(t().ageIntro, years);
  $("age-adult").textContent = fill(t().ageAdult, years);
  $("age-child").textContent = fill(t().ageChild, years);
  // Once under the guardian age, only the service can change it.
  $("age-choices").hidden = Boolean(age?.confirmed && age.under_guardian_age);
  let text = "";
  if (age?.confirmed) {
    text = fill(age.under_guardian_age ? t().ageConfirmedChild : t().ageConfirmedAdult, years);
    if (age.under_guardian_age) text += " " + (age.guardian_consent ? t().guardianGiven : t().guardianMissing);
  }
  $("age-state").textContent = text;
}

async function confirmAge(underGuardianAge) {
  applyConsents(await api("/me/age", {
    method: "PUT",
    body: { under_guardian_age: underGuardianAge },
  }));
}

function renderConsents() {
  const { policy } = state;
  let meta = `${policy.name} — ${t().policyVersion} ${policy.version}`;
  const effective = policy.effective_date;
  if (effective) {
    meta += `, ${t().policyEffective} ${effective.date}`;
    if (effective.set_by === "operator") meta += t().policyEffectiveOperator;
  }
  $("policy-meta").textContent = meta;
  // The URL field only where the policy keeps one (ABCRECORDS; not METALIVE).
  $("contact-url-field").hidden = !policy.categories.some((c) => c.id === "application_url");
  renderIntakeMarks();
  // The published text, whole; and what "the operator's setting" means on this screen.
  $("policy-text").hidden = !policy.text_url;
  if (policy.text_url) $("policy-text").href = apiUrl(policy.text_url);
  $("operator-note").textContent = policy.operator_settings?.note ?? "";
  $("necessary").replaceChildren(
    ...policy.purposes.filter((p) => !p.optional).map(necessaryItem),
  );
  $("optional").replaceChildren(...policy.purposes.filter((p) => p.optional).map(optionalItem));
  renderAge();
}

function necessaryItem(purpose) {
  const item = element("li", { className: "purpose", id: `purpose-${purpose.id}` });
  item.append(
    element("span", { className: "purpose-text", textContent: purpose.text }),
    element("span", { className: "badge", textContent: t().necessaryBadge }),
  );
  return item;
}

function optionalItem(purpose) {
  const item = element("li", { className: "purpose", id: `purpose-${purpose.id}` });
  const label = element("label", { className: "switch" });
  const toggle = element("input", {
    type: "checkbox",
    id: `consent-${purpose.id}`,
    checked: Boolean(state.consents[purpose.id]),
  });
  toggle.setAttribute("role", "switch");
  toggle.addEventListener("change", () => run(() => changeConsent(purpose, toggle)));
  const stateText = element("span", { className: "switch-state" });
  stateText.textContent = toggle.checked ? t().granted : t().withdrawn;
  if (state.standing.on_hold[purpose.id]) stateText.textContent += ` (${t().onHold})`;
  label.append(
    element("span", { className: "purpose-text", textContent: purpose.text }),
    toggle,
    stateText,
  );
  item.append(label);
  const change = state.standing.changed[purpose.id];
  if (change) item.append(element("p", { className: "muted change", textContent: changeText(change) }));
  else if (purpose.changed_in === state.policy.version && purpose.change) {
    // New or changed in the version in force, and not granted before: say what changed.
    const text = fill(t().changedInVersion, { version: purpose.changed_in, summary: purpose.change });
    item.append(element("p", { className: "muted change", textContent: text }));
  }
  return item;
}

/** What changed in a purpose whose consent is on hold (the operator's summary, labelled). */
function changeText(change) {
  if (!change.summary || !change.changed_in) return t().changedNoSummary;
  return fill(t().changedIn, { version: change.changed_in, summary: change.summary[state.lang] });
}

async function changeConsent(purpose, toggle) {
  const granted = toggle.checked;
  try {
    const answer = await api("/me/consents", {
      method: "PUT",
      body: { purpose: purpose.id, granted },
    });
    applyConsents(answer);
  } finally {
    renderConsents();
  }
  showStatus(fill(t().consentSaved, {
    purpose: purpose.text,
    state: state.consents[purpose.id] ? t().granted : t().withdrawn,
  }));
}

// ------------------------------------------------------------------ contact and inquiries

/**
 * Which items the forms require, as /policy's intakes say (ABCRECORDS 9: the split is the
 * operator's setting, and the server refuses what lacks a required item). Where the policy
 * names no intake (METALIVE), only what the API itself needs is required: the message.
 */
function renderIntakeMarks() {
  const intakes = state.policy.intakes || [];
  const find = (id) => intakes.find((intake) => intake.id === id);
  const mark = (intake, item, fallback) => {
    if (intake?.required.some((r) => r.item === item)) return t().markRequired;
    if (intake?.optional.some((r) => r.item === item)) return t().markOptional;
    return intake ? "" : fallback;
  };
  const application = find("application");
  const inquiry = find("inquiry");
  $("contact-email-mark").textContent = mark(application, "contact_email.email", t().markOptional);
  $("contact-url-mark").textContent = mark(application, "application_url.url", t().markOptional);
  $("inquiry-message-mark").textContent = mark(inquiry, "inquiry.message", t().markRequired);
  // What an inquiry needs beyond its message is taken from the record (the contact form).
  const elsewhere = (inquiry?.required || []).filter((r) => r.category !== "inquiry");
  $("inquiry-needs").hidden = !elsewhere.length;
  $("inquiry-needs").textContent = elsewhere.length
    ? fill(t().inquiryNeeds, { items: elsewhere.map((r) => r.label).join(state.lang === "ja" ? "、" : ", ") })
    : "";
  const note = (application || inquiry)?.note;
  $("intake-note").textContent = note ? fill(t().intakeNote, { note }) : "";
}

async function saveContact(event) {
  event.preventDefault();
  const body = {};
  const email = $("contact-email").value.trim();
  const url = $("contact-url").value.trim();
  if (email) body.email = email;
  if (url && !$("contact-url-field").hidden) body.url = url;
  if (!Object.keys(body).length) {
    $("contact-result").textContent = t().contactEmpty;
    return;
  }
  const answer = await api("/me/contact", { method: "PUT", body });
  const done = fill(t().contactSaved, { count: answer.kept.length, purposes: purposesOf(answer) });
  $("contact-result").textContent = done;
  showStatus(done);
}

/** The texts of the purposes the records of an intake answer were kept for. */
function purposesOf(answer) {
  const texts = new Map(state.policy.purposes.map((p) => [p.id, p.text]));
  return [...new Set(answer.kept.map((k) => texts.get(k.purpose) || k.purpose))].join(state.lang === "ja" ? "、" : ", ");
}

async function sendInquiry(event) {
  event.preventDefault();
  const message = $("inquiry-message").value.trim();
  const answer = await api("/me/inquiries", { method: "POST", body: { message } });
  $("inquiry-message").value = "";
  const done = fill(t().inquirySent, { id: answer.kept[0].record_id, purposes: purposesOf(answer) });
  $("inquiry-result").textContent = done;
  showStatus(done);
}

// ------------------------------------------------------------------ my data

/** POST a data-subject request, confirmed by a fresh signature naming it. */
async function signedRequest(kind, path, extra = {}, as = "json") {
  const { address } = state.session;
  const account = await connect();
  if (account !== address) throw new WalletError("wallet_account_changed");
  const chain = await chainId();
  const { nonce } = await api("/auth/nonce");
  const statement = `Confirm my ABCRECORDS data request: ${kind}`;
  const message = siweMessage({ address, chain, nonce, statement, request: kind });
  showStatus(t().askWallet);
  const signature = await sign(message, address);
  const answer = await api(path, { method: "POST", body: { message, signature, ...extra }, as });
  // An erasure ends the session with everything else: there is no history left to show.
  if (kind !== "erase") await loadHistory();
  return answer;
}

async function exportJson() {
  const document_ = await signedRequest("export", "/me/export");
  download(JSON.stringify(document_, null, 2), "application/json", "json");
  rememberRecords(document_);
  const done = fill(t().exportDone, { records: (document_.records || []).length });
  $("export-result").textContent = done;
  showStatus(done);
}

async function exportHtml() {
  const path = `/me/export?format=html&lang=${state.lang}`;
  const html = await signedRequest("export", path, {}, "text");
  $("export-frame").srcdoc = html;
  $("export-view").hidden = false;
  $("export-view").scrollIntoView({ block: "nearest" });
  showStatus("");
}

async function exportCsv() {
  const csv = await signedRequest("export", "/me/export?format=csv", {}, "text");
  download(csv, "text/csv", "csv");
  showStatus("");
}

function download(content, type, extension) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = element("a", {
    href: url,
    download: `walletauth-export-${state.session.address.slice(0, 10)}.${extension}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function userSuppliedCategories() {
  return (state.policy?.categories || []).filter((c) => c.user_supplied);
}

function rememberRecords(exported) {
  const editable = new Set(userSuppliedCategories().map((c) => c.id));
  state.records = (exported.records || []).filter((r) => editable.has(r.category));
  renderRecords();
}

async function loadRecords() {
  rememberRecords(await signedRequest("export", "/me/export"));
  showStatus("");
}

function renderRecords() {
  const rows = (state.records || []).map(recordForm);
  if (!rows.length) rows.push(element("p", { className: "muted", textContent: t().correctNone }));
  rows.push(addForm());
  $("records").replaceChildren(...rows);
}

/** What a category's records hold, named plainly (any category, not only user-supplied);
 * the policy's own words are its `text`, which may name it only in general terms. */
function categoryName(id) {
  const category = (state.policy?.categories || []).find((c) => c.id === id);
  return category?.label ?? category?.text ?? id;
}

function recordForm(record) {
  const id = record.id ?? record.record_id;
  const form = element("form", { className: "record" });
  form.append(element("p", { className: "record-title", textContent: categoryName(record.category) }));
  const inputs = fieldInputs(`record-${id}`, Object.keys(record.data || {}), record.data || {});
  form.append(...inputs.map(([label]) => label));
  const save = element("button", { type: "submit", textContent: t().save });
  const remove = element("button", { type: "button", className: "ghost", textContent: t().remove });
  form.append(element("div", { className: "actions" }, [save, remove]));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => correct([{ op: "correct", record_id: id, data: valuesOf(inputs) }]));
  });
  remove.addEventListener("click", () => run(() => correct([{ op: "delete", record_id: id }])));
  return form;
}

function addForm() {
  const categories = userSuppliedCategories();
  const form = element("form", { className: "record add" });
  const select = element("select", { id: "add-category" });
  for (const category of categories) {
    select.append(element("option", { value: category.id, textContent: category.text }));
  }
  const selectLabel = element("label", { textContent: t().category });
  selectLabel.append(select);
  const fields = element("div");
  let inputs = [];
  const drawFields = () => {
    const category = categories.find((c) => c.id === select.value);
    inputs = fieldInputs("add", Object.keys(category?.fields || {}), {});
    fields.replaceChildren(...inputs.map(([label]) => label));
  };
  select.addEventListener("change", drawFields);
  drawFields();
  form.append(selectLabel, fields, element("button", { type: "submit", textContent: t().add }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const category = categories.find((c) => c.id === select.value);
    const purpose = category.purposes[0]?.purpose;
    run(() => correct([{ op: "add", category: category.id, purpose, data: valuesOf(inputs) }]));
  });
  return form;
}

/** One labelled text input per field: [[label, input, name], ...]. */
function fieldInputs(prefix, names, values) {
  return names.map((name) => {
    const input = element("input", {
      type: "text", id: `${prefix}-${name}`, name, value: String(values[name] ?? ""),
    });
    const label = element("label", { className: "field", textContent: name });
    label.append(input);
    return [label, input, name];
  });
}

function valuesOf(inputs) {
  return Object.fromEntries(inputs.map(([, input, name]) => [name, input.value]));
}

async function correct(changes) {
  const receipt = await signedRequest("correct", "/me/corrections", { changes });
  const detail = receipt.detail || receipt;
  const done = fill(t().correctDone, {
    corrected: count(detail.corrected), added: count(detail.added), deleted: count(detail.deleted),
  });
  applyLocally(changes);
  $("correct-result").textContent = done;
  showStatus(done);
}

/** How many: the receipt lists record ids (or, from older servers, a number). */
function count(value) {
  return Array.isArray(value) ? value.length : Number(value) || 0;
}

/** Show corrections and deletions without another export signature; an added record
 * gets its id from the server, so it appears with the next "Load my records". */
function applyLocally(changes) {
  for (const change of changes) {
    const index = (state.records || []).findIndex((r) => (r.id ?? r.record_id) === change.record_id);
    if (index < 0) continue;
    if (change.op === "delete") state.records.splice(index, 1);
    else state.records[index] = { ...state.records[index], data: change.data };
  }
  renderRecords();
}

function renderRestrictChoices() {
  // Only purposes whose use can be suspended: not the service itself, not the law's.
  const purposes = state.policy.purposes.filter(
    (p) => p.basis !== "necessary" && p.basis !== "legal_obligation",
  );
  const legend = $("restrict-purposes").querySelector("legend");
  $("restrict-purposes").replaceChildren(legend, ...purposes.map((purpose) => {
    const label = element("label", { className: "choice" });
    label.append(
      element("input", { type: "checkbox", value: purpose.id, id: `restrict-${purpose.id}` }),
      element("span", { textContent: purpose.text }),
    );
    if (state.standing.suspended.includes(purpose.id)) {
      label.append(element("span", {
        className: "badge", id: `suspended-${purpose.id}`, textContent: t().suspendedBadge,
      }));
    }
    return label;
  }));
}

async function restrict(lift) {
  const purposes = [...$("restrict-purposes").querySelectorAll("input:checked")].map(
    (input) => input.value,
  );
  if (!purposes.length) {
    showStatus(t().restrictNoneChosen);
    return;
  }
  await signedRequest("restrict", "/me/restrictions", { purposes, lift });
  applyConsents(await api("/me/consents")); // the suspended badges
  const done = lift ? t().liftDone : t().restrictDone;
  $("restrict-result").textContent = done;
  showStatus(done);
}

async function stopThirdParty() {
  await signedRequest("stop-third-party", "/me/third-party/stop");
  $("third-party-result").textContent = t().thirdPartyDone;
  showStatus(t().thirdPartyDone);
}

function syncEraseButton() {
  $("erase").disabled = !$("erase-confirm").checked;
}

async function erase() {
  const receipt = await signedRequest("erase", "/me/erase");
  $("erase-confirm").checked = false;
  setSession(null);
  const text = fill(t().eraseDone, { receipt: receipt.receipt_id });
  $("erased-text").textContent = text;
  $("erased-detail").replaceChildren(...receiptDetail(receipt));
  $("erased").hidden = false;
  showStatus("");  // the receipt above says it
}

function receiptDetail(receipt) {
  const erased = Object.entries(receipt.erased || {});
  const list = element("dl", { className: "who" });
  list.append(element("dt", { textContent: t().erasedCount }));
  list.append(element("dd", {
    textContent: erased.map(([id, count]) => `${categoryName(id)}: ${count}`).join(", ") || "0",
  }));
  if (receipt.retained?.length) {
    list.append(element("dt", { textContent: t().retained }));
    list.append(element("dd", {
      textContent: receipt.retained
        .map((r) => `${categoryName(r.category)} (${r.ground[state.lang]})`).join(", "),
    }));
  }
  if (receipt.retained_provisions?.length) {
    // Records of provisions to third parties, kept for their statutory period (APPI Art. 29).
    list.append(element("dt", { textContent: t().retainedProvisions }));
    list.append(element("dd", {
      textContent: receipt.retained_provisions
        .map((p) => `${p.ground_text[state.lang]} (${p.count})`).join(", "),
    }));
  }
  return [list];
}

/** Requests per page of the history; "more" loads the next one (its `next_cursor`). */
const HISTORY_PAGE = 20;

async function loadHistory() {
  if (!state.session) return;
  state.history = { requests: [], next: null };
  await loadHistoryPage(null);
}

/** The page after `after` (a page's `next_cursor`; null: the first), added to the table. */
async function loadHistoryPage(after) {
  const query = new URLSearchParams({ limit: String(HISTORY_PAGE) });
  if (after) query.set("after", after);
  const answer = await api(`/me/requests?${query}`);
  state.history.requests.push(...answer.requests);
  state.history.next = answer.next_cursor;
  renderHistory(state.history.requests);
}

function renderHistory(requests) {
  $("history-more").hidden = !state.history.next;
  if (!requests.length) {
    $("history").replaceChildren(element("p", { className: "muted", textContent: t().historyEmpty }));
    return;
  }
  const head = ["historyKind", "historyStatus", "historyReceived", "historyCompleted",
    "historyReason"].map((key) => element("th", { scope: "col", textContent: t()[key] }));
  const rows = requests.map((request) => element("tr", { className: `status-${request.status}` }, [
    element("td", { textContent: t().kinds[request.kind] ?? request.kind }),
    element("td", { textContent: t().statuses[request.status] ?? request.status }),
    element("td", { textContent: when(request.received_at) }),
    element("td", { textContent: when(request.completed_at) }),
    element("td", {
      textContent: request.reason ? errorText(request.reason, state.lang, request.reason) : "",
    }),
  ]));
  const table = element("table", { id: "history-table" }, [
    element("thead", {}, [element("tr", {}, head)]),
    element("tbody", {}, rows),
  ]);
  $("history").replaceChildren(element("div", { className: "table-scroll" }, [table]));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(state.lang === "ja" ? "ja-JP" : "en-GB") : "";
}

// ------------------------------------------------------------------ tabs

function selectTab(name) {
  for (const tab of ["consents", "data"]) {
    const selected = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
  }
}

function onTabKey(event) {
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  const next = event.target.id === "tab-consents" ? "data" : "consents";
  selectTab(next);
  $(`tab-${next}`).focus();
}

// ------------------------------------------------------------------ helpers

function element(tag, properties = {}, children = []) {
  const node = Object.assign(document.createElement(tag), properties);
  node.append(...children);
  return node;
}

// ------------------------------------------------------------------ start

function start() {
  applyLanguage();
  $("lang").addEventListener("click", switchLanguage);
  $("sign-in").addEventListener("click", () => run(signIn));
  $("sign-out").addEventListener("click", () => run(signOut));
  $("tab-consents").addEventListener("click", () => selectTab("consents"));
  $("tab-data").addEventListener("click", () => {
    selectTab("data");
    run(async () => {
      await loadHistory();
      showStatus("");
    });
  });
  $("tab-consents").addEventListener("keydown", onTabKey);
  $("tab-data").addEventListener("keydown", onTabKey);
  $("export-json").addEventListener("click", () => run(exportJson));
  $("export-html").addEventListener("click", () => run(exportHtml));
  $("export-csv").addEventListener("click", () => run(exportCsv));
  $("correct-load").addEventListener("click", () => run(loadRecords));
  $("contact-form").addEventListener("submit", (event) => run(() => saveContact(event)));
  $("inquiry-form").addEventListener("submit", (event) => run(() => sendInquiry(event)));
  $("age-adult").addEventListener("click", () => run(() => confirmAge(false)));
  $("age-child").addEventListener("click", () => run(() => confirmAge(true)));
  $("restrict").addEventListener("click", () => run(() => restrict(false)));
  $("lift").addEventListener("click", () => run(() => restrict(true)));
  $("stop-third-party").addEventListener("click", () => run(stopThirdParty));
  $("erase-confirm").addEventListener("change", syncEraseButton);
  $("erase").addEventListener("click", () => run(erase));
  $("history-refresh").addEventListener("click", () => run(async () => {
    await loadHistory();
    showStatus("");
  }));
  $("history-more").addEventListener("click", () => run(async () => {
    await loadHistoryPage(state.history.next);
    showStatus("");
  }));
  onAccountsChanged((account) => {
    if (state.session && account !== state.session.address) {
      showError(new WalletError("wallet_account_changed"));
    }
  });
  restoreSession();
}

start();
