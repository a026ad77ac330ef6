/**
 * The app with every module and every optional route switched on — dev routes, App Store notifications,
 * Google Play push (its fakes on loopback), connect and arcs with a hub that is down — for checks that must see
 * every route: /openapi.json coverage and the fuzzer.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppleFixture } from "./apple-fixture.ts";
import { type AppBackend, buildTestAppOn, type TestApp } from "./build-test-app.ts";
import { startFakeGoogle } from "./fake-google.ts";

export const FULL_APP_API_KEY = "fuzz-app-api-key-0123456789";

export interface FullApp {
	readonly testApp: TestApp;
	close(): Promise<void>;
}

export async function buildFullApp(
	backend: AppBackend = { name: "SQLite", skip: false, isDev: true },
	overrides: Record<string, unknown> = {},
): Promise<FullApp> {
	const directory = await mkdtemp(join(tmpdir(), "tollgate-full-app-"));
	const apple = createAppleFixture();
	const google = await startFakeGoogle({ directory });
	const testApp = await buildTestAppOn(backend, {
		...overrides,
		sessions: { ...(overrides.sessions ?? {}), app_api_keys: [FULL_APP_API_KEY] },
		connect: {
			enabled: true,
			public_url: "http://127.0.0.1:8080",
			allow_http_hubs: true,
			// Nothing listens on port 9 (discard): logins answer "DataHUB not available", calls 504.
			hubs: {
				tuebingen: { issuer: "http://127.0.0.1:9", client_id: "id", client_secret: "secret" },
			},
		},
		// Swate, the template registry and the hub all down: nothing a check sends leaves this machine.
		arcs: {
			enabled: true,
			swate_url: "http://127.0.0.1:9",
			swate_legacy_url: "http://127.0.0.1:9",
			template_registry_url: "http://127.0.0.1:9",
		},
		entitlements: {
			enabled: true,
			apple_bundle_id: "com.loki-project.loki-messenger",
			apple_environment: "Sandbox",
			apple_root_certificates: [apple.rootPath],
			apple_online_checks: false,
			google_package_name: google.packageName,
			google_service_account_file: google.serviceAccountFile,
			google_push_audience: `${google.url}/push`,
			google_push_service_account: google.pushServiceAccount,
			google_play_api_url: `${google.url}/`,
			google_oidc_certs_url: `${google.url}/oauth2/v3/certs`,
		},
	});
	return {
		testApp,
		close: async () => {
			await testApp.close();
			await google.close();
			apple.dispose();
			await rm(directory, { recursive: true, force: true });
		},
	};
}
