// A test EIP-1193 provider: window.ethereum answering like a browser wallet. It asks
// the test for the account and chain (walletauthTestWallet), and personal_sign calls
// back into the test, which signs with a real private key or, when told to, rejects
// (EIP-1193 code 4001).
(() => {
  const listeners = {};
  const failure = (code, message) => Object.assign(new Error(message), { code });
  window.ethereum = {
    isWalletAuthTestProvider: true,
    async request({ method, params }) {
      const wallet = await window.walletauthTestWallet();
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [wallet.address.toLowerCase()];
        case "eth_chainId":
          return "0x" + wallet.chainId.toString(16);
        case "personal_sign": {
          const [data, address] = params;
          const answer = await window.walletauthTestSign(data, address);
          if (answer.rejected) throw failure(4001, "User rejected the request.");
          return answer.signature;
        }
        default:
          throw failure(4200, `The test wallet does not support ${method}`);
      }
    },
    on(event, listener) {
      (listeners[event] ||= []).push(listener);
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] || []).filter((l) => l !== listener);
    },
  };
})();
