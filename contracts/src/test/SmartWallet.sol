// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ecdsa} from "./Ecdsa.sol";

/// @title Test smart wallet with Coinbase-Smart-Wallet-shaped signatures.
/// @notice A signature is `abi.encode(SignatureWrapper(ownerIndex, signatureData))`, a long
///         ABI blob that is never 65 bytes. Real passkey wallets put a WebAuthn assertion
///         (P-256) in `signatureData`; here it is `abi.encode(bytes authenticatorData,
///         string clientDataJSON, bytes ecdsaSignature)` with the ECDSA signature over the
///         hash itself, and the other two fields only carried along. What matters for the
///         verifier is that such signatures reach `isValidSignature` byte for byte.
///         Deployed counterfactually by `SmartWalletFactory` (CREATE2).
contract SmartWallet {
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;

    struct SignatureWrapper {
        uint256 ownerIndex;
        bytes signatureData;
    }

    address[] public owners;

    constructor(address owner) {
        owners.push(owner);
    }

    /// @notice Key rotation, so tests can show that a deployed wallet's live owners decide.
    function addOwner(address owner) external {
        require(_isOwner(msg.sender), "not an owner");
        owners.push(owner);
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        SignatureWrapper memory wrapper = abi.decode(signature, (SignatureWrapper));
        require(wrapper.ownerIndex < owners.length, "no such owner");
        (,, bytes memory ecdsaSignature) =
            abi.decode(wrapper.signatureData, (bytes, string, bytes));
        if (ecdsaSignature.length != 65) return bytes4(0xffffffff);
        address signer = Ecdsa.recoverAt(hash, ecdsaSignature, 0);
        return signer == owners[wrapper.ownerIndex] && signer != address(0)
            ? ERC1271_MAGIC
            : bytes4(0xffffffff);
    }

    function ownerCount() external view returns (uint256) {
        return owners.length;
    }

    function _isOwner(address who) private view returns (bool) {
        for (uint256 i = 0; i < owners.length; i++) {
            if (owners[i] == who) return true;
        }
        return false;
    }
}

/// @title CREATE2 factory for SmartWallet, the `create2Factory` of ERC-6492 wrappers.
/// @notice `createAccount` is idempotent (returns the existing wallet) like the factories
///         of real smart wallets, so re-running a 6492 wrapper's calldata is harmless.
contract SmartWalletFactory {
    event AccountCreated(address indexed account, address indexed owner, uint256 salt);

    function createAccount(address owner, uint256 salt) external returns (address account) {
        account = getAddress(owner, salt);
        if (account.code.length > 0) return account;
        SmartWallet created = new SmartWallet{salt: bytes32(salt)}(owner);
        require(address(created) == account, "address mismatch");
        emit AccountCreated(account, owner, salt);
    }

    function getAddress(address owner, uint256 salt) public view returns (address) {
        bytes32 initCodeHash =
            keccak256(abi.encodePacked(type(SmartWallet).creationCode, abi.encode(owner)));
        return address(
            uint160(
                uint256(
                    keccak256(abi.encodePacked(bytes1(0xff), address(this), bytes32(salt), initCodeHash))
                )
            )
        );
    }
}
