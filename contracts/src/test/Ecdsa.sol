// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @notice Minimal ECDSA recovery for the test wallets: 65-byte r || s || v signatures,
///         v in {27, 28}, low-s only (as wallets in the wild enforce). Returns address(0)
///         for anything malformed so callers can treat it as "not an owner".
library Ecdsa {
    uint256 private constant HALF_N =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @param sigs concatenated signatures; `offset` is where this 65-byte one starts.
    function recoverAt(bytes32 hash, bytes memory sigs, uint256 offset)
        internal
        pure
        returns (address)
    {
        if (sigs.length < offset + 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            let p := add(add(sigs, 32), offset)
            r := mload(p)
            s := mload(add(p, 32))
            v := byte(0, mload(add(p, 64)))
        }
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        return ecrecover(hash, v, r, s);
    }
}
