/**
 * The cost floor of POST /generate_pro_proof: two Ed25519 verifies (master and rotating signatures) and
 * one sign (the proof) with node:crypto, in a loop for `seconds`, on key objects made beforehand (the
 * server imports the two client keys on every request; the floor does not). Prints ops/s as JSON (no
 * latency: a loop has no requests).
 */
import { createPrivateKey, generateKeyPairSync, sign, verify } from "node:crypto";

const seconds = Number(process.argv[2] ?? 5);
const master = generateKeyPairSync("ed25519");
const rotating = generateKeyPairSync("ed25519");
const backend = createPrivateKey(
	generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }),
);
const message = Buffer.alloc(16 + 32 + 32 + 10, 7);
const masterSig = sign(null, message, master.privateKey);
const rotatingSig = sign(null, message, rotating.privateKey);

let operations = 0;
const startedAt = performance.now();
const deadline = startedAt + seconds * 1_000;
while (performance.now() < deadline) {
	for (let batch = 0; batch < 100; batch += 1) {
		if (
			!verify(null, message, master.publicKey, masterSig) ||
			!verify(null, message, rotating.publicKey, rotatingSig)
		)
			throw new Error("a signature did not verify");
		sign(null, message, backend);
		operations += 1;
	}
}
const elapsedSeconds = (performance.now() - startedAt) / 1_000;
process.stdout.write(
	JSON.stringify({ requestsPerSecond: operations / elapsedSeconds, p50Ms: 0, p99Ms: 0 }),
);
