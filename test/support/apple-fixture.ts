/**
 * A stand-in for Apple's signing chain, made with the openssl command: a root CA (configured as the
 * trusted root), an intermediate carrying Apple's WWDR marker extension (1.2.840.113635.100.6.2.1) and a
 * leaf carrying the App Store receipt-signing marker (1.2.840.113635.100.6.11.1), all P-256. It signs
 * JWS payloads (ES256, x5c = leaf, intermediate, root) as the App Store does, so the real
 * SignedDataVerifier of @apple/app-store-server-library checks them unchanged.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface AppleFixture {
	/** DER of the root, as Tollgate's config would name Apple's root certificates. */
	readonly rootDer: Buffer;
	readonly rootPath: string;
	sign(payload: object): string;
	/** A chain rooted elsewhere: what a forger could build. */
	signWithUntrustedChain(payload: object): string;
	dispose(): void;
}

function openssl(dir: string, args: string[]): void {
	execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function makeChain(dir: string, name: string) {
	const extensions = join(dir, `${name}.ext`);
	writeFileSync(
		extensions,
		[
			"[intermediate]",
			"basicConstraints = critical, CA:true",
			"keyUsage = critical, keyCertSign, cRLSign",
			"1.2.840.113635.100.6.2.1 = ASN1:NULL",
			"[leaf]",
			"basicConstraints = critical, CA:false",
			"keyUsage = critical, digitalSignature",
			"1.2.840.113635.100.6.11.1 = ASN1:NULL",
		].join("\n"),
	);
	for (const part of ["root", "intermediate", "leaf"])
		openssl(dir, [
			"ecparam",
			"-name",
			"prime256v1",
			"-genkey",
			"-noout",
			"-out",
			`${name}-${part}.key`,
		]);
	openssl(dir, [
		"req",
		"-x509",
		"-new",
		"-key",
		`${name}-root.key`,
		"-subj",
		`/CN=${name} Root CA`,
		"-days",
		"3650",
		"-out",
		`${name}-root.pem`,
		"-addext",
		"basicConstraints=critical,CA:true",
	]);
	for (const [part, issuer] of [
		["intermediate", "root"],
		["leaf", "intermediate"],
	] as const) {
		openssl(dir, [
			"req",
			"-new",
			"-key",
			`${name}-${part}.key`,
			"-subj",
			`/CN=${name} ${part}`,
			"-out",
			`${name}-${part}.csr`,
		]);
		openssl(dir, [
			"x509",
			"-req",
			"-in",
			`${name}-${part}.csr`,
			"-CA",
			`${name}-${issuer}.pem`,
			"-CAkey",
			`${name}-${issuer}.key`,
			"-CAcreateserial",
			"-days",
			"3650",
			"-extfile",
			extensions,
			"-extensions",
			part,
			"-out",
			`${name}-${part}.pem`,
		]);
	}
	const der = (part: string) => {
		openssl(dir, [
			"x509",
			"-in",
			`${name}-${part}.pem`,
			"-outform",
			"DER",
			"-out",
			`${name}-${part}.der`,
		]);
		return readFileSync(join(dir, `${name}-${part}.der`));
	};
	return {
		root: der("root"),
		x5c: [der("leaf"), der("intermediate"), der("root")].map((cert) => cert.toString("base64")),
		leafKey: createPrivateKey(readFileSync(join(dir, `${name}-leaf.key`))),
		rootPath: join(dir, `${name}-root.der`),
	};
}

function signJws(payload: object, key: KeyObject, x5c: string[]): string {
	const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
	const signingInput = `${encode({ alg: "ES256", x5c })}.${encode(payload)}`;
	const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
	return `${signingInput}.${signature.toString("base64url")}`;
}

export function createAppleFixture(): AppleFixture {
	const dir = mkdtempSync(join(tmpdir(), "tollgate-apple-"));
	const trusted = makeChain(dir, "trusted");
	const forged = makeChain(dir, "forged");
	return {
		rootDer: trusted.root,
		rootPath: trusted.rootPath,
		sign: (payload) => signJws(payload, trusted.leafKey, trusted.x5c),
		signWithUntrustedChain: (payload) => signJws(payload, forged.leafKey, forged.x5c),
		dispose: () => rmSync(dir, { recursive: true, force: true }),
	};
}
