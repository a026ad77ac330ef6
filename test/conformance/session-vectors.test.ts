/** The cookie codecs against vectors computed by openssl (test/vectors/sessions.json). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
	rememberVerified,
	restyCodec,
	restySignature,
	v1Codec,
} from "../../src/modules/sessions/edge-contract.ts";

const vectors = JSON.parse(
	readFileSync(new URL("../vectors/sessions.json", import.meta.url), "utf8"),
) as {
	resty: { secret: string; salt: string; sid: string; signature: string; cookie: string }[];
	v1: { secret: string; id: string; tag: string; session_id: string; cookie: string }[];
};

describe("resty format (flask-resty-shared-session / itsdangerous hmac key derivation)", () => {
	it.each(vectors.resty)(
		"signs sid with secret '$secret' and salt '$salt' as openssl does",
		(vector) => {
			expect(restySignature(vector.secret, vector.salt, vector.sid)).toBe(vector.signature);
			expect(vector.cookie).toHaveLength(64);
			expect(restyCodec(vector.secret, vector.salt).verify(vector.cookie)).toEqual({
				value: vector.cookie,
				sessionId: vector.sid,
				storedSignature: vector.signature,
			});
		},
	);

	it("refuses a cookie signed with another secret or salt, and every malformed shape", () => {
		const [vector] = vectors.resty;
		if (vector === undefined) throw new Error("no vector");
		expect(restyCodec("other secret", vector.salt).verify(vector.cookie)).toBeNull();
		expect(restyCodec(vector.secret, "other salt").verify(vector.cookie)).toBeNull();
		const codec = restyCodec(vector.secret, vector.salt);
		for (const cookie of [
			vector.cookie.slice(0, 63),
			`${vector.cookie}x`,
			`${vector.sid}:${vector.signature}`,
			`${vector.sid.toUpperCase()}.${vector.signature}`,
			`${vector.sid}.${vector.signature.slice(0, 26)}A`,
			"",
		]) {
			expect(codec.verify(cookie), cookie).toBeNull();
		}
	});

	it("issues 64-character cookies that verify and name a uuid4", () => {
		const codec = restyCodec("fishes", "app_session_salt");
		const issued = codec.issue();
		expect(issued.value).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{27}$/);
		expect(codec.verify(issued.value)?.sessionId).toBe(issued.sessionId);
	});
});

describe("v1 format (HMAC-SHA256 tag, keys named by the hashed id)", () => {
	it.each(vectors.v1)(
		"verifies the openssl vector and names its keys by SHA-256 of the id",
		(vector) => {
			expect(v1Codec(vector.secret).verify(vector.cookie)).toEqual({
				value: vector.cookie,
				sessionId: vector.session_id,
				storedSignature: null,
			});
		},
	);

	it("refuses another secret, a flipped tag bit and a resty cookie", () => {
		const [vector] = vectors.v1;
		if (vector === undefined) throw new Error("no vector");
		expect(v1Codec("another-secret-0000000000").verify(vector.cookie)).toBeNull();
		const flipped = `${vector.cookie.slice(0, -1)}${vector.cookie.endsWith("M") ? "N" : "M"}`;
		expect(v1Codec(vector.secret).verify(flipped)).toBeNull();
		expect(v1Codec(vector.secret).verify(vectors.resty[0]?.cookie ?? "")).toBeNull();
	});
});

describe("remembering verified cookies", () => {
	it("answers like the codec it wraps, for valid and forged cookies alike, however often asked", () => {
		const [vector] = vectors.v1;
		if (vector === undefined) throw new Error("no vector");
		const codec = rememberVerified(v1Codec(vector.secret), 2);
		const forged = `${vector.cookie.slice(0, -1)}${vector.cookie.endsWith("M") ? "N" : "M"}`;
		for (let round = 0; round < 3; round += 1) {
			expect(codec.verify(vector.cookie)?.sessionId).toBe(vector.session_id);
			expect(codec.verify(forged)).toBeNull();
		}
	});

	it("keeps at most the given number of cookies, dropping the oldest", () => {
		const codec = rememberVerified(v1Codec("remember-test-secret-000"), 2);
		const cookies = [codec.issue(), codec.issue(), codec.issue()].map((issued) => issued.value);
		for (const cookie of cookies) expect(codec.verify(cookie)).not.toBeNull();
		expect(cookies.every((cookie) => codec.verify(cookie) !== null)).toBe(true);
	});
});
