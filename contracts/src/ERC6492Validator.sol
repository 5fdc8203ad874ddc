// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Deploy-less ERC-1271 / ERC-6492 signature validator.
/// @notice Never deployed. walletauth runs it with a single `eth_call` that has no `to`:
///         data = this contract's creation code ++ abi.encode(signer, hash, signature).
///         The constructor does the whole check and returns ONE status byte as the
///         "runtime code", which is what `eth_call` hands back. Any state it creates
///         (a counterfactual wallet deployed through its factory) is thrown away with
///         the call, so running the factory here has no lasting side effect.
/// @dev Follows the verifier order of ERC-6492: a wrapped signature is unwrapped first;
///      an undeployed wallet is deployed through `factory.call(factoryCalldata)`; a wallet
///      that already has code is asked first as it is (so key rotation on the live wallet
///      wins), and only if it says no is the wrapper's call run as a "prepare" step and
///      the wallet asked again. EOAs (ecrecover) are not this contract's concern: walletauth
///      checks those off-chain before it gets here.
///      Failures never revert: they are reported as distinct status bytes so the caller
///      can tell "the wallet said no" from "the node failed" (which surfaces as an RPC
///      error instead). The one revert left is `abi.decode` of a malformed wrapper.
contract ERC6492Validator {
    bytes32 private constant ERC6492_SUFFIX =
        0x6492649264926492649264926492649264926492649264926492649264926492;
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;

    uint8 internal constant INVALID = 0x00; // the wallet answered, with something else than the magic
    uint8 internal constant VALID = 0x01; // the wallet answered exactly the magic value
    uint8 internal constant NO_CODE = 0x02; // no code at the signer (after the factory call, if any)
    uint8 internal constant WALLET_REVERTED = 0x03; // isValidSignature reverted
    uint8 internal constant DEPLOY_FAILED = 0x04; // the factory call reverted, signer still has no code

    constructor(address signer, bytes32 hash, bytes memory signature) {
        uint8 status = _validate(signer, hash, signature);
        assembly {
            mstore(0, status)
            return(31, 1)
        }
    }

    function _validate(address signer, bytes32 hash, bytes memory signature)
        private
        returns (uint8)
    {
        if (!_isWrapped(signature)) {
            if (signer.code.length == 0) return NO_CODE;
            return _askWallet(signer, hash, signature);
        }

        (address factory, bytes memory factoryCalldata, bytes memory inner) =
            abi.decode(_stripSuffix(signature), (address, bytes, bytes));

        if (signer.code.length > 0) {
            uint8 first = _askWallet(signer, hash, inner);
            if (first == VALID) return VALID;
            // The wrapper may carry a "prepare" call (migration, owner update) that the
            // deployed wallet needs before it can verify: run it and ask once more.
            (bool prepared,) = factory.call(factoryCalldata);
            if (!prepared) return first;
            return _askWallet(signer, hash, inner);
        }

        (bool called,) = factory.call(factoryCalldata);
        if (signer.code.length == 0) return called ? NO_CODE : DEPLOY_FAILED;
        return _askWallet(signer, hash, inner);
    }

    /// @dev Raw staticcall instead of an interface call: a typed call would revert on
    ///      malformed return data, and we want exactly-32-bytes-equal-to-the-magic-word,
    ///      not "whatever Solidity's decoder lets through".
    function _askWallet(address signer, bytes32 hash, bytes memory signature)
        private
        view
        returns (uint8)
    {
        (bool ok, bytes memory ret) =
            signer.staticcall(abi.encodeWithSelector(ERC1271_MAGIC, hash, signature));
        if (!ok) return WALLET_REVERTED;
        if (ret.length == 32 && bytes32(ret) == bytes32(ERC1271_MAGIC)) return VALID;
        return INVALID;
    }

    function _isWrapped(bytes memory signature) private pure returns (bool) {
        uint256 len = signature.length;
        if (len < 32) return false;
        bytes32 tail;
        assembly {
            tail := mload(add(signature, len))
        }
        return tail == ERC6492_SUFFIX;
    }

    /// @dev Shortens the byte array in place: the suffix is never needed again.
    function _stripSuffix(bytes memory signature) private pure returns (bytes memory) {
        assembly {
            mstore(signature, sub(mload(signature), 32))
        }
        return signature;
    }
}
