// The one npm library the page uses: viem's EIP-4361 message builder (and the
// checksum helper it relies on), bundled by `npm run build` into vendor/siwe.js.
export { createSiweMessage } from "viem/siwe";
export { getAddress } from "viem";
