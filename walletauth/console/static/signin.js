// The console's sign-in: the wallet (EIP-1193, window.ethereum) signs the EIP-4361
// message the console composes for it (naming urn:walletauth:console), then the console
// checks it as a sign-in is checked and sets its own short session cookie.
const status = document.getElementById("status");

async function signIn() {
  status.textContent = "";
  if (!window.ethereum) {
    status.textContent = "No browser wallet found (window.ethereum).";
    return;
  }
  const [account] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const chainId = Number.parseInt(await window.ethereum.request({ method: "eth_chainId" }), 16);
  const composed = await post("/console/signin/message", { address: account, chain_id: chainId });
  if (!composed.ok) return show(composed);
  const { message } = await composed.json();
  const signature = await window.ethereum.request({
    method: "personal_sign",
    params: [utf8Hex(message), account],
  });
  const answer = await post("/console/signin", { message, signature });
  if (!answer.ok) return show(answer);
  window.location.assign("/console/");
}

function post(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
}

async function show(response) {
  const problem = await response.json().catch(() => ({}));
  status.textContent = `${response.status} ${problem.code || ""}: ${problem.detail || ""}`;
}

function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

document.getElementById("sign-in").addEventListener("click", () => {
  signIn().catch((error) => {
    status.textContent = error.message || String(error);
  });
});
