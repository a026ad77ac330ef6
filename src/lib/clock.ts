/** Injected time source: production reads the system clock, tests freeze and advance it. */
export interface Clock {
	nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
	#nowMs: number;

	constructor(startMs = Date.UTC(2026, 0, 1)) {
		this.#nowMs = startMs;
	}

	nowMs(): number {
		return this.#nowMs;
	}

	advanceMs(deltaMs: number): void {
		this.#nowMs += deltaMs;
	}
}
