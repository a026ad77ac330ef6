// blake2b-wasm ships no types; this declares the part Tollgate uses.
declare module "blake2b-wasm" {
	interface Blake2bState {
		update(input: Uint8Array): Blake2bState;
		digest(): Uint8Array;
		digest(out: "binary"): Uint8Array;
	}
	interface Blake2bFactory {
		(
			digestLength: number,
			key?: Uint8Array | null,
			salt?: Uint8Array | null,
			personal?: Uint8Array | null,
		): Blake2bState;
		ready(): Promise<void>;
		readonly SUPPORTED: boolean;
	}
	const blake2b: Blake2bFactory;
	export default blake2b;
}
