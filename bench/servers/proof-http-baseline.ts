/**
 * The ceiling of an HTTP proof route in Node: raw node:http doing only what POST /generate_pro_proof
 * cannot skip — parse the JSON body, import the two client keys as the service does, verify both
 * signatures, sign a proof over a random tag, answer JSON — with no framework, no ledger read, no
 * logging or metrics. A body with `version` is a legacy v0 request: the same, over BLAKE2b digests.
 * A request whose signatures do not verify gets a 400, which fails the run.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { createServer } from "node:http";
import { publicKeyFromRaw } from "../../src/lib/ed25519.ts";
import {
	generateProProofDigest,
	proofDigest,
} from "../../src/modules/entitlements/legacy-protocol.ts";
import { generateProofMessage, proofMessage } from "../../src/modules/entitlements/protocol.ts";
import { listenAndAnnounce } from "./announce.ts";

interface ProofRequest {
	readonly version?: number;
	readonly master_pkey: string;
	readonly rotating_pkey: string;
	readonly ts: number;
	readonly unix_ts_ms: number;
	readonly master_sig: string;
	readonly rotating_sig: string;
}

const PROOF_LIFETIME_SECONDS = 30 * 86_400;
const backendKey = createPrivateKey(
	generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }),
);

function answer(request: ProofRequest): { status: number; body: string } {
	const masterPkey = Buffer.from(request.master_pkey, "hex");
	const rotatingPkey = Buffer.from(request.rotating_pkey, "hex");
	const isLegacy = request.version !== undefined;
	const message = isLegacy
		? generateProProofDigest(masterPkey, rotatingPkey, request.unix_ts_ms)
		: generateProofMessage(masterPkey, rotatingPkey, request.ts);
	const isSigned =
		verify(
			null,
			message,
			publicKeyFromRaw("Ed25519", masterPkey),
			Buffer.from(request.master_sig, "hex"),
		) &&
		verify(
			null,
			message,
			publicKeyFromRaw("Ed25519", rotatingPkey),
			Buffer.from(request.rotating_sig, "hex"),
		);
	if (!isSigned) return { status: 400, body: JSON.stringify({ status: "fail" }) };
	if (isLegacy) {
		const genIndexHash = randomBytes(32);
		const expiryMs = request.unix_ts_ms + PROOF_LIFETIME_SECONDS * 1_000;
		const proof = proofDigest(genIndexHash, rotatingPkey, expiryMs);
		return {
			status: 200,
			body: JSON.stringify({
				status: 0,
				result: {
					version: 0,
					gen_index_hash: genIndexHash.toString("hex"),
					rotating_pkey: request.rotating_pkey,
					expiry_unix_ts_ms: expiryMs,
					sig: sign(null, proof, backendKey).toString("hex"),
				},
			}),
		};
	}
	const revocationTag = randomBytes(32);
	const expiryTs = request.ts + PROOF_LIFETIME_SECONDS;
	const proof = proofMessage(revocationTag, rotatingPkey, expiryTs);
	return {
		status: 200,
		body: JSON.stringify({
			status: "ok",
			result: {
				revocation_tag: revocationTag.toString("hex"),
				rotating_pkey: request.rotating_pkey,
				expiry_ts: expiryTs,
				sig: sign(null, proof, backendKey).toString("hex"),
			},
		}),
	};
}

const server = createServer((request, response) => {
	const chunks: Buffer[] = [];
	request.on("data", (chunk: Buffer) => chunks.push(chunk));
	request.on("end", () => {
		const { status, body } = answer(JSON.parse(Buffer.concat(chunks).toString("utf8")));
		response.writeHead(status, {
			"content-type": "application/json",
			"content-length": Buffer.byteLength(body),
		});
		response.end(body);
	});
});
listenAndAnnounce(server);
