// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ecdsa} from "./Ecdsa.sol";

/// @title Test ERC-1271 wallet with N owners and a threshold (Safe-like).
/// @notice A signature is `threshold` 65-byte ECDSA signatures over the hash, concatenated
///         in strictly ascending order of the signer's address (that ordering is how Safe
///         rules out counting one owner twice). More bytes than that are rejected.
///         An EMPTY signature is valid for a hash that `threshold` owners approved on chain
///         with `approveHash`, like Safe's pre-approved hashes / signMessage flow.
contract MultiOwnerWallet {
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;

    mapping(address => bool) public isOwner;
    uint256 public immutable threshold;
    mapping(bytes32 => uint256) public approvals;
    mapping(bytes32 => mapping(address => bool)) public approvedBy;

    constructor(address[] memory owners, uint256 threshold_) {
        require(threshold_ > 0 && threshold_ <= owners.length, "bad threshold");
        for (uint256 i = 0; i < owners.length; i++) {
            require(owners[i] != address(0) && !isOwner[owners[i]], "bad owner");
            isOwner[owners[i]] = true;
        }
        threshold = threshold_;
    }

    function approveHash(bytes32 hash) external {
        require(isOwner[msg.sender], "not an owner");
        require(!approvedBy[hash][msg.sender], "already approved");
        approvedBy[hash][msg.sender] = true;
        approvals[hash] += 1;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        if (signature.length == 0) {
            return approvals[hash] >= threshold ? ERC1271_MAGIC : bytes4(0xffffffff);
        }
        return _checkOwnerSignatures(hash, signature) ? ERC1271_MAGIC : bytes4(0xffffffff);
    }

    function _checkOwnerSignatures(bytes32 hash, bytes memory sigs) private view returns (bool) {
        if (sigs.length != threshold * 65) return false;
        address previous = address(0);
        for (uint256 i = 0; i < threshold; i++) {
            address signer = Ecdsa.recoverAt(hash, sigs, i * 65);
            if (signer <= previous || !isOwner[signer]) return false;
            previous = signer;
        }
        return true;
    }
}
