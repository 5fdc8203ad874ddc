// The browser wallet through the standard EIP-1193 provider (window.ethereum), and
// EIP-4361 messages built with viem's createSiweMessage (vendor/siwe.js).

import { createSiweMessage, getAddress } from "./vendor/siwe.js";

export const REQUEST_URN_PREFIX = "urn:walletauth:request:";

// EIP-1193 (and the JSON-RPC "request already pending" of common wallets) -> message codes.
const PROVIDER_ERRORS = {
  4001: "user_rejected",
  4100: "wallet_unauthorized",
  4200: "wallet_unsupported",
  4900: "wallet_disconnected",
  4901: "wallet_disconnected",
  [-32002]: "wallet_request_pending",
};

export class WalletError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
    this.detail = detail;
  }
}

function provider() {
  const ethereum = window.ethereum;
  if (!ethereum || typeof ethereum.request !== "function") {
    throw new WalletError("wallet_missing");
  }
  return ethereum;
}

async function ask(method, params) {
  try {
    return await provider().request(params === undefined ? { method } : { method, params });
  } catch (error) {
    if (error instanceof WalletError) throw error;
    const code = PROVIDER_ERRORS[error?.code] ?? "wallet_error";
    throw new WalletError(code, error?.message);
  }
}

/** Ask the wallet to connect; the first account, EIP-55 checksummed. */
export async function connect() {
  const accounts = await ask("eth_requestAccounts");
  if (!accounts?.length) throw new WalletError("wallet_no_account");
  return getAddress(accounts[0]);
}

/** The connected account without prompting, or null. */
export async function currentAccount() {
  if (!window.ethereum) return null;
  const accounts = await ask("eth_accounts");
  return accounts?.length ? getAddress(accounts[0]) : null;
}

export async function chainId() {
  return Number.parseInt(await ask("eth_chainId"), 16);
}

/** An EIP-4361 message for this page, naming `request` (a data-subject request) if given. */
export function siweMessage({ address, chain, nonce, statement, request }) {
  const now = new Date();
  return createSiweMessage({
    domain: window.location.host,
    address,
    statement,
    uri: window.location.origin + window.location.pathname,
    version: "1",
    chainId: chain,
    nonce,
    issuedAt: now,
    expirationTime: new Date(now.getTime() + 5 * 60 * 1000),
    resources: request ? [REQUEST_URN_PREFIX + request] : undefined,
  });
}

/** personal_sign: the wallet signs the message's UTF-8 bytes (EIP-191). */
export async function sign(message, address) {
  return ask("personal_sign", [utf8Hex(message), address]);
}

function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return "0x" + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Call `listener(address|null)` when the wallet's account changes. */
export function onAccountsChanged(listener) {
  window.ethereum?.on?.("accountsChanged", (accounts) => {
    listener(accounts?.length ? getAddress(accounts[0]) : null);
  });
}
