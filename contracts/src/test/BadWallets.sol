// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice A wallet whose isValidSignature always reverts (with a reason string).
contract RevertingWallet {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        revert("RevertingWallet: no");
    }
}

/// @notice A "wallet" that answers every call with fixed raw bytes, not ABI-encoded by
///         Solidity: lets tests feed the verifier a wrong magic value, the magic value
///         right-aligned, dirty padding, short or empty or overlong return data.
contract RawResponseWallet {
    bytes private response;

    constructor(bytes memory response_) {
        response = response_;
    }

    fallback(bytes calldata) external returns (bytes memory) {
        return response;
    }
}
