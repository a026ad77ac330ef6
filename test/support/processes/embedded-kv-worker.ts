/**
 * One of several processes sharing one embedded store file: increments a shared counter and races for
 * a single-use value, then prints what it got as JSON.
 */
import { systemClock } from "../../../src/lib/clock.ts";
import { EmbeddedKeyValueStore } from "../../../src/storage/embedded/embedded-key-value-store.ts";

const [path, incrementsText] = process.argv.slice(2);
const store = new EmbeddedKeyValueStore(path ?? "", systemClock);
const increments = Number(incrementsText);
let consumed = 0;
let setIfAbsentWins = 0;
for (let index = 0; index < increments; index += 1) {
	await store.increment("counter");
	if ((await store.consume(`ticket-${index}`)) !== null) consumed += 1;
	if (await store.setIfAbsent(`claim-${index}`, String(process.pid))) setIfAbsentWins += 1;
}
await store.close();
process.stdout.write(JSON.stringify({ consumed, setIfAbsentWins }));
