// The OpenID Provider's sign-in page: connect the browser wallet (EIP-1193), ask the
// server for the EIP-4361 message of this sign-in, have the wallet sign it
// (personal_sign), send it back, then go on to the consent screen.
const root = document.getElementById("oidc");
const status = document.getElementById("status");
const button = document.getElementById("connect");

function say(text) {
  status.textContent = text;
}

async function post(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const content = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const reason = content.detail || content.title || answer.status;
    throw new Error(`${root.dataset.failed}: ${reason} (${content.code || answer.status})`);
  }
  return content;
}

function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return "0x" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function signIn() {
  const wallet = window.ethereum;
  if (!wallet || typeof wallet.request !== "function") {
    say(root.dataset.noWallet);
    return;
  }
  button.disabled = true;
  try {
    const [address] = await wallet.request({ method: "eth_requestAccounts" });
    const chainId = Number.parseInt(await wallet.request({ method: "eth_chainId" }), 16);
    const ticket = root.dataset.ticket;
    const { message } = await post("/oauth/authorize/message", {
      ticket, address, chain_id: chainId,
    });
    say(root.dataset.signing);
    let signature;
    try {
      signature = await wallet.request({
        method: "personal_sign", params: [utf8Hex(message), address],
      });
    } catch (error) {
      throw new Error(error?.code === 4001 ? root.dataset.rejected : String(error?.message));
    }
    const { consent } = await post("/oauth/authorize/login", { ticket, message, signature });
    const form = document.getElementById("next");
    form.elements.consent.value = consent;
    form.submit();
  } catch (error) {
    say(error.message);
    button.disabled = false;
  }
}

button.addEventListener("click", signIn);
