// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ecdsa} from "./Ecdsa.sol";

/// @title Test wallet whose owner moves by a signed migration anyone may submit.
/// @notice `isValidSignature` accepts one 65-byte ECDSA signature over the hash by the
///         CURRENT owner only. `migrate(newOwner, authorisation)` hands the wallet to a new
///         key; any caller may run it, as long as `authorisation` is the current owner's
///         signature over `migrationHash(newOwner)` (wallet, chain and nonce bound, so it
///         cannot be replayed). A migration that is signed but not yet on chain is what an
///         ERC-6492 wrapper's "prepare" call exists for: the new owner's signature is only
///         valid once the wrapper's calldata (`migrate(...)`) has run against the deployed
///         wallet.
contract MigratingWallet {
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;

    address public owner;
    uint256 public nonce;

    event Migrated(address indexed from, address indexed to);

    constructor(address owner_) {
        owner = owner_;
    }

    function migrationHash(address newOwner) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, nonce, newOwner));
    }

    function migrate(address newOwner, bytes calldata authorisation) external {
        require(newOwner != address(0), "no new owner");
        address signer = Ecdsa.recoverAt(migrationHash(newOwner), authorisation, 0);
        require(signer == owner && signer != address(0), "not authorised by the owner");
        nonce += 1;
        emit Migrated(owner, newOwner);
        owner = newOwner;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        if (signature.length != 65) return bytes4(0xffffffff);
        address signer = Ecdsa.recoverAt(hash, signature, 0);
        return signer == owner && signer != address(0) ? ERC1271_MAGIC : bytes4(0xffffffff);
    }
}
