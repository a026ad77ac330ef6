/** A POST that sends only the first part of its body, for limits that must answer before the rest arrives. */
import { request as httpRequest } from "node:http";

/** The status the server answers while only `firstChunk` of the body has been sent; the request is then dropped. */
export function statusOfPartialPost(
	target: { readonly port: number; readonly path: string },
	headers: Record<string, string | number>,
	firstChunk: Buffer,
): Promise<number> {
	return new Promise<number>((resolve, reject) => {
		const request = httpRequest(
			{ host: "127.0.0.1", port: target.port, method: "POST", path: target.path, headers },
			(response) => {
				response.resume();
				resolve(response.statusCode ?? 0);
				request.destroy();
			},
		);
		request.on("error", reject);
		request.write(firstChunk);
	});
}
