// A test EIP-1193 provider: window.ethereum answering like a browser wallet, whose
// personal_sign calls back into the test (which signs with a real private key, or
// rejects with EIP-1193 code 4001 when told to). __WALLET__ is filled in by the test.
(() => {
  const wallet = __WALLET__;
  const listeners = {};
  const failure = (code, message) => Object.assign(new Error(message), { code });
  window.ethereum = {
    isWalletAuthTestProvider: true,
    async request({ method, params }) {
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
