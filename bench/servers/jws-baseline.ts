/**
 * The ceiling of the provider's token and introspection endpoints in Node: raw node:http doing only the
 * signature each answer cannot skip. POST /token reads the form and signs one RS256 id_token (what a code
 * exchange signs for a client with the default algorithm); POST /introspect reads the form and verifies one
 * RS256 JWT. No client authentication, no storage, no framework, no logging.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from "jose";
import { listenAndAnnounce } from "./announce.ts";

const ISSUER = "http://127.0.0.1";
const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
const verifyKey = await importJWK(await exportJWK(publicKey), "RS256");

const signIdToken = (clientId: string) =>
	new SignJWT({ amr: ["pwd"], at_hash: randomBytes(16).toString("base64url") })
		.setProtectedHeader({ alg: "RS256", kid: "baseline" })
		.setIssuer(ISSUER)
		.setSubject("bench-user")
		.setAudience(clientId)
		.setIssuedAt()
		.setExpirationTime("55m")
		.sign(privateKey);

/** The token introspection verifies: one signed as an API's JWT access token would be. */
const accessToken = await signIdToken("bench-api");

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
	const chunks: Buffer[] = [];
	for await (const chunk of request) chunks.push(chunk as Buffer);
	return new URLSearchParams(Buffer.concat(chunks).toString());
}

const server = createServer(async (request, response) => {
	const form = await formOf(request);
	let body: unknown;
	if (request.url === "/token") {
		body = {
			access_token: randomBytes(32).toString("base64url"),
			expires_in: 3_600,
			id_token: await signIdToken(form.get("client_id") ?? ""),
			scope: "openid",
			token_type: "Bearer",
		};
	} else {
		const { payload } = await jwtVerify(accessToken, verifyKey, { issuer: ISSUER });
		body = { active: true, client_id: payload.aud, sub: payload.sub, exp: payload.exp };
	}
	response.writeHead(200, { "content-type": "application/json; charset=utf-8" });
	response.end(JSON.stringify(body));
});
listenAndAnnounce(server);
