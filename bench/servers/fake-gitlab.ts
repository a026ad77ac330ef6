/**
 * The connect bench's hub: test/support/fake-gitlab.ts in a process of its own, its OAuth application
 * registered for the Tollgate address given as the second argument, one user (`bench`, id 1) and, for the
 * direct row, that user's personal access token from BENCH_GITLAB_PAT. With BENCH_GITLAB_REPOSITORIES=1 it
 * also keeps repositories, and that user owns one ARC (`bench/bench-arc`, the fake's first project id, 100).
 */
import { FakeGitLab } from "../../test/support/fake-gitlab.ts";

// stdout carries only the announcement (bench/run.ts stops reading it then); oidc-provider's notices go
// to stderr.
console.info = console.error;

const port = Number(process.argv[2] ?? 0);
const tollgate = process.argv[3] ?? "";
const fake = await FakeGitLab.start(port, {
	repositories: process.env.BENCH_GITLAB_REPOSITORIES === "1",
});
fake.addUser({ id: 1, username: "bench", name: "Bench" });
fake.repositories?.addProject({ name: "Bench ARC", ownerId: 1 });
fake.addPersonalAccessToken(1, process.env.BENCH_GITLAB_PAT);
await fake.register({
	clientId: "bench",
	clientSecret: "bench-secret",
	redirectUris: [`${tollgate}/arcmanager/api/v1/auth/callback?datahub=bench`],
});
process.stdout.write(`listening ${new URL(fake.url).port}\n`);
for (const signal of ["SIGTERM", "SIGINT"] as const)
	process.once(signal, () => {
		void fake.close().then(() => process.exit(0));
	});
