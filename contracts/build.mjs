// Compiles contracts/src with solc-js (offline) and writes the JSON artifacts that
// walletauth and its tests load at run time, so neither needs Node or a compiler.
//
//   cd contracts && npm ci && node build.mjs
//
// The validator (runtime code of the library) goes into the Python package; the test
// wallets go next to the tests. Every artifact records the sha256 of each source it was
// built from; tests/siwe/test_contract_artifacts.py fails when a source changes without
// a rebuild.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const srcDir = join(here, "src");

// Paris: no PUSH0 (Shanghai) and no MCOPY/TSTORE (Cancun), so the validator's bytecode
// runs on every post-merge EVM chain a deployment may point at, L2s included; py-evm
// (eth-tester's Prague VM) runs it too.
const EVM_VERSION = "paris";

// Where each contract's artifact goes (contract name -> directory relative to repo).
const TARGETS = {
  ERC6492Validator: "walletauth/siwe/_artifacts",
  MultiOwnerWallet: "tests/siwe/contracts",
  SmartWallet: "tests/siwe/contracts",
  SmartWalletFactory: "tests/siwe/contracts",
  RevertingWallet: "tests/siwe/contracts",
  RawResponseWallet: "tests/siwe/contracts",
  MigratingWallet: "tests/siwe/contracts",
};

function listSources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listSources(path);
    return name.endsWith(".sol") ? [path] : [];
  });
}

const sources = Object.fromEntries(
  listSources(srcDir)
    .sort()
    .map((path) => [relative(srcDir, path), { content: readFileSync(path, "utf8") }]),
);

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: 200 },
    // No metadata hash in the bytecode: artifacts then change only when code does.
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "metadata"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
let written = 0;
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, compiled] of Object.entries(contracts)) {
    const target = TARGETS[name];
    if (target === undefined) continue; // libraries and helpers are inlined
    const usedSources = Object.keys(JSON.parse(compiled.metadata).sources).sort();
    const artifact = {
      contractName: name,
      source: `contracts/src/${file}`,
      compiler: `solc-js ${solc.version()}`,
      evmVersion: EVM_VERSION,
      sourceSha256: Object.fromEntries(
        usedSources.map((s) => [`contracts/src/${s}`, sha256(sources[s].content)]),
      ),
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
    };
    const outDir = join(repo, target);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
    written += 1;
    console.log(`${target}/${name}.json  ${compiled.evm.bytecode.object.length / 2} bytes`);
  }
}
const missing = Object.keys(TARGETS).length - written;
if (missing !== 0) {
  console.error(`expected ${Object.keys(TARGETS).length} artifacts, wrote ${written}`);
  process.exit(1);
}
