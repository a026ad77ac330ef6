/**
 * The provider signing with the newest keys. oidc-provider takes its keys once, when it is made; after
 * `tollgate identity keys rotate` (run anywhere) or the leased job dropping a retired key, each instance
 * notices within KEY_CHECK_MS, when a request comes, and makes a new provider on the new key set. All its
 * state is in the shared storage, so the swap loses nothing; a request in flight finishes on the old one.
 */
import type { Provider } from "oidc-provider";
import type { Clock } from "#lib/clock";
import type { SigningKeys } from "./signing-keys.ts";

export const KEY_CHECK_MS = 30_000;

interface Serving {
	readonly provider: Provider;
	readonly callback: ReturnType<Provider["callback"]>;
	/** The key set it signs with: kids and states, as stored. */
	readonly keySet: string;
}

export class CurrentProvider {
	readonly #keys: SigningKeys;
	readonly #clock: Clock;
	readonly #build: () => Promise<Provider>;
	#serving: Serving;
	#checkedAtMs: number;
	#checking: Promise<Serving> | null = null;

	private constructor(
		keys: SigningKeys,
		clock: Clock,
		build: () => Promise<Provider>,
		serving: Serving,
	) {
		this.#keys = keys;
		this.#clock = clock;
		this.#build = build;
		this.#serving = serving;
		this.#checkedAtMs = clock.nowMs();
	}

	/** `build` makes a provider on the keys stored now. */
	static async start(
		keys: SigningKeys,
		clock: Clock,
		build: () => Promise<Provider>,
	): Promise<CurrentProvider> {
		const keySet = await keySetOf(keys);
		const provider = await build();
		return new CurrentProvider(keys, clock, build, {
			provider,
			callback: provider.callback(),
			keySet,
		});
	}

	/** The provider to answer with: the one serving, or (every KEY_CHECK_MS, once) one on a changed key set. */
	current(): Serving | Promise<Serving> {
		if (this.#clock.nowMs() - this.#checkedAtMs < KEY_CHECK_MS) return this.#serving;
		this.#checking ??= this.#check().finally(() => {
			this.#checking = null;
		});
		return this.#checking;
	}

	async #check(): Promise<Serving> {
		const keySet = await keySetOf(this.#keys);
		if (keySet !== this.#serving.keySet) {
			const provider = await this.#build();
			this.#serving = { provider, callback: provider.callback(), keySet };
		}
		this.#checkedAtMs = this.#clock.nowMs();
		return this.#serving;
	}
}

async function keySetOf(keys: SigningKeys): Promise<string> {
	return (await keys.list()).map((key) => `${key.kid}:${key.retiredAtMs ?? ""}`).join(" ");
}
