import { defineConfig } from "vitest/config";

const shared = {
	globalSetup: ["test/support/global-setup.ts"],
	testTimeout: 20_000,
	hookTimeout: 30_000,
};

export default defineConfig({
	test: {
		sequence: { shuffle: process.env.CI === "true" },
		projects: [
			{ test: { ...shared, name: "unit", include: ["src/**/*.test.ts"] } },
			{ test: { ...shared, name: "conformance", include: ["test/conformance/**/*.test.ts"] } },
			{ test: { ...shared, name: "integration", include: ["test/integration/**/*.test.ts"] } },
		],
	},
});
