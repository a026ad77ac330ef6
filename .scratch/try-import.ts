import { mkdtemp, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLegacyBackend, legacyScenario } from "../test/support/legacy-pro-backend.ts";
const dir = await mkdtemp(join(tmpdir(), "try-"));
const b = await createLegacyBackend("postgres", legacyScenario(Date.now()), dir);
await mkdir(join(dir, "t"));
console.log(b.location, join(dir, "t"));
